package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Reconciliation;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Keeps nginx-upsync upstreams in a registry equal to the ready pods: registers a pod when it is
 * desired online, drains it ({@code down:1}) when it stops being so and deletes it after the drain
 * delay, never deleting the last server of an upstream. A reconcile pass at start (after the
 * initial list) and every period repairs drift and removes orphans this daemon owns, holding mass
 * removals until a second pass confirms them.
 *
 * <p>Thread rules: queue workers and the sink's scheduler (drain timers, reconcile) touch an
 * upstream only under that upstream's lock, and re-read the pod cache under it, so a late timer
 * or an old reconcile snapshot can never remove a server that is wanted again.
 */
public class UpstreamSink implements Sink {

  private static final int REPAIR_BATCH = 64;
  private static final Pattern UPSTREAM = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?");
  private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

  /** An upstream server: which upstream, which address, for which cluster. */
  record Server(String cluster, String upstream, String address) {}

  private final SinkContext context;
  private final UpstreamRegistry registry;
  private final UpstreamConfig config;
  private final System.Logger log;
  /** Per upstream: writes of single servers share it, deletions (which check "not the last one") take it alone. */
  private final java.util.concurrent.locks.ReentrantReadWriteLock[] upstreamLocks = new java.util.concurrent.locks.ReentrantReadWriteLock[64];
  /** Per server: one write at a time for one address. */
  private final java.util.concurrent.locks.ReentrantLock[] serverLocks = new java.util.concurrent.locks.ReentrantLock[256];
  private final ScheduledExecutorService scheduler;
  private final Map<Server, ScheduledFuture<?>> draining = new ConcurrentHashMap<>();
  private final Set<Server> heldLast = ConcurrentHashMap.newKeySet();
  /** Servers this sink knows are up (down:0) in the registry, by upstream: lets most deletions skip a listing. */
  private final Map<String, Set<Server>> up = new ConcurrentHashMap<>();
  /** Orphans a reconcile pass wanted to remove but held: removed only if the next pass wants them too. */
  private volatile Set<Server> heldMassRemoval = Set.of();
  private volatile long lastReconcileMillis;
  private final SinkMetrics.Counter written;
  private final SinkMetrics.Counter drained;
  private final SinkMetrics.Counter deleted;
  private final SinkMetrics.Counter held;
  private final SinkMetrics.Counter conflicts;
  private final SinkMetrics.Counter rejected;
  private final SinkMetrics.Counter deleteRetries;
  private final SinkMetrics.Counter deletesMissed;
  private final Reconciliation reconciliation;

  public UpstreamSink(SinkContext context, UpstreamRegistry registry, UpstreamConfig config) {
    this.context = context;
    this.registry = registry;
    this.config = config;
    this.log = context.logger();
    for (int i = 0; i < upstreamLocks.length; i++) {
      upstreamLocks[i] = new java.util.concurrent.locks.ReentrantReadWriteLock();
    }
    for (int i = 0; i < serverLocks.length; i++) {
      serverLocks[i] = new java.util.concurrent.locks.ReentrantLock();
    }
    this.scheduler = Reconciliation.scheduler(context, "upstream");
    this.reconciliation = new Reconciliation(context);
    SinkMetrics m = context.metrics();
    written = m.counter("upstream_entries_written_total", "Upstream servers written (registered or updated)");
    drained = m.counter("upstream_entries_drained_total", "Upstream servers set to down:1");
    deleted = m.counter("upstream_entries_deleted_total", "Upstream servers deleted after draining");
    held = m.counter("upstream_removals_held_total", "Removals held back, by reason (last_server, mass_removal)", "reason");
    conflicts = m.counter("upstream_foreign_entries_total", "Writes refused because the key belongs to someone else");
    rejected = m.counter("upstream_entries_rejected_total", "Pods not registered, by reason (not_ipv4: upsync keys must be IPv4:port)", "reason");
    deleteRetries = m.counter("upstream_delete_retries_total", "Deletions of drained servers that failed and were scheduled again");
    deletesMissed = m.counter("upstream_deletes_missed_total",
        "Deletions that removed nothing: the entry was gone, not ours, or changed meanwhile (a lost check-and-set)");
  }

  @Override
  public void start() {
    if (context.dryRun()) {
      // Reconcile writes; in dry-run the sink only says what its changes would do.
      log.log(Level.INFO, "dry-run: reconcile is off for sink {0}", context.name());
      return;
    }
    long every = config.reconcileEvery().toMillis();
    Runnable pass = () -> {
      if (context.pods().synced()) {
        reconcileSafely();
      }
    };
    if (every > 0) {
      scheduler.scheduleWithFixedDelay(pass, 200, every, TimeUnit.MILLISECONDS);
    } else {
      // Only once, as soon as the initial list is complete.
      scheduler.scheduleWithFixedDelay(() -> {
        if (lastReconcileMillis == 0) {
          pass.run();
        }
      }, 200, 500, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    for (PodChange c : batch) {
      applyOne(c);
    }
  }

  private void applyOne(PodChange change) throws SinkException {
    PodState after = change.after();
    Server old = serverToRemove(change);
    SinkException refused = null;
    if (context.desiredOnline(after)) {
      if (!ipv4(after)) {
        rejected.inc("not_ipv4");
        log.log(Level.WARNING, "not registered: nginx-upsync needs an IPv4 address and this pod has another: sink={0} pod={1} uid={2}",
            context.name(), after.key(), after.uid());
      } else {
        try {
          Server s = server(after);
          try (Held h = shared(s)) {
            register(s, entryOf(after, false));
          }
        } catch (SinkException e) {
          if (e.retriable() || old == null) {
            throw e;
          }
          // Refused for good at its new server: the pod still leaves its old one.
          refused = e;
        }
      }
    }
    if (old != null) {
      try (Held h = shared(old)) {
        if (!wanted(old)) {
          drain(old, entryOf(change.before(), true));
        }
      }
    }
    if (refused != null) {
      throw refused;
    }
  }

  /**
   * The server this change takes the pod off, or null: its old address (the shared rule), or its
   * old upstream when a new service or template value moved it to another upstream at the same address.
   */
  private Server serverToRemove(PodChange change) {
    PodState before = change.before();
    if (!context.desiredOnline(before) || !ipv4(before)) {
      return null; // not online before, or rejected: nothing was written
    }
    Server was;
    try {
      was = server(before);
    } catch (SinkException e) {
      return null; // an invalid upstream name was never written
    }
    if (Registration.addressToRemove(change, context.selector()) != null) {
      return was;
    }
    try {
      return was.equals(server(change.after())) ? null : was;
    } catch (SinkException e) {
      return was; // the new upstream name is invalid: the pod is wanted in no upstream
    }
  }

  /** nginx-upsync reads a server key's last segment as IPv4:port; any other address would break the upstream. */
  private static boolean ipv4(PodState p) {
    return p.ip() != null && IPV4.matcher(p.ip()).matches();
  }

  private void register(Server s, UpsyncEntry entry) throws SinkException {
    ScheduledFuture<?> timer = draining.remove(s);
    if (timer != null) {
      timer.cancel(false);
    }
    heldLast.remove(s);
    if (!registry.put(s.cluster(), s.upstream(), s.address(), entry)) {
      conflicts.inc();
      throw SinkException.fatal("key " + s.upstream() + "/" + s.address() + " exists and was not written by k8s-sync for cluster "
          + s.cluster() + "; left untouched", null);
    }
    written.inc();
    markUp(s, !entry.down());
    // A new server makes room for servers kept only because they were the last one.
    for (Server h : new ArrayList<>(heldLast)) {
      if (h.upstream().equals(s.upstream())) {
        scheduler.execute(() -> {
          if (heldLast.contains(h)) { // not already freed by an earlier registration
            finishDrain(h);
          }
        });
      }
    }
  }

  private void drain(Server s, UpsyncEntry downEntry) throws SinkException {
    if (!registry.put(s.cluster(), s.upstream(), s.address(), downEntry)) {
      conflicts.inc();
      log.log(Level.WARNING, "drain left {0}/{1} alone: the key was not written by k8s-sync for cluster {2}: sink={3}",
          s.upstream(), s.address(), s.cluster(), context.name());
      return;
    }
    markUp(s, false);
    drained.inc();
    log.log(Level.INFO, "draining: sink={0} upstream={1} server={2} deleteInMs={3}",
        context.name(), s.upstream(), s.address(), config.drainDelay().toMillis());
    scheduleDeletion(s, config.drainDelay().toMillis());
  }

  private void scheduleDeletion(Server s, long delayMillis) {
    ScheduledFuture<?> prior = draining.put(s, scheduler.schedule(() -> finishDrain(s), delayMillis, TimeUnit.MILLISECONDS));
    if (prior != null) {
      prior.cancel(false);
    }
  }

  /**
   * Deletes a drained server unless it is wanted again or is the last of its upstream. When this
   * sink knows another server of the upstream is up, the deletion only shares the upstream's lock
   * (that server cannot disappear without first being drained, and its own deletion would then wait
   * for this one); otherwise it takes the upstream alone and counts the servers in the registry.
   */
  void finishDrain(Server s) {
    draining.remove(s);
    try {
      try (Held h = shared(s)) {
        if (wanted(s)) {
          heldLast.remove(s);
          return;
        }
        if (hasOtherUp(s)) {
          delete(s);
          return;
        }
      }
      try (Held h = exclusive(s.upstream())) {
        if (wanted(s)) {
          heldLast.remove(s);
          return;
        }
        if (!hasOtherUp(s) && registry.countServers(s.upstream()) <= 1) {
          if (heldLast.add(s)) {
            held.inc("last_server");
            log.log(Level.WARNING, "kept as the last server of its upstream, with down:1, until another registers: sink={0} upstream={1} server={2}",
                context.name(), s.upstream(), s.address());
          }
          return;
        }
        delete(s);
      }
    } catch (SinkException | RuntimeException e) {
      deleteRetries.inc();
      log.log(Level.WARNING, "deleting a drained server failed, trying again later: sink=" + context.name()
          + " upstream=" + s.upstream() + " server=" + s.address() + " error=" + e.getMessage());
      scheduleDeletion(s, Math.max(1000, config.drainDelay().toMillis()));
    }
  }

  private void delete(Server s) throws SinkException {
    heldLast.remove(s);
    markUp(s, false);
    if (registry.delete(s.cluster(), s.upstream(), s.address())) {
      deleted.inc();
      log.log(Level.INFO, "deleted drained server: sink={0} upstream={1} server={2}", context.name(), s.upstream(), s.address());
    } else {
      deletesMissed.inc();
      log.log(Level.WARNING, "deleting a drained server removed nothing (gone, not ours, or changed meanwhile); reconcile looks again: "
          + "sink={0} upstream={1} server={2}", context.name(), s.upstream(), s.address());
    }
  }

  private boolean hasOtherUp(Server s) {
    Set<Server> servers = up.get(s.upstream());
    return servers != null && servers.stream().anyMatch(o -> !o.equals(s));
  }

  private void markUp(Server s, boolean isUp) {
    if (isUp) {
      up.computeIfAbsent(s.upstream(), u -> ConcurrentHashMap.newKeySet()).add(s);
    } else {
      Set<Server> servers = up.get(s.upstream());
      if (servers != null) {
        servers.remove(s);
      }
    }
  }

  /** True when a cached pod is desired online at this server right now. */
  private boolean wanted(Server s) {
    String ip = s.address().substring(0, s.address().lastIndexOf(':'));
    for (PodState p : context.pods().podsWithIp(ip)) {
      if (p.cluster().equals(s.cluster()) && s.address().equals(p.address()) && context.desiredOnline(p) && ipv4(p)) {
        try {
          if (upstreamOf(p).equals(s.upstream())) {
            return true;
          }
        } catch (SinkException e) {
          // a pod whose upstream name is invalid is never wanted anywhere
        }
      }
    }
    return false;
  }

  private void reconcileSafely() {
    if (reconciliation.runSafely(this::reconcile)) {
      lastReconcileMillis = System.currentTimeMillis();
    }
  }

  /** One pass: list the registry first, then read the pods, so a registration in between is never taken for an orphan. */
  void reconcile() throws SinkException {
    Set<String> clusters = context.clusters();
    Map<String, Map<String, Map<String, UpsyncEntry>>> actual = registry.listOwned(clusters);
    Map<Server, UpsyncEntry> desired = new HashMap<>();
    for (PodState p : context.pods().pods(clusters)) {
      if (context.desiredOnline(p) && ipv4(p)) {
        try {
          desired.put(server(p), entryOf(p, false));
        } catch (SinkException e) {
          // counted when the change was applied
        }
      }
    }
    Map<Server, UpsyncEntry> owned = new HashMap<>();
    actual.forEach((cluster, ups) -> ups.forEach((up, servers) -> servers.forEach((addr, e) ->
        owned.put(new Server(cluster, up, addr), e))));

    SinkException firstFailure = null;
    owned.forEach((srv, e) -> {
      if (!e.down() && desired.containsKey(srv)) {
        markUp(srv, true);
      }
    });
    List<Server> repairs = new ArrayList<>();
    for (Map.Entry<Server, UpsyncEntry> d : desired.entrySet()) {
      UpsyncEntry have = owned.get(d.getKey());
      if (have == null || !have.equals(d.getValue())) {
        reconciliation.drift(have == null ? "missing" : "changed");
        repairs.add(d.getKey());
      }
    }
    // Repairs go in batches (one registry transaction each), with every server of the batch
    // locked and re-checked against the cache, so a drain racing the pass is never undone.
    for (int from = 0; from < repairs.size(); from += REPAIR_BATCH) {
      List<Server> chunk = repairs.subList(from, Math.min(repairs.size(), from + REPAIR_BATCH));
      try (Held h = sharedAll(chunk)) {
        List<UpstreamRegistry.Write> writes = new ArrayList<>();
        for (Server s : chunk) {
          if (wanted(s)) {
            writes.add(new UpstreamRegistry.Write(s.cluster(), s.upstream(), s.address(), desired.get(s)));
          }
        }
        List<UpstreamRegistry.Write> refused = registry.putAll(writes);
        for (UpstreamRegistry.Write w : writes) {
          Server s = new Server(w.cluster(), w.upstream(), w.address());
          if (refused.contains(w)) {
            // A foreign key at our address must not stop the repair of the others.
            conflicts.inc();
            log.log(Level.WARNING, "reconcile left {0}/{1} alone: the key was not written by k8s-sync for cluster {2}",
                w.upstream(), w.address(), w.cluster());
          } else {
            written.inc();
            markUp(s, true);
            ScheduledFuture<?> timer = draining.remove(s);
            if (timer != null) {
              timer.cancel(false);
            }
          }
        }
      } catch (SinkException e) {
        log.log(Level.WARNING, "reconcile could not write a batch of {0}: sink={1} error={2}", chunk.size(), context.name(), e.getMessage());
        if (e.retriable() && firstFailure == null) {
          firstFailure = e;
        }
      }
    }

    Map<String, List<Server>> orphansByUpstream = new HashMap<>();
    Map<String, Integer> ownedByUpstream = new HashMap<>();
    for (Map.Entry<Server, UpsyncEntry> o : owned.entrySet()) {
      ownedByUpstream.merge(o.getKey().upstream(), 1, Integer::sum);
      if (!desired.containsKey(o.getKey()) && !draining.containsKey(o.getKey())) {
        orphansByUpstream.computeIfAbsent(o.getKey().upstream(), u -> new ArrayList<>()).add(o.getKey());
      }
    }
    Set<Server> nextHeld = new HashSet<>();
    for (Map.Entry<String, List<Server>> e : orphansByUpstream.entrySet()) {
      List<Server> orphans = e.getValue();
      int total = ownedByUpstream.get(e.getKey());
      boolean mass = orphans.size() > 1 && orphans.size() > config.massRemovalShare() * total;
      for (Server s : orphans) {
        reconciliation.drift("orphan");
        if (mass && !heldMassRemoval.contains(s)) {
          nextHeld.add(s);
          continue;
        }
        try {
          boolean finish = false;
          try (Held h = shared(s)) {
            if (!wanted(s)) {
              UpsyncEntry e0 = owned.get(s);
              if (!e0.down()) {
                drain(s, e0.withDown(true));
              } else if (heldLast.contains(s)) {
                finish = true; // its drain delay is over: only the last-server rule keeps it
              } else {
                // Down when this process found it (a restart mid-drain): how long is unknown, so it gets a whole drain delay.
                log.log(Level.INFO, "found draining: sink={0} upstream={1} server={2} deleteInMs={3}",
                    context.name(), s.upstream(), s.address(), config.drainDelay().toMillis());
                scheduleDeletion(s, config.drainDelay().toMillis());
              }
            }
          }
          if (finish) {
            finishDrain(s);
          }
        } catch (SinkException ex) {
          log.log(Level.WARNING, "reconcile could not drain {0}/{1}: sink={2} error={3}",
              s.upstream(), s.address(), context.name(), ex.getMessage());
          if (ex.retriable() && firstFailure == null) {
            firstFailure = ex;
          }
        }
      }
      if (mass) {
        long newlyHeld = orphans.stream().filter(nextHeld::contains).count();
        if (newlyHeld > 0) {
          held.inc("mass_removal");
          log.log(Level.WARNING, "reconcile would remove {0} of {1} servers of upstream {2}: held until the next pass confirms: sink={3}",
              orphans.size(), total, e.getKey(), context.name());
        }
      }
    }
    heldMassRemoval = Set.copyOf(nextHeld);
    if (firstFailure != null) {
      throw firstFailure;
    }
  }

  Server server(PodState p) throws SinkException {
    return new Server(p.cluster(), upstreamOf(p), p.address());
  }

  private String upstreamOf(PodState p) throws SinkException {
    String name;
    try {
      name = config.upstream().render(p, v -> v);
    } catch (RuntimeException e) {
      throw SinkException.fatal("upstream name of " + p.key() + " cannot be built", e);
    }
    if (!UPSTREAM.matcher(name).matches() || name.contains("..")) {
      throw SinkException.fatal("upstream name of " + p.key() + " is not [A-Za-z0-9._-] (from template "
          + config.upstream() + ")", null);
    }
    return name;
  }

  private UpsyncEntry entryOf(PodState p, boolean down) {
    Map<String, String> o = p.options();
    return new UpsyncEntry(p.weight(),
        o.containsKey("max-fails") ? Integer.parseInt(o.get("max-fails")) : config.maxFails(),
        o.containsKey("fail-timeout") ? Integer.parseInt(o.get("fail-timeout")) : config.failTimeout(),
        down, "1".equals(o.get("backup")));
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    List<String> out = new ArrayList<>();
    for (PodChange c : batch) {
      if (context.desiredOnline(c.after())) {
        try {
          if (!ipv4(c.after())) {
            out.add("reject " + c.key() + ": not an IPv4 address");
          } else {
            Server s = server(c.after());
            out.add("put " + s.upstream() + "/" + s.address() + " " + entryOf(c.after(), false).toJson());
          }
        } catch (SinkException e) {
          out.add("reject " + c.key() + ": " + e.getMessage());
        }
      }
      Server old = serverToRemove(c);
      if (old != null) {
        out.add("drain " + old.upstream() + "/" + old.address() + " (down:1, delete after " + config.drainDelay().toMillis() + "ms)");
      }
    }
    return out;
  }

  /** A held lock, released by try-with-resources. */
  private interface Held extends AutoCloseable {
    @Override
    void close();
  }

  private java.util.concurrent.locks.ReentrantReadWriteLock upstreamLock(String upstream) {
    return upstreamLocks[Math.floorMod(upstream.hashCode(), upstreamLocks.length)];
  }

  /** For writing one server: shares the upstream with other writers, excludes deletions. */
  private Held shared(Server s) {
    java.util.concurrent.locks.Lock read = upstreamLock(s.upstream()).readLock();
    read.lock();
    java.util.concurrent.locks.ReentrantLock server =
        serverLocks[Math.floorMod((s.upstream() + '/' + s.address()).hashCode(), serverLocks.length)];
    server.lock();
    return () -> {
      server.unlock();
      read.unlock();
    };
  }

  /** Shared locks for many servers, taken in one global order so two batches cannot deadlock. */
  private Held sharedAll(List<Server> servers) {
    java.util.TreeSet<Integer> ups = new java.util.TreeSet<>();
    java.util.TreeSet<Integer> srv = new java.util.TreeSet<>();
    for (Server s : servers) {
      ups.add(Math.floorMod(s.upstream().hashCode(), upstreamLocks.length));
      srv.add(Math.floorMod((s.upstream() + '/' + s.address()).hashCode(), serverLocks.length));
    }
    List<java.util.concurrent.locks.Lock> taken = new ArrayList<>();
    for (int i : ups) {
      java.util.concurrent.locks.Lock l = upstreamLocks[i].readLock();
      l.lock();
      taken.add(l);
    }
    for (int i : srv) {
      serverLocks[i].lock();
      taken.add(serverLocks[i]);
    }
    return () -> {
      for (int i = taken.size() - 1; i >= 0; i--) {
        taken.get(i).unlock();
      }
    };
  }

  /** For deleting: nobody else touches the upstream meanwhile, so "not the last server" stays true. */
  private Held exclusive(String upstream) {
    java.util.concurrent.locks.Lock write = upstreamLock(upstream).writeLock();
    write.lock();
    return write::unlock;
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    registry.close();
  }
}

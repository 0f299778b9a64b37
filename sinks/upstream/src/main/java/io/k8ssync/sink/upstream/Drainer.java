package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Takes servers out of their upstream in two steps: {@code down:1} at once, deletion after the
 * drain delay, never deleting the last server of an upstream (it stays {@code down:1} until
 * another server registers). Owns the drain timers and the servers held as last ones, per cluster:
 * when this replica stops leading a cluster, its pending deletions are dropped and its held servers
 * forgotten (their new leader's reconcile finds them), so a late timer never deletes what another
 * replica has registered again.
 *
 * <p>Timers run on the sink's scheduler; every deletion runs under its upstream's exclusive lock
 * and re-reads the pod cache and the Lease there. A deletion is done at least a drain delay after
 * its {@code down:1} and at most a gathering window later (a tenth of the drain delay, at most a
 * second): it joins the first pass already scheduled within that window, or schedules one at its
 * end. So the deletions of a batch of drains, or of a stretch of churn, are done together and go to
 * the registry in one call ({@link UpstreamRegistry#deleteAllUnlessLast}: one transaction for many,
 * in Consul and ZooKeeper), several upstreams together while one transaction of 64 operations
 * holds them, under all their exclusive locks (taken in the one global order).
 *
 * <p>Reports ({@link PodReports}), for the pods of the server: draining once {@code down:1} is
 * written; offline once it is deleted, or once the drain delay has passed for a last server kept
 * {@code down:1} (nginx-upsync sends no traffic to a down server); failing when a deletion fails.
 * A deletion that removed nothing (gone, not ours, changed meanwhile) reports nothing: reconcile
 * looks again, and reports.
 */
final class Drainer {

  private final SinkContext context;
  private final UpstreamRegistry registry;
  private final UpstreamConfig config;
  private final UpstreamLocks locks;
  private final DesiredServers desired;
  private final WriteGate gate;
  private final ScheduledExecutorService scheduler;
  private final System.Logger log;
  /** Pending deletions: one is done only while its own entry is still here (a newer one or a cancel replaces it). */
  private final Map<Server, Pending> draining = new ConcurrentHashMap<>();
  /** How much later than due a deletion may be done, to be done with others: in nanoseconds. */
  private final long windowNanos;
  /** When the passes scheduled run ({@link System#nanoTime}): each deletes every pending deletion due by then. */
  private final java.util.concurrent.ConcurrentSkipListSet<Long> passes = new java.util.concurrent.ConcurrentSkipListSet<>();
  private final Set<Server> heldLast = ConcurrentHashMap.newKeySet();
  private final SinkMetrics.Counter drained;
  private final SinkMetrics.Counter deleted;
  private final SinkMetrics.Counter held;
  private final SinkMetrics.Counter conflicts;
  private final SinkMetrics.Counter deleteRetries;
  private final SinkMetrics.Counter deletesMissed;
  private final SinkMetrics.Counter disowned;
  private final PodReports reports;

  Drainer(SinkContext context, UpstreamRegistry registry, UpstreamConfig config, UpstreamLocks locks, DesiredServers desired,
          WriteGate gate, ScheduledExecutorService scheduler, SinkMetrics.Counter held, SinkMetrics.Counter conflicts,
          PodReports reports) {
    this.context = context;
    this.registry = registry;
    this.config = config;
    this.locks = locks;
    this.desired = desired;
    this.gate = gate;
    this.scheduler = scheduler;
    this.log = context.logger();
    this.held = held;
    this.conflicts = conflicts;
    this.reports = reports;
    this.windowNanos = TimeUnit.MILLISECONDS.toNanos(Math.min(config.drainDelay().toMillis() / 10, 1000));
    SinkMetrics m = context.metrics();
    drained = m.counter("upstream_entries_drained_total", "Upstream servers set to down:1");
    deleted = m.counter("upstream_entries_deleted_total", "Upstream servers deleted after draining");
    deleteRetries = m.counter("upstream_delete_retries_total", "Deletions of drained servers that failed and were scheduled again");
    deletesMissed = m.counter("upstream_deletes_missed_total",
        "Deletions that removed nothing: the entry was gone, not ours, or changed meanwhile (a lost check-and-set)");
    disowned = m.counter("upstream_drains_disowned_total",
        "Pending deletions and held last servers forgotten because another replica leads their cluster now");
  }

  /**
   * Sets a server {@code down:1} and schedules its deletion. The caller holds the server's lock
   * and found it not wanted. {@code pods}: the pods it was written for, or null to take the cached
   * pods at its address (a reconcile pass's orphan).
   */
  void drain(Server s, UpsyncEntry downEntry, List<PodState> pods) throws SinkException {
    gate.require(s.cluster(), "drain of " + s);
    downWritten(s, registry.put(s.cluster(), s.upstream(), s.address(), downEntry), pods);
  }

  /**
   * After the {@code down:1} write of a drain ({@link #drain}, or a batch of them): {@code written}
   * false when the key was someone else's and nothing was written.
   */
  void downWritten(Server s, boolean written, List<PodState> pods) {
    if (!written) {
      conflicts.inc();
      log.log(Level.WARNING, "drain left {0}/{1} alone: the key was not written by k8s-sync for cluster {2}: sink={3}",
          s.upstream(), s.address(), s.cluster(), context.name());
      return;
    }
    drained.inc();
    log.log(Level.INFO, "draining: sink={0} upstream={1} server={2} deleteInMs={3}",
        context.name(), s.upstream(), s.address(), config.drainDelay().toMillis());
    List<PodState> of = pods != null ? pods : leavingPodsAt(s);
    reports.draining(of);
    scheduleDeletion(s, config.drainDelay().toMillis(), of);
  }

  /** The cached pods at a server that do not want it: what its drain is about when no change said. */
  List<PodState> leavingPodsAt(Server s) {
    return desired.podsAt(s).stream().filter(p -> !desired.online(p)).toList();
  }

  /** The pod keys with a deletion pending now. */
  Set<String> drainingPods() {
    Set<String> keys = new java.util.HashSet<>();
    draining.values().forEach(p -> p.pods.forEach(pod -> keys.add(pod.key())));
    return keys;
  }

  /** The server was registered again: its drain is off. Then servers kept only as the last one of its upstream may go. */
  void registered(Server s) {
    cancel(s);
    heldLast.remove(s);
    for (Server h : new ArrayList<>(heldLast)) {
      if (h.upstream().equals(s.upstream()) && gate.open(h.cluster())) {
        submit(() -> {
          if (heldLast.contains(h)) { // not already freed by an earlier registration
            finishDrain(h);
          }
        });
      }
    }
  }

  boolean draining(Server s) {
    return draining.containsKey(s);
  }

  boolean heldAsLast(Server s) {
    return heldLast.contains(s);
  }

  /**
   * A scheduled deletion, of the term of leading its cluster that scheduled it, the pods it takes
   * away, and when it falls due ({@link System#nanoTime}); {@code mayRide}: a write may still carry
   * it ({@link #dueToRide}), false once a write that carried it did not delete it.
   */
  record Pending(long term, List<PodState> pods, long due, boolean mayRide) {}

  /** A deletion to do now: of {@code term} ({@link #ANY_TERM} when not a timer's), for {@code pods} (null: the cached ones). */
  private record Due(Server server, long term, List<PodState> pods) {}

  /**
   * Deletes {@code s} after {@code delayMillis}, or up to the gathering window later, with the
   * others due by then; {@code pods}: those it is for, as {@link #drain} takes them.
   */
  void scheduleDeletion(Server s, long delayMillis, List<PodState> pods) {
    long now = System.nanoTime();
    long due = now + TimeUnit.MILLISECONDS.toNanos(delayMillis);
    Pending p = new Pending(context.leadershipTerm(s.cluster()), pods != null ? pods : leavingPodsAt(s), due, true);
    // In the map before a pass is chosen, so even a pass due at once finds it there.
    draining.put(s, p);
    inPass(s, p, now);
  }

  /** Makes sure a pass runs at most a gathering window after {@code p} is due (or after now, when it is due already). */
  private void inPass(Server s, Pending p, long now) {
    long from = p.due() - now > 0 ? p.due() : now;
    try {
      Long pass = passes.ceiling(from);
      if (pass == null || pass - from > windowNanos) {
        long at = from + windowNanos;
        passes.add(at);
        try {
          scheduler.schedule(() -> finishDue(at), at - now, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
          passes.remove(at);
          throw e;
        }
      }
    } catch (RejectedExecutionException e) {
      draining.remove(s, p);
      // The sink is closing: the entry stays down:1 and the next reconcile (of whichever replica leads) deletes it.
      log.log(Level.INFO, "sink closing: deletion of drained {0} left to the next reconcile: sink={1}", s, context.name());
      return;
    }
    if (!context.clusters().contains(s.cluster()) && draining.remove(s, p)) {
      // Scheduled while the cluster was being handed over: disown() may have run already.
      disowned.inc();
      log.log(Level.INFO, "deletion of drained {0} left to the leader of its cluster: sink={1}", s, context.name());
    }
  }

  void cancel(Server s) {
    draining.remove(s);
  }

  /** True when a write going out now may carry a deletion ({@link #dueToRide}): a cheap look, no scan. */
  boolean rideDue() {
    if (draining.isEmpty() || !registry.deletesWithPuts()) {
      return false;
    }
    Long first = passes.isEmpty() ? null : passes.ceiling(Long.MIN_VALUE);
    return first != null && first - windowNanos - System.nanoTime() <= 0;
  }

  /** A pending deletion that a write may carry ({@link #dueToRide}), as it was when found. */
  record Ride(Server server, Pending pending) {

    UpstreamRegistry.Removal removal() {
      return new UpstreamRegistry.Removal(server.cluster(), server.upstream(), server.address());
    }
  }

  /**
   * Deletions due now that a write about to go out may carry in its own request, so that under churn
   * they cost none of their own: at most {@code max}, none of {@code writing}, only for a registry
   * that deletes safely beside its puts ({@link UpstreamRegistry#deletesWithPuts}). Found, not taken:
   * the caller locks their servers, then {@link #claim}s them.
   */
  List<Ride> dueToRide(int max, java.util.Collection<Server> writing) {
    // Every pending deletion is due at most a window before its pass: none is due before the first pass's window.
    if (max <= 0 || !rideDue()) {
      return List.of();
    }
    long now = System.nanoTime();
    List<Ride> out = new ArrayList<>();
    for (Map.Entry<Server, Pending> e : draining.entrySet()) {
      if (e.getValue().mayRide() && e.getValue().due() - now <= 0 && !writing.contains(e.getKey())) {
        out.add(new Ride(e.getKey(), e.getValue()));
        if (out.size() == max) {
          break;
        }
      }
    }
    return out;
  }

  /**
   * Under the servers' locks, right before the write: takes the rides still pending as found, of this
   * term of leading their cluster, with the Lease open for a call, and not wanted by a pod in the cache.
   * Any other is left to its pass, which decides as it always does.
   */
  List<Ride> claim(List<Ride> found) {
    List<Ride> out = new ArrayList<>();
    for (Ride r : found) {
      Server s = r.server();
      if (r.pending().term() == context.leadershipTerm(s.cluster()) && gate.open(s.cluster()) && !desired.wanted(s)
          && draining.remove(s, r.pending())) {
        out.add(r);
      }
    }
    return out;
  }

  /**
   * After the write that carried {@code rides}, still under their locks: those {@code deleted} are
   * done; each other goes back to pending, for its pass only (at most a window from now), which
   * decides as it always does: a deletion refused once (its key changed meanwhile, say) riding on
   * every later write would cost each a refused request, and under churn the pass, racing the writes
   * for it, might not get it for minutes. Returns what to report and log, once the locks are released.
   */
  List<Runnable> rode(List<Ride> rides, java.util.Collection<UpstreamRegistry.Removal> deleted) {
    List<Runnable> outcomes = new ArrayList<>();
    long now = System.nanoTime();
    for (Ride r : rides) {
      if (deleted.contains(r.removal())) {
        Due d = new Due(r.server(), r.pending().term(), r.pending().pods());
        outcomes.add(() -> deleted(d, UpstreamRegistry.Deletion.DELETED));
      } else {
        Pending p = r.pending();
        Pending back = new Pending(p.term(), p.pods(), p.due(), false);
        if (draining.putIfAbsent(r.server(), back) == null) {
          inPass(r.server(), back, now);
        }
      }
    }
    return outcomes;
  }

  /** A pass scheduled for {@code at}: every pending deletion due by then, together. */
  private void finishDue(long at) {
    passes.remove(at);
    List<Due> due = new ArrayList<>();
    for (Map.Entry<Server, Pending> e : draining.entrySet()) {
      Pending p = e.getValue();
      if (p.due() - at <= 0 && draining.remove(e.getKey(), p)) {
        due.add(new Due(e.getKey(), p.term(), p.pods()));
      }
    }
    finishDrains(due);
  }

  /**
   * This replica stopped leading {@code cluster}: forget its pending deletions and held servers.
   * Its new leader finds them {@code down:1} in its first reconcile and finishes them.
   */
  void disown(String cluster) {
    int n = 0;
    for (Iterator<Map.Entry<Server, Pending>> it = draining.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Server, Pending> e = it.next();
      if (e.getKey().cluster().equals(cluster)) {
        it.remove();
        n++;
      }
    }
    for (Iterator<Server> it = heldLast.iterator(); it.hasNext(); ) {
      if (it.next().cluster().equals(cluster)) {
        it.remove();
        n++;
      }
    }
    if (n > 0) {
      disowned.inc(n);
      log.log(Level.INFO, "no longer leading cluster {0}: {1} pending deletions and held servers left to its new leader: sink={2}",
          cluster, n, context.name());
    }
  }

  /** Deletes a drained server unless it is wanted again, is the last of its upstream, or its cluster is not ours now. */
  void finishDrain(Server s) {
    finishDrains(List.of(new Due(s, ANY_TERM, null)));
  }

  private static final long ANY_TERM = Long.MIN_VALUE;

  /**
   * As {@link #finishDrain(Server)}, for many servers: one call to the registry for several upstreams. A timer's deletion of
   * an earlier term of leading its cluster is dropped, since another replica led in between and may
   * have registered the server again (its new leader's reconcile, or ours, finishes what is still due).
   */
  private void finishDrains(List<Due> due) {
    Map<String, List<Due>> byUpstream = new java.util.LinkedHashMap<>();
    for (Due d : due) {
      Server s = d.server();
      if (d.term() != ANY_TERM && d.term() != context.leadershipTerm(s.cluster())) {
        heldLast.remove(s);
        disowned.inc();
        log.log(Level.INFO, "deletion of drained {0} scheduled in an earlier term of leading its cluster: dropped, reconcile looks again:"
            + " sink={1}", s, context.name());
      } else if (mayDelete(s, d.pods())) {
        byUpstream.computeIfAbsent(s.upstream(), u -> new ArrayList<>()).add(d);
      }
    }
    // Upstreams together while one registry transaction holds them (a check and the deletions of each), so
    // their exclusive locks are held for one call.
    List<Due> together = new ArrayList<>();
    int ops = 0;
    for (List<Due> group : byUpstream.values()) {
      if (!together.isEmpty() && ops + 1 + group.size() > TRANSACTION_OPS) {
        finishTogether(together);
        together = new ArrayList<>();
        ops = 0;
      }
      together.addAll(group);
      ops += 1 + group.size();
    }
    if (!together.isEmpty()) {
      finishTogether(together);
    }
  }

  /** Operations in one registry transaction (Consul's limit): deletions of several upstreams go together up to it. */
  private static final int TRANSACTION_OPS = 64;

  /**
   * Deletes servers under their upstreams' exclusive locks: one call to the registry for all of them.
   * What each outcome reports, counts and logs is done after the locks are released: the applies
   * waiting for them (a read lock each) wait for the registry's answer only, not for log lines.
   */
  private void finishTogether(List<Due> due) {
    List<Due> deleting = new ArrayList<>();
    List<Runnable> outcomes = new ArrayList<>();
    int looked = 0; // how many of due were looked at under the lock: a failure retries the others
    try (UpstreamLocks.Held h = locks.exclusiveAll(due.stream().map(d -> d.server().upstream()).toList())) {
      for (Due d : due) {
        Server s = d.server();
        // Again under the lock, right before the write: the pod cache (wanted again?) and the Lease.
        if (desired.wanted(s)) {
          heldLast.remove(s);
        } else if (draining.containsKey(s)) {
          // Drained again since this pass took its deletion (registered, then down:1 anew while the pass
          // waited for the lock): that newer deletion waits its own drain delay, in its own pass.
          heldLast.remove(s);
        } else if (mayDelete(s, d.pods())) {
          deleting.add(new Due(s, d.term(), d.pods() != null ? d.pods() : leavingPodsAt(s)));
        }
        looked++;
      }
      if (deleting.size() == 1) {
        Server s = deleting.get(0).server();
        UpstreamRegistry.Deletion deletion = registry.deleteUnlessLast(s.cluster(), s.upstream(), s.address());
        Due d = deleting.remove(0);
        outcomes.add(() -> deleted(d, deletion));
      } else if (!deleting.isEmpty()) {
        List<UpstreamRegistry.RemovalResult> results = registry.deleteAllUnlessLast(deleting.stream()
            .map(d -> new UpstreamRegistry.Removal(d.server().cluster(), d.server().upstream(), d.server().address())).toList());
        for (UpstreamRegistry.RemovalResult r : results) {
          Due d = deleting.remove(0);
          outcomes.add(r.failure() != null ? () -> failed(d, r.failure()) : () -> deleted(d, r.deletion()));
        }
      }
    } catch (SinkException | RuntimeException e) {
      // What the registry has not answered for, and what was not looked at yet: tried again later.
      for (Due d : deleting) {
        outcomes.add(() -> failed(d, e));
      }
      for (Due d : due.subList(looked, due.size())) {
        Due retry = new Due(d.server(), d.term(), d.pods() != null ? d.pods() : leavingPodsAt(d.server()));
        outcomes.add(() -> failed(retry, e));
      }
    }
    outcomes.forEach(Runnable::run);
  }

  /** What the registry did with one deletion: reports, the metric and the log line of each outcome. */
  private void deleted(Due d, UpstreamRegistry.Deletion deletion) {
    Server s = d.server();
    switch (deletion) {
      case DELETED -> {
        heldLast.remove(s);
        deleted.inc();
        log.log(Level.INFO, "deleted drained server: sink={0} upstream={1} server={2}", context.name(), s.upstream(), s.address());
        reports.offline(d.pods());
      }
      case LAST_SERVER -> {
        if (heldLast.add(s)) {
          held.inc("last_server");
          log.log(Level.WARNING, "kept as the last server of its upstream, with down:1, until another registers: sink={0} upstream={1} server={2}",
              context.name(), s.upstream(), s.address());
        }
        // Down for a whole drain delay: nginx-upsync sends it nothing, though it stays listed.
        reports.offline(d.pods());
      }
      case MISSED -> {
        heldLast.remove(s);
        deletesMissed.inc();
        log.log(Level.WARNING, "deleting a drained server removed nothing (gone, not ours, or changed meanwhile); reconcile looks again: "
            + "sink={0} upstream={1} server={2}", context.name(), s.upstream(), s.address());
      }
    }
  }

  private void failed(Due d, Exception e) {
    Server s = d.server();
    deleteRetries.inc();
    log.log(Level.WARNING, "deleting a drained server failed, trying again later: sink=" + context.name()
        + " upstream=" + s.upstream() + " server=" + s.address() + " error=" + e.getMessage());
    reports.failingToLeave(d.pods(), "deleting drained server " + s.upstream() + "/" + s.address() + " failed, retried: " + e.getMessage());
    scheduleDeletion(s, Math.max(1000, config.drainDelay().toMillis()), d.pods());
  }

  /**
   * True when a deletion for the server's cluster may start now. Otherwise a cluster led elsewhere
   * is disowned; one that is still ours, with its Lease renewal late, is tried again later.
   */
  private boolean mayDelete(Server s, List<PodState> pods) {
    if (gate.open(s.cluster())) {
      return true;
    }
    if (context.clusters().contains(s.cluster())) {
      deleteRetries.inc();
      log.log(Level.WARNING, "deletion of drained {0} postponed: the Lease of its cluster is not renewed in time: sink={1}",
          s, context.name());
      scheduleDeletion(s, Math.max(1000, config.drainDelay().toMillis()), pods);
    } else {
      heldLast.remove(s);
      disowned.inc();
      log.log(Level.INFO, "deletion of drained {0} left to the leader of its cluster: sink={1}", s, context.name());
    }
    return false;
  }

  private void submit(Runnable r) {
    try {
      scheduler.execute(r);
    } catch (RejectedExecutionException e) {
      log.log(Level.INFO, "sink closing: a held last server is left to the next reconcile: sink={0}", context.name());
    }
  }
}

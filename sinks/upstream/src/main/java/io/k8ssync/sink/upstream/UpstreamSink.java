package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PassAfterFirstWrite;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps nginx-upsync upstreams in a registry equal to the ready pods: registers a pod when it is
 * desired online, drains it ({@code down:1}) when it stops being so and deletes it after the drain
 * delay, never deleting the last server of an upstream ({@link Drainer}). A reconcile pass when the
 * initial list is complete, on each new term of leading a cluster, and every period repairs drift
 * and removes orphans this daemon owns ({@link UpstreamReconciler}).
 *
 * <p>Every write checks, at its moment, that this replica leads the entry's cluster with enough of
 * its Lease left for the call ({@link WriteGate}); when it stops leading a cluster, that cluster's
 * pending deletions are dropped. Queue workers and the sink's scheduler touch a server only under
 * its locks ({@link UpstreamLocks}) and re-read the pod cache under them, so a late timer or an old
 * reconcile snapshot never removes a server that is wanted again.
 *
 * <p>It reports each pod's progress to the daemon as the registry holds it ({@link PodReports}):
 * online once its entry is up, draining once it is {@code down:1}, offline once it is deleted (or,
 * as the last server of its upstream, down for a whole drain delay), or known absent.
 */
public final class UpstreamSink implements Sink {

  private final SinkContext context;
  private final UpstreamRegistry registry;
  private final UpstreamConfig config;
  private final System.Logger log;
  private final ScheduledExecutorService scheduler;
  private final DesiredServers desired;
  final UpstreamLocks locks = new UpstreamLocks(); // package-private: UpstreamTestAccess
  private final WriteGate gate;
  final Drainer drainer; // package-private: UpstreamTestAccess
  private final UpstreamReconciler reconciler;
  private final SinkMetrics.Counter written;
  private final SinkMetrics.Counter conflicts;
  private final SinkMetrics.Counter rejected;
  private final PodReports reports;
  private final PassAfterFirstWrite passAfterFirstWrite;
  /** Batch writes grouped while one is in flight, for a registry that {@link UpstreamRegistry#groupsWrites}; else null. */
  private final GroupCommit commits;

  public UpstreamSink(SinkContext context, UpstreamRegistry registry, UpstreamConfig config) {
    this.context = context;
    this.registry = registry;
    this.config = config;
    this.log = context.logger();
    this.scheduler = Reconciliation.scheduler(context, "upstream");
    this.desired = new DesiredServers(context, config);
    this.gate = new WriteGate(context, registry.callTimeout());
    this.commits = registry.groupsWrites() ? new GroupCommit(registry, gate) : null;
    SinkMetrics m = context.metrics();
    written = m.counter("upstream_entries_written_total", "Upstream servers written (registered or updated)");
    SinkMetrics.Counter held = m.counter("upstream_removals_held_total", "Removals held back, by reason (last_server, mass_removal,"
        + " other_owner: an entry with the cluster's default mark that this sink, with its own ownerId, leaves to that owner)", "reason");
    conflicts = m.counter("upstream_foreign_entries_total", "Writes refused because the key belongs to someone else");
    rejected = m.counter("upstream_entries_rejected_total", "Pods not registered, by reason (not_ipv4: upsync keys must be IPv4:port)", "reason");
    this.reports = new PodReports(context, desired);
    // A new term's pass after the term's first write (the takeover's fresh changes), or a second.
    this.passAfterFirstWrite = new PassAfterFirstWrite(scheduler, cluster -> reconcileSoon());
    this.drainer = new Drainer(context, registry, config, locks, desired, gate, scheduler, held, conflicts, reports);
    this.reconciler = new UpstreamReconciler(context, registry, config, locks, desired, drainer, gate, written, held, conflicts,
        reports);
  }

  @Override
  public void start() throws SinkException {
    registry.start();
    if (context.dryRun()) {
      // Reconcile writes; in dry-run the sink only says what its changes would do.
      log.log(Level.INFO, "dry-run: reconcile is off for sink {0}", context.name());
      return;
    }
    long every = config.reconcileEvery().toMillis();
    if (every > 0) {
      // The first pass runs when the initial list is complete (podsSynced), not on this clock.
      scheduler.scheduleWithFixedDelay(reconciler::runSafely, every, every, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void podsSynced() {
    reconcileSoon();
    readWhileStandingBy();
  }

  /**
   * A standby (it leads no cluster when its initial list is complete) lists the registry once,
   * read-only: the registry client then knows its keys' versions before this replica's first write,
   * which would otherwise read them all inside that write (TakeoverBench at 10,000 pods: Consul's
   * listing of every key ran inside the new leader's first batch), then warms the write path
   * ({@link UpstreamRegistry#warmUp}). Writes nothing; a failed read only leaves the first write to read.
   */
  private void readWhileStandingBy() {
    if (context.dryRun() || !context.clusters().isEmpty()) {
      return;
    }
    submit(() -> {
      try {
        registry.list(java.util.Set.of());
      } catch (SinkException | RuntimeException e) {
        log.log(Level.DEBUG, "standby read of the registry failed; the first write reads instead: sink={0} error={1}",
            context.name(), e.getMessage());
      }
      try {
        registry.warmUp();
      } catch (RuntimeException e) {
        log.log(Level.DEBUG, "standby warm-up of the write path failed; the first write pays for it: sink={0} error={1}",
            context.name(), e.getMessage());
      }
      try {
        registry.learnWhileStandingBy(desired.upstreamsByCluster());
      } catch (SinkException | RuntimeException e) {
        log.log(Level.DEBUG, "standby read of the upstreams' folders failed; the first write reads instead: sink={0} error={1}",
            context.name(), e.getMessage());
      }
    });
  }

  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    if (leading) {
      // A new term: what another replica did meanwhile is read from the registry, not remembered;
      // once the term's first write (the takeover's fresh changes) is done, or a second has passed.
      passAfterFirstWrite.termStarted(cluster);
    } else {
      passAfterFirstWrite.termEnded(cluster);
      drainer.disown(cluster);
      reports.forget(cluster);
      submit(() -> reconciler.forget(cluster));
    }
  }

  /** A pass as soon as the scheduler is free; requests that arrive before it starts share it. */
  private void reconcileSoon() {
    if (context.dryRun() || !passRequested.compareAndSet(false, true)) {
      return;
    }
    submit(() -> {
      passRequested.set(false);
      reconciler.runSafely();
    });
  }

  private final java.util.concurrent.atomic.AtomicBoolean passRequested = new java.util.concurrent.atomic.AtomicBoolean();

  private void submit(Runnable r) {
    try {
      scheduler.execute(r);
    } catch (RejectedExecutionException e) {
      log.log(Level.INFO, "sink closing: reconcile work not started: sink={0}", context.name());
    }
  }

  /** Consul's limit of operations in one transaction: a batch's writes go in one. */
  static final int MAX_BATCH = 64;

  @Override
  public int maxBatchSize() {
    return MAX_BATCH;
  }

  /**
   * Changes that only register a pod or only drain it are written together ({@link BatchWriter}),
   * in runs of distinct pods and servers; any other change is applied alone, in its place in the
   * batch. A failed change fails its pod, whose later changes in the batch wait for its retry.
   */
  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    try {
      applyBatch(batch);
    } finally {
      passAfterFirstWrite.written(); // a new term's first write is done (or failed): its pass may start
    }
  }

  private void applyBatch(List<PodChange> batch) throws SinkException {
    if (batch.size() == 1 && !((commits != null || drainer.rideDue()) && batchable(batch.get(0)) != null)) {
      applyOne(batch.get(0)); // a write neither grouped nor carrying a deletion: the short way
      return;
    }
    Map<String, SinkException> failed = new LinkedHashMap<>();
    BatchWriter run = new BatchWriter();
    for (PodChange c : batch) {
      if (failed.containsKey(c.key())) {
        continue;
      }
      BatchWriter.Step step = batchable(c);
      if (step != null && run.fits(step)) {
        run.add(step);
        continue;
      }
      if (step == null && run.independentOf(c)) {
        // Writes nothing (a pod not online, before or now): its report needs no flush of the run.
        try {
          applyOne(c);
        } catch (SinkException e) {
          failed.put(c.key(), e);
        }
        continue;
      }
      run.flush(failed);
      run = new BatchWriter();
      if (failed.containsKey(c.key())) {
        continue;
      }
      if (step != null) {
        run.add(step);
        continue;
      }
      try {
        applyOne(c);
      } catch (SinkException e) {
        failed.put(c.key(), e);
      }
    }
    run.flush(failed);
    BatchWriter.throwFailures(failed, batch.size());
  }

  /** The one write of a change that only registers its pod (at no other server before) or only drains it, or null. */
  private BatchWriter.Step batchable(PodChange c) {
    Server old = serverToRemove(c);
    boolean online = context.desiredOnline(c.after());
    if (online && old == null && DesiredServers.ipv4(c.after())) {
      try {
        return new BatchWriter.Step(c, desired.server(c.after()), true);
      } catch (SinkException e) {
        return null; // applied alone: it reports the invalid upstream name
      }
    }
    return !online && old != null ? new BatchWriter.Step(c, old, false) : null;
  }

  /**
   * Registrations and drains of distinct pods and servers, written by one {@link UpstreamRegistry#putBatch}
   * under all their locks: each pod is reported online, or draining, only once its own write is in.
   */
  private final class BatchWriter {

    record Step(PodChange change, Server server, boolean register) {}

    private final List<Step> steps = new ArrayList<>();
    private final java.util.Set<String> pods = new java.util.HashSet<>();
    private final java.util.Set<Server> servers = new java.util.HashSet<>();

    boolean fits(Step s) {
      return !pods.contains(s.change().key()) && !servers.contains(s.server());
    }

    /** True for a change that writes nothing and whose pod and server are not in this run. */
    boolean independentOf(PodChange c) {
      if (context.desiredOnline(c.after()) || serverToRemove(c) != null || pods.contains(c.key())) {
        return false;
      }
      Server s = desired.serverIfAny(c.latest());
      return s == null || !servers.contains(s);
    }

    void add(Step s) {
      steps.add(s);
      pods.add(s.change().key());
      servers.add(s.server());
    }

    void flush(Map<String, SinkException> failed) {
      if (steps.isEmpty()) {
        return;
      }
      // Deletions due now ride on this write's request (room for one check of a server that stays).
      List<Server> stepServers = steps.stream().map(Step::server).toList();
      List<Drainer.Ride> due = drainer.dueToRide(MAX_BATCH - 1 - steps.size(), stepServers);
      List<Server> locking = new ArrayList<>(stepServers);
      due.forEach(r -> locking.add(r.server()));
      List<Runnable> afterLocks = new ArrayList<>();
      try (UpstreamLocks.Held h = locks.sharedAll(locking)) {
        List<UpstreamRegistry.Put> puts = new ArrayList<>();
        List<Step> writing = new ArrayList<>();
        for (Step st : steps) {
          Server s = st.server();
          try {
            if (st.register()) {
              PodState pod = st.change().after();
              UpsyncEntry entry = desired.entryOf(pod, false);
              gate.require(s.cluster(), "registration of " + s);
              reports.writing(pod);
              puts.add(new UpstreamRegistry.Put(s.cluster(), s.upstream(), s.address(), entry, true));
            } else {
              if (desired.wanted(s)) {
                continue; // another pod holds it now: nothing to drain
              }
              gate.require(s.cluster(), "drain of " + s);
              puts.add(new UpstreamRegistry.Put(s.cluster(), s.upstream(), s.address(), desired.entryOf(st.change().before(), true),
                  false));
            }
            writing.add(st);
          } catch (SinkException e) {
            failed.put(st.change().key(), e);
          }
        }
        List<UpstreamRegistry.PutResult> results = puts.isEmpty() ? List.of() : write(puts, due, afterLocks);
        for (int i = 0; i < writing.size(); i++) {
          Step st = writing.get(i);
          UpstreamRegistry.PutResult r = results.get(i);
          if (r.failure() != null) {
            failed.put(st.change().key(), r.failure());
          } else if (!st.register()) {
            drainer.downWritten(st.server(), r.written(), List.of(leaving(st.change())));
          } else if (r.foreign()) {
            conflicts.inc();
            failed.put(st.change().key(), foreign(st.server()));
          } else {
            written.inc();
            drainer.registered(st.server());
            reports.online(st.change().after());
          }
        }
      }
      afterLocks.forEach(Runnable::run);
    }

    /**
     * The puts, carrying the deletions of {@code due} still to do (claimed under the locks held); those
     * not deleted go back to pending, whatever happened. What the deleted ones report goes to {@code afterLocks}.
     */
    private List<UpstreamRegistry.PutResult> write(List<UpstreamRegistry.Put> puts, List<Drainer.Ride> due, List<Runnable> afterLocks) {
      List<Drainer.Ride> riding = due.isEmpty() ? List.of() : drainer.claim(due);
      if (riding.isEmpty() && commits == null) {
        return registry.putBatch(puts);
      }
      List<UpstreamRegistry.Removal> deleted = List.of();
      try {
        List<UpstreamRegistry.Removal> removals = riding.stream().map(Drainer.Ride::removal).toList();
        UpstreamRegistry.PutsAndDeletions r = commits != null ? commits.write(puts, removals) : registry.putBatch(puts, removals);
        deleted = r.deleted();
        return r.puts();
      } finally {
        if (!riding.isEmpty()) {
          afterLocks.addAll(drainer.rode(riding, deleted));
        }
      }
    }

    /**
     * One exception naming every failed pod: of their kind when they are all of one (held for the
     * Lease, retriable, or dropped as refused), else retriable for all of them, so none is dropped
     * for another's reason (one refused for good is refused again on its retry, and dropped then).
     */
    static void throwFailures(Map<String, SinkException> failed, int of) throws SinkException {
      if (failed.isEmpty()) {
        return;
      }
      StringBuilder why = new StringBuilder(failed.size() + " of " + of + " changes failed:");
      int n = 0;
      for (Map.Entry<String, SinkException> e : failed.entrySet()) {
        if (n++ == 5) {
          why.append(" ...");
          break;
        }
        why.append(' ').append(e.getKey()).append(": ").append(e.getValue().getMessage()).append(';');
      }
      SinkException first = failed.values().iterator().next();
      boolean allDeferred = failed.values().stream().allMatch(e -> e.deferral() != null);
      if (allDeferred) {
        java.time.Duration delay = failed.values().stream().map(SinkException::deferral).max(java.util.Comparator.naturalOrder()).orElseThrow();
        throw SinkException.deferred(why.toString(), delay, failed.keySet());
      }
      boolean allFatal = failed.values().stream().noneMatch(SinkException::retriable);
      throw SinkException.partial(why.toString(), first, !allFatal, failed.keySet());
    }
  }

  private void applyOne(PodChange change) throws SinkException {
    PodState after = change.after();
    Server old = serverToRemove(change);
    SinkException refused = null;
    if (context.desiredOnline(after)) {
      if (!DesiredServers.ipv4(after)) {
        rejected.inc("not_ipv4");
        log.log(Level.WARNING, "not registered: nginx-upsync needs an IPv4 address and this pod has another: sink={0} pod={1} uid={2}",
            context.name(), after.key(), after.uid());
        reports.failing(after, NOT_IPV4);
      } else {
        try {
          Server s = desired.server(after);
          try (UpstreamLocks.Held h = locks.shared(s)) {
            register(s, after);
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
      try (UpstreamLocks.Held h = locks.shared(old)) {
        if (!desired.wanted(old)) {
          drainer.drain(old, desired.entryOf(change.before(), true), List.of(leaving(change)));
        }
      }
    } else if (!context.desiredOnline(after)) {
      offlineIfAbsent(change.latest());
    }
    if (refused != null) {
      throw refused;
    }
  }

  static final String NOT_IPV4 = "not registered: nginx-upsync needs an IPv4 address and this pod has another";

  /** Who a drain of the change's old server takes away: the pod as it is now, or its incarnation that is gone. */
  private static PodState leaving(PodChange change) {
    PodState after = change.after();
    return after != null && after.uid().equals(change.before().uid()) ? after : change.before();
  }

  /**
   * Offline for a pod not desired online whose entry this process never wrote, once a read finds its
   * key absent: an entry of an earlier run may still be there (a reconcile pass reports that one).
   * A failed read reports nothing; the next reconcile pass looks.
   */
  private void offlineIfAbsent(PodState pod) {
    if (!reports.active() || reports.mayBeUp(pod.key())) {
      return;
    }
    Server s = desired.serverIfAny(pod);
    if (s == null) {
      reports.absent(pod); // no IPv4 address or no valid upstream name: never written, by any run
      return;
    }
    try (UpstreamLocks.Held h = locks.shared(s)) {
      if (!reports.mayBeUp(pod.key()) && !registry.present(s.cluster(), s.upstream(), s.address())) {
        reports.absent(pod);
      }
    } catch (SinkException e) {
      log.log(Level.DEBUG, "could not read {0} to report pod {1} offline; reconcile reports it: sink={2} error={3}",
          s, pod.key(), context.name(), e.getMessage());
    }
  }

  /**
   * The server this change takes the pod off, or null: its old address (the shared rule), or its
   * old upstream when a new service or template value moved it to another upstream at the same address.
   */
  private Server serverToRemove(PodChange change) {
    PodState before = change.before();
    if (!desired.online(before)) {
      return null; // not online before, or rejected: nothing was written
    }
    Server was;
    try {
      was = desired.server(before);
    } catch (SinkException e) {
      return null; // an invalid upstream name was never written
    }
    if (Registration.addressToRemove(change, context.selector()) != null) {
      return was;
    }
    try {
      return was.equals(desired.server(change.after())) ? null : was;
    } catch (SinkException e) {
      return was; // the new upstream name is invalid: the pod is wanted in no upstream
    }
  }

  /** Writes the pod's entry up; the caller holds the server's lock. */
  private void register(Server s, PodState pod) throws SinkException {
    UpsyncEntry entry = desired.entryOf(pod, false);
    gate.require(s.cluster(), "registration of " + s);
    reports.writing(pod);
    // Its drain is cancelled only once the put succeeded (registered() below): a failed put must
    // leave the pending deletion, or a change back to unready would find nothing left to delete it.
    // The pod at this address is ours now: a key with the cluster's default mark is taken over in place.
    if (!registry.put(s.cluster(), s.upstream(), s.address(), entry, true)) {
      conflicts.inc();
      throw foreign(s);
    }
    written.inc();
    drainer.registered(s);
    reports.online(pod);
  }

  private SinkException foreign(Server s) {
    return SinkException.fatal("key " + s.upstream() + "/" + s.address() + " exists and was not written by k8s-sync for cluster "
        + s.cluster() + " and owner " + config.owner().of(s.cluster()) + "; left untouched", null);
  }

  /** One reconcile pass now, on the caller's thread (tests). */
  void reconcile() throws SinkException {
    reconciler.reconcile();
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    List<String> out = new ArrayList<>();
    for (PodChange c : batch) {
      if (context.desiredOnline(c.after())) {
        try {
          if (!DesiredServers.ipv4(c.after())) {
            out.add("reject " + c.key() + ": not an IPv4 address");
          } else {
            Server s = desired.server(c.after());
            out.add("put " + s.upstream() + "/" + s.address() + " " + desired.entryOf(c.after(), false).toJson());
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

  @Override
  public void close() {
    scheduler.shutdownNow();
    registry.close();
  }
}

package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Reconciliation;
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

/**
 * One reconcile pass: one listing of the registry's entries owned for the clusters this replica leads against the
 * wanted servers of those clusters. Repairs missing and changed entries in batches, drains orphans,
 * and holds a removal of most of an upstream until the next pass agrees. It trusts no memory of the
 * registry: every pass starts from a listing, so what another replica changed while this one stood
 * by is seen as it is. Entries with the cluster's default mark, when this sink has its own owner
 * id, are taken over in place if a pod of ours wants them and otherwise left to their owner.
 *
 * <p>Each pass reports every pod it looked at ({@link PodReports}): online for each server it
 * found up, or wrote up, as its pods want it; failing for a repair that failed or was refused; draining
 * for the orphans it drains; offline for each selected pod not desired online that has no entry.
 *
 * <p>Runs on the sink's scheduler thread only (at the initial list, on each new term, every period).
 */
final class UpstreamReconciler {

  private static final int REPAIR_BATCH = 64;

  private final SinkContext context;
  private final UpstreamRegistry registry;
  private final UpstreamConfig config;
  private final UpstreamLocks locks;
  private final DesiredServers desired;
  private final Drainer drainer;
  private final WriteGate gate;
  private final Reconciliation reconciliation;
  private final System.Logger log;
  private final SinkMetrics.Counter written;
  private final SinkMetrics.Counter held;
  private final SinkMetrics.Counter conflicts;
  private final SinkMetrics.Counter takenOver;
  private final PodReports reports;
  /** Entries with the default mark that no pod of ours wants, already counted as held: counted again only after they left. */
  private Set<Server> heldOtherOwner = Set.of();
  /**
   * Orphans a pass wanted to remove but held, with when they were first held (nanoTime): removed
   * only by a later pass that wants them too and starts at least half a reconcile period after,
   * so two passes queued back to back (initial list, new term) never confirm each other.
   */
  private Map<Server, Long> heldMassRemoval = Map.of();

  UpstreamReconciler(SinkContext context, UpstreamRegistry registry, UpstreamConfig config, UpstreamLocks locks,
                     DesiredServers desired, Drainer drainer, WriteGate gate, SinkMetrics.Counter written,
                     SinkMetrics.Counter held, SinkMetrics.Counter conflicts, PodReports reports) {
    this.context = context;
    this.registry = registry;
    this.config = config;
    this.locks = locks;
    this.desired = desired;
    this.drainer = drainer;
    this.gate = gate;
    this.reconciliation = new Reconciliation(context);
    this.log = context.logger();
    this.written = written;
    this.held = held;
    this.conflicts = conflicts;
    this.reports = reports;
    this.takenOver = context.metrics().counter("upstream_owner_marks_taken_over_total",
        "Entries with the cluster's default mark (written before this sink had its own ownerId) that a pod of ours wants,"
            + " re-marked as ours in place");
  }

  /** Forgets held removals of a cluster another replica leads now: a later term starts its own count. */
  void forget(String cluster) {
    Map<Server, Long> kept = new HashMap<>(heldMassRemoval);
    kept.keySet().removeIf(s -> s.cluster().equals(cluster));
    heldMassRemoval = Map.copyOf(kept);
  }

  /** A pass, if the cache is complete; counted and logged, never throws. */
  void runSafely() {
    if (context.pods().synced()) {
      reconciliation.runSafely(this::reconcile);
    }
  }

  /** One pass: list the registry first, then read the pods, so a registration in between is never taken for an orphan. */
  void reconcile() throws SinkException {
    Set<String> clusters = context.clusters();
    Map<String, Map<String, Map<String, UpstreamRegistry.Listed>>> actual = registry.list(clusters);
    Map<Server, UpsyncEntry> want = desired.of(clusters);
    Map<Server, UpsyncEntry> owned = new HashMap<>();
    Map<Server, UpsyncEntry> defaultMarked = new HashMap<>();
    Map<Server, Long> versions = new HashMap<>();
    actual.forEach((cluster, ups) -> ups.forEach((up, servers) -> servers.forEach((addr, listed) -> {
      Server s = new Server(cluster, up, addr);
      (listed.defaultMark() ? defaultMarked : owned).put(s, listed.entry());
      versions.put(s, listed.version());
    })));

    Set<String> draining = drainer.drainingPods();
    SinkException firstFailure = repair(want, owned, defaultMarked, versions);
    SinkException drainFailure = removeOrphans(want, owned);
    leaveToTheirOwner(want, defaultMarked);
    if (reports.active()) {
      reportNotOnline(clusters, actual, draining);
    }
    if (firstFailure == null) {
      firstFailure = drainFailure;
    }
    if (firstFailure != null) {
      throw firstFailure;
    }
  }

  /**
   * Repairs go in batches (one registry transaction each), with every server of the batch locked
   * and re-checked against the cache and the Lease, so a drain racing the pass is never undone.
   */
  private SinkException repair(Map<Server, UpsyncEntry> want, Map<Server, UpsyncEntry> owned,
                               Map<Server, UpsyncEntry> defaultMarked, Map<Server, Long> versions) {
    SinkException firstFailure = null;
    List<Server> repairs = new ArrayList<>();
    int leftToChanges = 0;
    for (Map.Entry<Server, UpsyncEntry> d : want.entrySet()) {
      UpsyncEntry have = owned.get(d.getKey());
      boolean differs = have == null || !have.equals(d.getValue());
      if (defaultMarked.containsKey(d.getKey())) {
        repairs.add(d.getKey()); // ours to take over (counted and logged here): the pod at this address is ours
      } else if (differs && changeOnItsWay(d.getKey())) {
        leftToChanges++; // that change writes it; a repair now would race it for the same key
      } else if (differs) {
        reconciliation.drift(have == null ? "missing" : "changed");
        repairs.add(d.getKey());
      } else if (reports.active()) {
        foundUp(d.getKey());
      }
    }
    reconciliation.leftToChanges(leftToChanges);
    for (int from = 0; from < repairs.size(); from += REPAIR_BATCH) {
      List<Server> chunk = repairs.subList(from, Math.min(repairs.size(), from + REPAIR_BATCH));
      try (UpstreamLocks.Held h = locks.sharedAll(chunk)) {
        List<UpstreamRegistry.Write> writes = new ArrayList<>();
        for (Server s : chunk) {
          if (desired.wanted(s)) {
            gate.require(s.cluster(), "reconcile repair of " + s);
            desired.podsWanting(s).forEach(reports::writing);
            // The version this pass listed: the write is a check-and-set on it, with no read of its own.
            writes.add(new UpstreamRegistry.Write(s.cluster(), s.upstream(), s.address(), want.get(s),
                versions.getOrDefault(s, UpstreamRegistry.Write.ABSENT), defaultMarked.containsKey(s)));
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
            for (PodState p : desired.podsWanting(s)) {
              reports.failing(p, "not registered: key " + w.upstream() + "/" + w.address()
                  + " exists and was not written by k8s-sync for cluster " + w.cluster() + "; left untouched");
            }
          } else {
            written.inc();
            drainer.cancel(s);
            desired.podsWanting(s).forEach(reports::online);
            if (w.defaultMark()) {
              takenOver.inc();
              log.log(Level.INFO, "took over {0}/{1} in place: it had the default mark of cluster {2} and a pod of ours holds it: sink={3}",
                  w.upstream(), w.address(), w.cluster(), context.name());
            }
          }
        }
      } catch (SinkException e) {
        log.log(Level.WARNING, "reconcile could not write a batch of {0}: sink={1} error={2}", chunk.size(), context.name(), e.getMessage());
        if (e.deferral() == null) { // a hold for want of Lease is no failure
          for (Server s : chunk) {
            for (PodState p : desired.podsWanting(s)) {
              reports.failing(p, "reconcile repair of " + s.upstream() + "/" + s.address() + " failed, retried: " + e.getMessage());
            }
          }
        }
        if (e.retriable() && firstFailure == null) {
          firstFailure = e;
        }
      }
    }
    return firstFailure;
  }

  /** True when a pod that wants {@code s} has a change on its way to this sink ({@link SinkContext#changePending}). */
  private boolean changeOnItsWay(Server s) {
    for (PodState p : desired.podsWanting(s)) {
      if (context.changePending(p)) {
        return true;
      }
    }
    return false;
  }

  /** Orphans: owned entries no pod wants. Drained (deleted after the drain delay), unless most of an upstream would go at once. */
  private SinkException removeOrphans(Map<Server, UpsyncEntry> want, Map<Server, UpsyncEntry> owned) {
    SinkException firstFailure = null;
    Map<String, List<Server>> orphansByUpstream = new HashMap<>();
    Map<String, Integer> ownedByUpstream = new HashMap<>();
    for (Map.Entry<Server, UpsyncEntry> o : owned.entrySet()) {
      ownedByUpstream.merge(o.getKey().upstream(), 1, Integer::sum);
      if (!want.containsKey(o.getKey()) && !drainer.draining(o.getKey())) {
        orphansByUpstream.computeIfAbsent(o.getKey().upstream(), u -> new ArrayList<>()).add(o.getKey());
      }
    }
    Map<Server, Long> nextHeld = new HashMap<>();
    long now = System.nanoTime();
    long confirmAfter = config.reconcileEvery().toNanos() / 2;
    for (Map.Entry<String, List<Server>> e : orphansByUpstream.entrySet()) {
      List<Server> orphans = e.getValue();
      int total = ownedByUpstream.get(e.getKey());
      boolean mass = orphans.size() > 1 && orphans.size() > config.massRemovalShare() * total;
      for (Server s : orphans) {
        reconciliation.drift("orphan");
        Long heldSince = heldMassRemoval.get(s);
        if (mass && (heldSince == null || now - heldSince < confirmAfter)) {
          nextHeld.put(s, heldSince == null ? now : heldSince);
          continue;
        }
        try {
          removeOrphan(s, owned.get(s));
        } catch (SinkException ex) {
          log.log(Level.WARNING, "reconcile could not drain {0}/{1}: sink={2} error={3}",
              s.upstream(), s.address(), context.name(), ex.getMessage());
          if (ex.deferral() == null) {
            reports.failingToLeave(drainer.leavingPodsAt(s), "draining " + s.upstream() + "/" + s.address()
                + " failed, retried: " + ex.getMessage());
          }
          if (ex.retriable() && firstFailure == null) {
            firstFailure = ex;
          }
        }
      }
      if (mass) {
        long newlyHeld = orphans.stream().filter(o -> nextHeld.containsKey(o) && !heldMassRemoval.containsKey(o)).count();
        if (newlyHeld > 0) {
          held.inc("mass_removal");
          log.log(Level.WARNING, "reconcile would remove {0} of {1} servers of upstream {2}: held until the next pass confirms: sink={3}",
              orphans.size(), total, e.getKey(), context.name());
        }
      }
    }
    heldMassRemoval = Map.copyOf(nextHeld);
    return firstFailure;
  }

  /**
   * Entries with the cluster's default mark that no pod of ours wants: another daemon's of the same
   * cluster name (another team's), or left by ours before it had an owner id. Only the default
   * owner removes them; each is counted and logged once while it stays.
   */
  private void leaveToTheirOwner(Map<Server, UpsyncEntry> want, Map<Server, UpsyncEntry> defaultMarked) {
    Set<Server> left = new HashSet<>();
    for (Server s : defaultMarked.keySet()) {
      if (!want.containsKey(s)) {
        left.add(s);
      }
    }
    long fresh = left.stream().filter(s -> !heldOtherOwner.contains(s)).count();
    if (fresh > 0) {
      held.inc(fresh, "other_owner");
      log.log(Level.INFO, "reconcile left {0} entries with the default mark to their owner (the daemon whose ownerId is the cluster name):"
          + " no pod of ours wants them: sink={1}", fresh, context.name());
    }
    heldOtherOwner = Set.copyOf(left);
  }

  /** A wanted server found up, as wanted: online, for the pods that want it now (under its lock, so a drain racing the pass reports after). */
  private void foundUp(Server s) {
    try (UpstreamLocks.Held h = locks.shared(s)) {
      desired.podsWanting(s).forEach(reports::online);
    }
  }

  /**
   * Offline for each selected pod of these clusters that is not desired online, has no entry at its
   * address in this pass's listing and no deletion pending: nothing of it is there. Under the lock of
   * its server, so a registration racing the pass is either in the listing or reported after; a pod
   * whose entry this process may have written since the listing is read again first. A pod desired
   * online that nginx-upsync cannot take (no IPv4 address) is failing.
   */
  private void reportNotOnline(Set<String> clusters, Map<String, Map<String, Map<String, UpstreamRegistry.Listed>>> actual,
                               Set<String> draining) {
    Map<String, Set<String>> listed = new HashMap<>();
    actual.forEach((cluster, ups) -> ups.values().forEach(servers ->
        listed.computeIfAbsent(cluster, c -> new HashSet<>()).addAll(servers.keySet())));
    for (PodState p : context.pods().pods(clusters)) {
      if (!context.selector().matches(p) || draining.contains(p.key())) {
        continue;
      }
      if (context.desiredOnline(p)) {
        if (!DesiredServers.ipv4(p)) {
          reports.failing(p, UpstreamSink.NOT_IPV4);
        }
        continue;
      }
      if (p.address() != null && listed.getOrDefault(p.cluster(), Set.of()).contains(p.address())) {
        continue;
      }
      Server s = desired.serverIfAny(p);
      if (s == null) {
        reports.absent(p);
        continue;
      }
      try (UpstreamLocks.Held h = locks.shared(s)) {
        PodState now = desired.current(p); // again under the lock: a change may have made it wanted since the snapshot
        if ((now != null && context.desiredOnline(now))
            || (reports.mayBeUp(p.key()) && registry.present(s.cluster(), s.upstream(), s.address()))) {
          continue;
        }
        reports.absent(p);
      } catch (SinkException e) {
        log.log(Level.DEBUG, "could not read {0}; its pod is reported by a later pass: sink={1} error={2}", s, context.name(), e.getMessage());
      }
    }
  }

  private void removeOrphan(Server s, UpsyncEntry found) throws SinkException {
    boolean finish = false;
    try (UpstreamLocks.Held h = locks.shared(s)) {
      if (desired.wanted(s)) {
        return;
      }
      if (!found.down()) {
        drainer.drain(s, found.withDown(true), null);
      } else if (drainer.heldAsLast(s)) {
        finish = true; // its drain delay is over: only the last-server rule keeps it
      } else {
        // Down when this pass found it (a restart, or a takeover mid-drain): how long is unknown, so it gets a whole drain delay.
        log.log(Level.INFO, "found draining: sink={0} upstream={1} server={2} deleteInMs={3}",
            context.name(), s.upstream(), s.address(), config.drainDelay().toMillis());
        List<PodState> pods = drainer.leavingPodsAt(s);
        reports.draining(pods);
        drainer.scheduleDeletion(s, config.drainDelay().toMillis(), pods);
      }
    }
    if (finish) {
      drainer.finishDrain(s); // takes the upstream alone: not under the shared lock
    }
  }
}

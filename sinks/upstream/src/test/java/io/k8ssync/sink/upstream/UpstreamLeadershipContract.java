package io.k8ssync.sink.upstream;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.TestSinkContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What every registry sink promises under leadership changes, run against a real registry by each
 * registry module (ZooKeeper, Consul): no deletion after the Lease is lost, no write without enough
 * Lease left, never an empty upstream because of what a replica remembered from an earlier term,
 * and a reconcile as soon as the initial list or a new term arrives.
 *
 * <p>Two sinks on one registry play two replicas of one cluster ("c1"); each has its own context,
 * and both see the same pods, as two warm caches would.
 */
public abstract class UpstreamLeadershipContract {

  /** The sink type under test. */
  protected abstract SinkFactory factory();

  /** The connection keys of the real registry (url, connect, ...), plus anything the type needs. */
  protected abstract Map<String, Object> connection();

  /** The servers of an upstream, read as nginx-upsync reads them: address → entry. */
  protected abstract Map<String, UpsyncEntry> upstream(String name) throws Exception;

  private final List<Sink> sinks = new ArrayList<>();
  private final List<TestSinkContext> contexts = new ArrayList<>();

  @AfterEach
  void closeSinks() {
    sinks.forEach(Sink::close);
  }

  /** A replica's sink: drain delay 300 ms, reconcile only when told (or after an hour). */
  protected final Replica replica(Map<String, Object> extra) throws Exception {
    return replica(extra, true);
  }

  /** A replica whose cache has ({@code synced}) or has not yet delivered its initial list when it starts. */
  protected final Replica replica(Map<String, Object> extra, boolean synced) throws Exception {
    Map<String, Object> c = new HashMap<>(connection());
    c.put("drainDelay", "300ms");
    c.put("reconcileEvery", "1h");
    c.putAll(extra);
    TestSinkContext ctx = new TestSinkContext("registry", factory().configDef(), c, Selector.ALL);
    ctx.synced = synced;
    Sink s = factory().create(ctx);
    s.start();
    sinks.add(s);
    contexts.add(ctx);
    return new Replica(s, ctx);
  }

  protected record Replica(Sink sink, TestSinkContext context) {

    void apply(PodState before, PodState after) throws SinkException {
      PodState any = after != null ? after : before;
      sink.apply(List.of(PodChange.of(any.key(), before, after)));
    }

    void stopLeading(long term) {
      context.led.clear();
      sink.leadershipChanged("c1", term, false);
    }

    void startLeading(long term) {
      context.led.add("c1");
      sink.leadershipChanged("c1", term, true);
    }
  }

  /** Every replica's cache sees the pod in this state now. */
  private void cacheHas(PodState p) {
    for (TestSinkContext c : contexts) {
      c.pods.removeIf(q -> q.key().equals(p.key()));
      c.pods.add(p);
    }
  }

  private static final Duration HOLD = Duration.ofMillis(1500);

  /** web-1 (10.0.0.1) and web-2 (10.0.0.2) registered by {@code r}, then web-1 stops being ready: drained, its deletion pending. */
  private void drainFirstOfTwo(Replica r) throws SinkException {
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.apply(null, p);
    r.apply(null, q);
    cacheHas(withReady(p, false));
    r.apply(p, withReady(p, false));
  }

  @Test
  void aDrainTimerOfAClusterLedElsewhereNowDeletesNothing() throws Exception {
    Replica r1 = replica(Map.of());
    Replica r2 = replica(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r1.apply(null, p);
    r1.apply(null, q);
    // r1 drains p, then is cut off: the Lease goes to r2, where p is ready again.
    r1.context.pods.removeIf(x -> x.key().equals(p.key()));
    r1.context.pods.add(withReady(p, false));
    r1.apply(p, withReady(p, false));
    assertTrue(upstream("web").get("10.0.0.1:8080").down());
    r1.stopLeading(1);
    r2.apply(withReady(p, false), p);
    assertFalse(upstream("web").get("10.0.0.1:8080").down());

    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> {
      UpsyncEntry e = upstream("web").get("10.0.0.1:8080");
      return e != null && !e.down();
    });
    assertEquals(1.0, r1.context.metric("upstream_drains_disowned_total"));
  }

  @Test
  void aDeletionScheduledInAnEarlierTermIsDropped() throws Exception {
    Replica r1 = replica(Map.of());
    drainFirstOfTwo(r1);
    // The Lease went away and came back before the sink heard of it (the news races the timer):
    // another replica led in between and may have registered p again.
    r1.context.term = 1;

    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> upstream("web").containsKey("10.0.0.1:8080"));
    assertEquals(1.0, r1.context.metric("upstream_drains_disowned_total"));
  }

  @Test
  void noDeletionWhileTheLeaseRenewalIsOverdueThenItGoesOn() throws Exception {
    Replica r1 = replica(Map.of());
    drainFirstOfTwo(r1);
    // Still the leader as far as the elector said, but the renewal is late: less Lease left than a call.
    r1.context.budget = Duration.ofMillis(1);

    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> upstream("web").containsKey("10.0.0.1:8080"));
    r1.context.budget = TestSinkContext.FOREVER;
    await().atMost(Duration.ofSeconds(10)).until(() -> !upstream("web").containsKey("10.0.0.1:8080"));
    assertTrue(upstream("web").containsKey("10.0.0.2:8080"));
  }

  @Test
  void noWriteStartsWithoutEnoughLeaseLeft() throws Exception {
    Replica r1 = replica(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    r1.context.budget = Duration.ofMillis(1);
    SinkException e = assertThrows(SinkException.class, () -> r1.apply(null, p));
    assertTrue(e.retriable(), "a refused write is retried, never dropped");
    // A hold, not a failure: a step-down must not count as the sink failing (readyz, alerts).
    assertNotNull(e.deferral(), "held for a moment, not failed: " + e.getMessage());
    assertTrue(upstream("web").isEmpty());
    assertEquals(1.0, r1.context.metric("upstream_writes_refused_total", "lease_short"));

    r1.context.led.clear();
    assertThrows(SinkException.class, () -> r1.apply(null, p));
    assertEquals(1.0, r1.context.metric("upstream_writes_refused_total", "not_leader"));
    assertTrue(upstream("web").isEmpty());
  }

  @Test
  void aReplicaLeadingAgainNeverDeletesTheRealLastServer() throws Exception {
    Replica r1 = replica(Map.of());
    Replica r2 = replica(Map.of());
    PodState a = ready("web-1", "10.0.0.1");
    PodState b = ready("web-2", "10.0.0.2");
    cacheHas(a);
    cacheHas(b);
    r1.apply(null, a);
    r1.apply(null, b);
    // r1 stands by; r2 leads and removes a (b stays).
    r1.stopLeading(1);
    cacheHas(withReady(a, false));
    r2.apply(a, withReady(a, false));
    await().atMost(Duration.ofSeconds(10)).until(() -> !upstream("web").containsKey("10.0.0.1:8080"));
    r2.stopLeading(1);
    // r1 leads again; b, the last server, stops being ready.
    r1.startLeading(2);
    cacheHas(withReady(b, false));
    r1.apply(b, withReady(b, false));

    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> {
      Map<String, UpsyncEntry> web = upstream("web");
      return web.size() == 1 && web.get("10.0.0.2:8080").down();
    });
    assertEquals(1.0, r1.context.metric("upstream_removals_held_total", "last_server"));
  }

  /**
   * A standby reads the registry when its initial list is complete, so its first write as leader
   * need not (issue 19, target 7): the read changes nothing, whatever its cache says, and the write
   * after a takeover lands.
   */
  @Test
  void aStandbyReadsTheRegistryAtItsInitialListWritesNothingAndWritesOnceItLeads() throws Exception {
    Replica leader = replica(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    leader.apply(null, p);
    Replica standby = replica(Map.of(), false);
    standby.context.led.clear();
    cacheHas(withReady(p, false)); // the standby's cache says p went unready: a pass would drain it
    standby.context.synced = true;
    standby.sink.podsSynced();
    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> upstream("web").size() == 1
        && !upstream("web").get("10.0.0.1:8080").down());

    leader.stopLeading(1);
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(q);
    standby.startLeading(2);
    standby.apply(null, q);
    assertFalse(upstream("web").get("10.0.0.2:8080").down(), "its first write after the takeover");
  }

  @Test
  void theFirstReconcileRunsWhenTheInitialListArrives() throws Exception {
    // An earlier run registered p; while no daemon ran, p stopped being ready.
    Replica before = replica(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    before.apply(null, p);
    before.apply(null, q);
    before.sink.close();

    Replica restarted = replica(Map.of(), false);
    restarted.context.pods.clear();
    restarted.context.pods.add(withReady(p, false));
    restarted.context.pods.add(q);
    // A large cluster's initial list takes a while: no pass may run on a partial cache meanwhile.
    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> restarted.context.metric("reconcile_runs_total", "ok") == 0
        && !upstream("web").get("10.0.0.1:8080").down());
    restarted.context.synced = true;
    restarted.sink.podsSynced();

    await().atMost(Duration.ofSeconds(10)).until(() -> {
      UpsyncEntry e = upstream("web").get("10.0.0.1:8080");
      return e == null || e.down();
    });
  }

  /**
   * At a start the whole initial list is on its way to the sink while the first pass lists the
   * registry, and both wrote the same entries (the pass's check-and-set losing to the change's, then a
   * read per refused key). A pass leaves the entry of a pod with a change on its way to that change,
   * counted, and repairs the others.
   */
  @Test
  void aPassLeavesTheEntryOfAPodWithAChangeOnItsWayToThatChange() throws Exception {
    Replica r = replica(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.context.pending.add(p.key());

    UpstreamTestAccess.reconcile(r.sink);
    assertFalse(upstream("web").get("10.0.0.2:8080").down(), "repaired");
    assertNull(upstream("web").get("10.0.0.1:8080"), "left to its change");
    assertEquals(1.0, r.context.metric("reconcile_left_to_changes_total"));
    assertEquals(1.0, r.context.metric("reconcile_drift_total", "missing"), "what was left is no drift");

    r.apply(null, p);
    r.context.pending.remove(p.key());
    assertFalse(upstream("web").get("10.0.0.1:8080").down(), "written by its change");
  }

  @Test
  void aMassRemovalIsNotConfirmedByAPassRightAfterTheOneThatHeldIt() throws Exception {
    Replica r1 = replica(Map.of());
    List<PodState> pods = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      PodState p = ready("web-" + i, "10.0.0." + i);
      pods.add(p);
      cacheHas(p);
      r1.apply(null, p);
    }
    // A cache gone wrong at start (a bad selector, a partial list): three of four servers look orphaned.
    for (int i = 1; i <= 3; i++) {
      PodState p = pods.get(i - 1);
      r1.context.pods.removeIf(x -> x.key().equals(p.key()));
    }
    UpstreamTestAccess.reconcile(r1.sink);
    assertEquals(1.0, r1.context.metric("upstream_removals_held_total", "mass_removal"));
    // The initial list and a new term queue passes back to back: the second is no confirmation.
    UpstreamTestAccess.reconcile(r1.sink);
    assertEquals(4, upstream("web").values().stream().filter(e -> !e.down()).count());
  }

  @Test
  void aNewTermReconcilesAtOnce() throws Exception {
    Replica r1 = replica(Map.of());
    r1.sink.podsSynced();
    await().atMost(Duration.ofSeconds(10)).until(() -> r1.context.metric("reconcile_runs_total", "ok") >= 1);
    r1.stopLeading(1);
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    // While r1 stood by, nobody registered p (its leader never did): the new term repairs it at once.
    r1.startLeading(2);
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream("web").containsKey("10.0.0.1:8080"));
  }
  /**
   * A takeover's pass (10,000 entries listed and compared) waits until the new term's first write is
   * done, so it does not compete with it for the CPU, the server locks and the connection; at most
   * a second, when there is nothing to write. It still runs in every new term.
   */
  @Test
  void aTakeoversPassStartsAfterTheNewTermsFirstWrite() throws Exception {
    Replica r1 = replica(Map.of());
    r1.sink.podsSynced();
    await().atMost(Duration.ofSeconds(10)).until(() -> r1.context.metric("reconcile_runs_total", "ok") >= 1);
    r1.stopLeading(1);
    double runs = r1.context.metric("reconcile_runs_total", "ok");
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    r1.startLeading(2);
    await().during(Duration.ofMillis(400)).atMost(Duration.ofSeconds(1))
        .until(() -> r1.context.metric("reconcile_runs_total", "ok") == runs);
    r1.apply(null, p); // the fresh change, first
    await().atMost(Duration.ofSeconds(10)).until(() -> r1.context.metric("reconcile_runs_total", "ok") > runs);
    assertTrue(upstream("web").containsKey("10.0.0.1:8080"));
  }
}

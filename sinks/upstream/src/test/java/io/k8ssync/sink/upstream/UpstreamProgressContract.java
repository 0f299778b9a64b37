package io.k8ssync.sink.upstream;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withService;
import static io.k8ssync.sink.PodStates.withTerminating;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.upstream.RecordingProgress.Report;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What every registry sink reports of each pod (issue 16: the readiness gate and the preStop
 * offline wait decide from it), run against a real registry by each registry module. Each report is
 * checked against the registry as nginx-upsync reads it at the very moment of the report: online
 * only once the entry is up, draining only once it is down, offline only once it is gone (or down
 * for a whole drain delay as the last server), and never offline from what a restarted sink does
 * not know.
 */
public abstract class UpstreamProgressContract {

  /** The sink type under test. */
  protected abstract SinkFactory factory();

  /** The connection keys of the real registry, through a path {@link #cut} can break (the test's reads go around it). */
  protected abstract Map<String, Object> connection();

  /** The servers of an upstream, read as nginx-upsync reads them: address → entry. */
  protected abstract Map<String, UpsyncEntry> upstream(String name) throws Exception;

  /** Breaks the sinks' way to the registry until {@link #restore}. */
  protected abstract void cut() throws Exception;

  protected abstract void restore() throws Exception;

  private static final Duration DRAIN = Duration.ofMillis(500);
  private static final Duration HOLD = Duration.ofMillis(1500);

  private final List<Sink> sinks = new ArrayList<>();
  private final List<TestSinkContext> contexts = new ArrayList<>();

  @AfterEach
  void closeSinks() {
    sinks.forEach(Sink::close);
  }

  protected record Replica(Sink sink, TestSinkContext context, RecordingProgress progress) {

    void apply(PodState before, PodState after) throws SinkException {
      PodState any = after != null ? after : before;
      sink.apply(List.of(PodChange.of(any.key(), before, after)));
    }
  }

  /** A replica's sink (drain delay 500 ms, reconcile only when told) whose reports see the registry as they are made. */
  private Replica replica(boolean synced) throws Exception {
    Map<String, Object> c = new HashMap<>(connection());
    c.put("drainDelay", DRAIN.toMillis() + "ms");
    c.put("reconcileEvery", "1h");
    TestSinkContext ctx = new TestSinkContext("registry", factory().configDef(), c, Selector.ALL);
    ctx.synced = synced;
    RecordingProgress progress = new RecordingProgress(this::seen);
    Sink s = factory().create(progress.context(ctx));
    s.start();
    sinks.add(s);
    contexts.add(ctx);
    return new Replica(s, ctx, progress);
  }

  /** The pod's entry in its upstream (named after its service) right now; null when there is none. */
  private Object seen(PodState pod) {
    try {
      return pod.address() == null || pod.service() == null ? null : upstream(pod.service()).get(pod.address());
    } catch (Exception e) {
      return "unreadable: " + e;
    }
  }

  /** Every replica's cache sees the pod in this state now. */
  private void cacheHas(PodState p) {
    for (TestSinkContext c : contexts) {
      c.pods.removeIf(q -> q.key().equals(p.key()));
      c.pods.add(p);
    }
  }

  private static UpsyncEntry entry(Report r) {
    assertTrue(r.seen() instanceof UpsyncEntry, r.kind() + " of " + r.pod().name() + " reported while the registry held no entry: " + r.seen());
    return (UpsyncEntry) r.seen();
  }

  private static Report only(RecordingProgress progress, String name, String kind) {
    List<Report> of = progress.of(name).stream().filter(r -> r.kind().equals(kind)).toList();
    assertEquals(1, of.size(), kind + " reports of " + name + ": " + progress.of(name));
    return of.get(0);
  }

  @Test
  void onlineIsReportedOnlyOnceTheEntryIsUpInTheRegistry() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    r.apply(null, p);

    assertEquals(List.of("online"), r.progress.kinds("web-1"));
    Report online = r.progress.last("web-1");
    assertFalse(entry(online).down(), "up when reported online");
    assertEquals(p, online.pod());
  }

  @Test
  void drainingOnlyOnceDownIsWrittenAndOfflineOnlyOnceDeletedNotBeforeTheDrainDelay() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.apply(null, p);
    r.apply(null, q);
    PodState unready = withReady(p, false);
    cacheHas(unready);
    r.apply(p, unready);

    Report draining = only(r.progress, "web-1", "draining");
    assertTrue(entry(draining).down(), "down:1 written when reported draining");
    assertEquals(unready, draining.pod(), "the pod as it is now");
    await().atMost(Duration.ofSeconds(10)).until(() -> r.progress.kinds("web-1").contains("offline"));
    Report offline = only(r.progress, "web-1", "offline");
    assertNull(offline.seen(), "deleted when reported offline");
    assertTrue(offline.atNanos() - draining.atNanos() >= DRAIN.toNanos(),
        "offline " + (offline.atNanos() - draining.atNanos()) / 1_000_000 + " ms after draining, less than the drain delay");
    assertEquals(List.of("online", "draining", "offline"), r.progress.kinds("web-1"));
    assertEquals(List.of("online"), r.progress.kinds("web-2"));
  }

  /**
   * The last server of an upstream is never deleted (nginx-upsync would keep its old list): it stays
   * down:1, and nginx sends it nothing, so its pod is offline once it has been down a whole drain delay.
   */
  @Test
  void theLastServerIsOfflineOnceDownForTheDrainDelayThoughItStaysListed() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    cacheHas(p);
    r.apply(null, p);
    PodState leaving = withTerminating(p);
    cacheHas(leaving);
    r.apply(p, leaving);

    Report draining = only(r.progress, "web-1", "draining");
    await().atMost(Duration.ofSeconds(10)).until(() -> r.progress.kinds("web-1").contains("offline"));
    Report offline = only(r.progress, "web-1", "offline");
    assertTrue(entry(offline).down(), "still listed, down, when reported offline");
    assertTrue(offline.atNanos() - draining.atNanos() >= DRAIN.toNanos(), "not before the drain delay");
    assertTrue(upstream("web").get("10.0.0.1:8080").down());
  }

  @Test
  void aTakeoverReconcileReportsWhatThePreviousLeaderDid() throws Exception {
    Replica old = replica(true);
    Replica next = replica(true);
    next.context.led.clear(); // a standby
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    PodState x = ready("web-3", "10.0.0.3");
    for (PodState s : List.of(p, q, x)) {
      cacheHas(s);
      old.apply(null, s);
    }
    // The old leader drains x, then loses the Lease before deleting it.
    cacheHas(withReady(x, false));
    old.apply(x, withReady(x, false));
    old.context.led.clear();
    old.sink.leadershipChanged("c1", 0, false);
    assertTrue(next.progress.reports.isEmpty());

    next.context.led.add("c1");
    next.sink.leadershipChanged("c1", 1, true);

    await().atMost(Duration.ofSeconds(10)).until(() -> next.progress.kinds("web-1").contains("online")
        && next.progress.kinds("web-2").contains("online") && next.progress.kinds("web-3").contains("offline"));
    assertFalse(entry(only(next.progress, "web-1", "online")).down());
    assertFalse(entry(only(next.progress, "web-2", "online")).down());
    assertEquals(0.0, next.context.metric("upstream_entries_written_total"), "found as the old leader left them, not written again");
    assertEquals(List.of("draining", "offline"), next.progress.kinds("web-3"));
    assertTrue(entry(only(next.progress, "web-3", "draining")).down());
    assertNull(only(next.progress, "web-3", "offline").seen(), "offline once the new leader deleted it");
  }

  @Test
  void aRestartedSinkReportsNoOfflineForATerminatingPodWhoseEntryIsThereUntilItIsRemoved() throws Exception {
    Replica before = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    before.apply(null, p);
    before.apply(null, q);
    before.sink.close();

    // While no daemon ran, p began terminating; the restarted sink hears of it in the initial list.
    Replica restarted = replica(false);
    PodState leaving = withTerminating(p);
    restarted.context.pods.clear();
    restarted.context.pods.add(leaving);
    restarted.context.pods.add(q);
    restarted.apply(null, leaving);
    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> restarted.progress.of("web-1").isEmpty());
    assertFalse(upstream("web").get("10.0.0.1:8080").down(), "the earlier run's entry is still up");

    restarted.context.synced = true;
    restarted.sink.podsSynced();
    await().atMost(Duration.ofSeconds(10)).until(() -> restarted.progress.kinds("web-1").contains("offline"));
    assertEquals(List.of("draining", "offline"), restarted.progress.kinds("web-1"));
    assertNull(restarted.progress.last("web-1").seen(), "offline only once the entry is gone");
    assertEquals(List.of("online"), restarted.progress.kinds("web-2"));
  }

  @Test
  void anApplyReportsOfflineForAPodNeverOnlineOnceItFoundItsKeyAbsent() throws Exception {
    Replica r = replica(true);
    PodState starting = withReady(ready("web-1", "10.0.0.1"), false);
    PodState pending = withIp(withReady(ready("web-2", "10.0.0.2"), false), null);
    cacheHas(starting);
    cacheHas(pending);
    r.apply(null, starting);
    r.apply(null, pending);

    assertEquals(List.of("offline"), r.progress.kinds("web-1"));
    assertEquals(List.of("offline"), r.progress.kinds("web-2"));
    assertTrue(upstream("web").isEmpty());
  }

  @Test
  void aReconcilePassReportsEveryPodItLookedAt() throws Exception {
    Replica r = replica(true);
    PodState missing = ready("web-1", "10.0.0.1"); // desired online, never written: repaired
    PodState unready = withReady(ready("web-2", "10.0.0.2"), false);
    PodState ipv6 = withIp(ready("web-3", "10.0.0.3"), "fd00::3");
    cacheHas(missing);
    cacheHas(unready);
    cacheHas(ipv6);

    UpstreamTestAccess.reconcile(r.sink);

    assertEquals(List.of("online"), r.progress.kinds("web-1"));
    assertFalse(entry(r.progress.last("web-1")).down(), "online once the repair is written");
    assertEquals(List.of("offline"), r.progress.kinds("web-2"));
    assertEquals(List.of("failing"), r.progress.kinds("web-3"));
    assertTrue(r.progress.last("web-3").error().contains("IPv4"), r.progress.last("web-3").error());
  }

  @Test
  void aPodThatMovedToAnotherUpstreamIsOnlineThereAndNeverReportedLeavingItsOldOne() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.apply(null, p);
    r.apply(null, q);
    PodState moved = withService(p, "api");
    cacheHas(moved);
    r.apply(p, moved);

    await().atMost(Duration.ofSeconds(10)).until(() -> !upstream("web").containsKey("10.0.0.1:8080"));
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> r.progress.kinds("web-1").size() == 2);
    assertEquals(List.of("online", "online"), r.progress.kinds("web-1"));
    assertEquals("api", r.progress.last("web-1").pod().service());
    assertFalse(entry(r.progress.last("web-1")).down());
  }

  @Test
  void aDeletionHeldForWantOfLeaseIsNoFailure() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.apply(null, p);
    r.apply(null, q);
    cacheHas(withReady(p, false));
    r.apply(p, withReady(p, false));
    // Still the leader, but its renewal is late: the deletion waits, and that is not the sink failing.
    r.context.budget = Duration.ofMillis(1);

    await().during(HOLD).atMost(HOLD.plusSeconds(5)).until(() -> r.progress.kinds("web-1").equals(List.of("online", "draining")));
    r.context.budget = TestSinkContext.FOREVER;
    await().atMost(Duration.ofSeconds(10)).until(() -> r.progress.kinds("web-1").contains("offline"));
    assertEquals(List.of("online", "draining", "offline"), r.progress.kinds("web-1"));
  }

  @Test
  void aDeletionThatFailsIsReportedFailingThenOfflineOnceItIsDone() throws Exception {
    Replica r = replica(true);
    PodState p = ready("web-1", "10.0.0.1");
    PodState q = ready("web-2", "10.0.0.2");
    cacheHas(p);
    cacheHas(q);
    r.apply(null, p);
    r.apply(null, q);
    cacheHas(withReady(p, false));
    r.apply(p, withReady(p, false));
    cut();
    try {
      await().atMost(Duration.ofSeconds(30)).until(() -> r.progress.kinds("web-1").contains("failing"));
    } finally {
      restore();
    }
    Report failing = r.progress.of("web-1").stream().filter(x -> x.kind().equals("failing")).findFirst().orElseThrow();
    assertNotNull(failing.error());
    assertTrue(failing.error().startsWith("deleting drained server web/10.0.0.1:8080 failed"), failing.error());
    assertTrue(entry(failing).down(), "still there, down, while failing");

    await().atMost(Duration.ofSeconds(60)).until(() -> "offline".equals(r.progress.last("web-1").kind()));
    assertNull(r.progress.last("web-1").seen(), "offline once deleted");
    assertFalse(r.progress.kinds("web-2").contains("failing"), "only the pod whose write failed");
  }
}

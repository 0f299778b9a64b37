package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the http sink reports of each pod (issue 16: the readiness gate and the preStop offline wait
 * decide from it), against a real HTTP server playing the gateway. Each report records what the
 * gateway had answered at that moment.
 */
class HttpSinkProgressTest {

  /** One report, with the calls the gateway had answered when it was made. */
  record Report(String kind, PodState pod, String error, List<String> answered) {}

  private final RecordingTarget target;
  private final List<Report> reports = new CopyOnWriteArrayList<>();
  /** Calls the gateway answered, in order: {@code kind} from the path. */
  private final List<String> answered = new CopyOnWriteArrayList<>();
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  /** The sink's clock (epoch millis): a term begins at its reading. */
  private final AtomicLong millis = new AtomicLong(1_700_000_000_000L);
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkProgressTest() throws Exception {
    target = new RecordingTarget();
    target.onCall = call -> answered.add(call.path().replaceAll("^/([^/]+).*", "$1"));
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  private final Progress progress = new Progress() {
    @Override public void online(PodState pod) { add("online", pod, null); }
    @Override public void draining(PodState pod) { add("draining", pod, null); }
    @Override public void offline(PodState pod) { add("offline", pod, null); }
    @Override public void failing(PodState pod, String error) { add("failing", pod, error); }

    private void add(String kind, PodState pod, String error) {
      reports.add(new Report(kind, pod, error, List.copyOf(answered)));
    }
  };

  /** A sink leading c1 in term 0 from the clock's reading now, its initial list complete, reporting here. */
  private void sink(Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>();
    c.put("online", Map.of("url", target.url() + "/online/{service}?ip={ip}&token=s3cr3t"));
    c.put("offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}&token=s3cr3t",
        "headers", Map.of("X-Api-Key", "k3y-{service}")));
    c.put("timeout", "2s");
    c.putAll(extra);
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    SinkContext reporting = new SinkContext() {
      @Override public String name() { return context.name(); }
      @Override public io.k8ssync.sink.config.Config config() { return context.config(); }
      @Override public Selector selector() { return context.selector(); }
      @Override public boolean dryRun() { return false; }
      @Override public io.k8ssync.sink.SinkMetrics metrics() { return context.metrics(); }
      @Override public io.k8ssync.sink.PodStateView pods() { return context.pods(); }
      @Override public Clock clock() { return Clock.fixed(Instant.ofEpochMilli(millis.get()), ZoneOffset.UTC); }
      @Override public java.util.Set<String> clusters() { return context.clusters(); }
      @Override public long leadershipTerm(String cluster) { return context.leadershipTerm(cluster); }
      @Override public boolean leads(String cluster) { return context.leads(cluster); }
      @Override public Duration writeBudget(String cluster) { return context.writeBudget(cluster); }
      @Override public Progress progress() { return progress; }
    };
    sink = new HttpSink(reporting, HttpTarget.from(reporting), nanos::get);
    sink.leadershipChanged("c1", 0, true);
    sink.start();
    sink.podsSynced();
  }

  private void apply(PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    context.pods.removeIf(p -> p.key().equals(any.key()));
    if (after != null) {
      context.pods.add(after);
    }
    sink.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  private List<String> kinds(String name) {
    return reports.stream().filter(r -> r.pod().name().equals(name)).map(Report::kind).toList();
  }

  private Report last(String name, String kind) {
    List<Report> of = reports.stream().filter(r -> r.pod().name().equals(name) && r.kind().equals(kind)).toList();
    assertFalse(of.isEmpty(), "no " + kind + " report of " + name + ": " + reports);
    return of.get(of.size() - 1);
  }

  /** A pod created {@code afterTermMillis} after this sink began leading c1. */
  private PodState createdLater(String name, String ip, long afterTermMillis) {
    PodState p = ready(name, ip);
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        millis.get() + afterTermMillis, p.readySinceMillis(), p.rejection());
  }

  @Test
  void onlineOnlyOnceTheOnlineAnswered2xxAfterTheWarmup() throws Exception {
    sink(Map.of("warmup", "10s"));
    PodState p = ready("web-1", "10.0.0.1");
    SinkException held = assertThrows(SinkException.class, () -> apply(null, p));
    assertNotNull(held.deferral(), "warming up: held, not failed");
    assertTrue(reports.isEmpty(), "nothing reported while warming up: " + reports);

    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    CountDownLatch answer = new CountDownLatch(1);
    target.reply("/online", new RecordingTarget.Reply(200, "", answer));
    CompletableFuture<Void> applying = CompletableFuture.runAsync(() -> {
      try {
        apply(null, p);
      } catch (SinkException e) {
        throw new IllegalStateException(e);
      }
    });
    await().until(() -> target.calls.size() == 1);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(reports::isEmpty);
    answer.countDown();
    applying.get();

    assertEquals(List.of("online"), kinds("web-1"));
    assertEquals(List.of("online"), last("web-1", "online").answered(), "reported once the gateway answered the online");
    assertEquals(p, last("web-1", "online").pod());
  }

  @Test
  void aFailedOnlineIsNotOnlineAndItsErrorShowsNoUrlNorHeader() throws Exception {
    sink(Map.of());
    target.reply("/online", new RecordingTarget.Reply(503, "busy"));
    PodState p = ready("web-1", "10.0.0.1");
    SinkException e = assertThrows(SinkException.class, () -> apply(null, p));
    assertTrue(reports.isEmpty(), "the daemon reports a failed change itself: " + reports);
    // What the daemon reports as failing, and what kubectl describe pod would show:
    assertTrue(e.getMessage().contains("status 503"), e.getMessage());
    assertFalse(e.getMessage().contains("s3cr3t"), e.getMessage());
    assertFalse(e.getMessage().contains("/online"), "no path: it may carry a pod's values or a secret: " + e.getMessage());

    apply(null, p);
    assertEquals(List.of("online"), kinds("web-1"));
  }

  @Test
  void drainingWhileTheDrainCheckRunsOfflineOnceItPassed() throws Exception {
    sink(Map.of("drain", Map.of("url", target.url() + "/drain?ip={ip}", "interval", "20ms", "maxWait", "30s")));
    target.reply("/drain", new RecordingTarget.Reply(200, "3"), new RecordingTarget.Reply(200, "1"),
        new RecordingTarget.Reply(200, "0"));
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    PodState leaving = withTerminating(p);
    apply(p, leaving);

    Report draining = last("web-1", "draining");
    assertEquals(List.of("online", "offline"), draining.answered(), "draining once the offline answered");
    assertEquals(p, draining.pod(), "the registration taken offline, as it was put online");
    await().atMost(Duration.ofSeconds(10)).until(() -> kinds("web-1").contains("offline"));
    assertEquals(List.of("online", "draining", "offline"), kinds("web-1"));
    assertEquals(List.of("online", "offline", "drain", "drain", "drain"), last("web-1", "offline").answered(),
        "offline only once the drain check answered 0");
  }

  @Test
  void withoutADrainCheckOfflineOnceTheOfflineAnswered() throws Exception {
    sink(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    apply(p, withReady(p, false));

    assertEquals(List.of("online", "offline"), kinds("web-1"));
    assertEquals(List.of("online", "offline"), last("web-1", "offline").answered());
  }

  @Test
  void anOfflineTheGatewayRejectsAsUnknownIsOffline() throws Exception {
    sink(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    target.reply("/offline", new RecordingTarget.Reply(404, "no such instance"));
    apply(p, null);

    assertEquals(List.of("online", "offline"), kinds("web-1"));
  }

  @Test
  void aFailedOfflineIsNotOffline() throws Exception {
    sink(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    target.reply("/offline", new RecordingTarget.Reply(503, ""));
    assertThrows(SinkException.class, () -> apply(p, withReady(p, false)));
    assertEquals(List.of("online"), kinds("web-1"));
  }

  @Test
  void aPodNeverOnlineIsOfflineOnlyWhenNobodyElseCanHavePutItOnline() throws Exception {
    sink(Map.of());
    // Created after this replica began leading c1: only it could have sent an online, and it has no record.
    PodState fresh = withReady(createdLater("web-1", "10.0.0.1", 60_000), false);
    apply(null, fresh);
    assertEquals(List.of("offline"), kinds("web-1"));
    assertTrue(target.calls.isEmpty());

    // Created before: an earlier run, or another replica, may have put it online. Not known, so not reported.
    PodState older = withTerminating(ready("web-2", "10.0.0.2"));
    apply(null, older);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> kinds("web-2").isEmpty());
  }

  @Test
  void aNewTermReassertsAndReportsWhatItLearned() throws Exception {
    sink(Map.of("reassertEvery", "1h"));
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    reports.clear();

    sink.leadershipChanged("c1", 0, false);
    context.term = 1;
    sink.leadershipChanged("c1", 1, true);

    await().atMost(Duration.ofSeconds(10)).until(() -> kinds("web-1").contains("online"));
    assertEquals(List.of("online", "online"), last("web-1", "online").answered(), "once the re-assertion was answered");
  }

  @Test
  void aFailedReassertionIsFailingWithAShortReason() throws Exception {
    sink(Map.of("reassertEvery", "1h"));
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    target.reply("/online", new RecordingTarget.Reply(503, "busy"));

    sink.leadershipChanged("c1", 0, false);
    context.term = 1;
    sink.leadershipChanged("c1", 1, true);

    await().atMost(Duration.ofSeconds(10)).until(() -> kinds("web-1").contains("failing"));
    String error = last("web-1", "failing").error();
    assertTrue(error.contains("status 503"), error);
    assertFalse(error.contains("s3cr3t") || error.contains("/online"), error);
  }

  @Test
  void aFailedRepeatedOfflineIsFailingUntilARepeatGoesThrough() throws Exception {
    sink(Map.of("timeout", "200ms", "repeatOfflineAfter", "100ms"));
    PodState p = ready("web-1", "10.0.0.1");
    // The online times out: it may still land, so its offline is repeated.
    CountDownLatch late = new CountDownLatch(1);
    target.reply("/online", new RecordingTarget.Reply(200, "", late));
    assertThrows(SinkException.class, () -> apply(null, p));
    late.countDown();
    target.reply("/offline", new RecordingTarget.Reply(200, ""), new RecordingTarget.Reply(503, "busy"));
    apply(p, withReady(p, false));
    assertEquals(List.of("offline"), kinds("web-1"));

    await().atMost(Duration.ofSeconds(10)).until(() -> kinds("web-1").contains("failing"));
    String error = last("web-1", "failing").error();
    assertTrue(error.startsWith("offline_repeat DELETE http://127.0.0.1:") && error.contains("status 503"), error);
    assertFalse(error.contains("s3cr3t") || error.contains("k3y"), "no query, no header value: " + error);
    await().atMost(Duration.ofSeconds(10)).until(() -> kinds("web-1").size() == 3);
    assertEquals(List.of("offline", "failing", "offline"), kinds("web-1"), "the next attempt went through");
  }

  @Test
  void aPodWhoseValuesCannotGoIntoTheOnlineIsFailing() throws Exception {
    sink(Map.of("online", Map.of("url", target.url() + "/online/{annotation.team}")));
    PodState p = io.k8ssync.sink.PodStates.withAnnotations(ready("web-1", "10.0.0.1"), Map.of("team", ".."));
    apply(null, p);

    assertEquals(List.of("failing"), kinds("web-1"));
    String error = last("web-1", "failing").error();
    assertTrue(error.contains("annotation.team"), error);
    assertFalse(error.contains(".."), "never the rejected value: " + error);
    assertTrue(target.calls.isEmpty());
  }
}

package io.k8ssync.sink.http;

import io.k8ssync.sink.template.Template;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withAnnotations;
import static io.k8ssync.sink.PodStates.withReadySince;
import static io.k8ssync.sink.PodStates.withServiceAndPort;
import static io.k8ssync.sink.PodStates.withWeight;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.config.ConfigException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HttpSinkTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final RecordingTarget target;
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkTest() throws Exception {
    target = new RecordingTarget();
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  private Map<String, Object> config(Map<String, Object> extra) {
    Map<String, Object> c = new HashMap<>();
    c.put("online", Map.of(
        "url", target.url() + "/online/{service}?ip={ip}&port={port}&team={annotation.team}",
        "headers", Map.of("X-Pod", "{namespace}/{pod}"),
        "body", Map.of("service", "{service}", "ip", "{ip}", "port", "{port}", "weight", "{weight}",
            "pod", "{namespace}/{pod}", "team", "{annotation.team}", "meta", Map.of("cluster", "{cluster}"))));
    c.put("offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}&port={port}"));
    c.put("timeout", "2s");
    c.putAll(extra);
    return c;
  }

  /** A sink told what the daemon tells it without leader election: c1 led in term 0, the initial list complete. */
  private HttpSink sink(Map<String, Object> extra) throws ConfigException {
    unsyncedSink(extra);
    sink.podsSynced();
    return sink;
  }

  private HttpSink unsyncedSink(Map<String, Object> extra) throws ConfigException {
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), config(extra), Selector.ALL);
    sink = new HttpSink(context, HttpTarget.from(context), now::get);
    sink.leadershipChanged("c1", 0, true);
    sink.start();
    return sink;
  }

  /** This replica lost the lead of c1 and took it back (or first took it, with leader election) in {@code term}. */
  private void lead(long term) {
    sink.leadershipChanged("c1", context.term, false);
    context.term = term;
    sink.leadershipChanged("c1", term, true);
  }

  private void apply(PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    sink.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  private static PodState pod(String name, String ip) {
    return ready(name, ip);
  }


  @Test
  void onlineCarriesEscapedPodFieldsInUrlHeaderAndJsonBody() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    assertEquals(1, target.calls.size());
    RecordingTarget.Call call = target.calls.get(0);
    assertEquals("POST", call.method());
    assertEquals("/online/web", call.path());
    assertEquals("ip=10.0.0.1&port=8080&team=", call.rawQuery());
    assertEquals("ns/web-1", call.header("X-pod"));
    assertEquals("application/json", call.header("Content-type"));
    JsonNode body = JSON.readTree(call.body());
    assertEquals("web", body.get("service").asText());
    assertEquals(8080, body.get("port").intValue(), "a lone {port} is a number");
    assertTrue(body.get("weight").isInt());
    assertEquals("10.0.0.1", body.get("ip").asText());
    assertEquals("c1", body.get("meta").get("cluster").asText());
    assertEquals(1.0, context.metric("http_calls_total", "online", "ok"));
  }

  @Test
  void hostileAnnotationValuesStayInTheirPlace() throws Exception {
    sink(Map.of());
    String hostile = "a&b=c/../../admin?x#y %2F<script>'";
    PodState base = pod("web-1", "10.0.0.1");
    PodState p = new PodState(base.cluster(), base.namespace(), base.name(), base.uid(), base.service(), base.ip(),
        base.hostIp(), base.port(), base.node(), base.phase(), true, false, 1, Map.of(), Map.of(),
        Map.of("team", hostile), "1", 0, 0, null);
    apply(null, p);
    RecordingTarget.Call call = target.calls.get(0);
    assertEquals("/online/web", call.path(), "the value cannot change the path");
    String[] params = call.rawQuery().split("&");
    assertEquals(3, params.length, "the value cannot add query parameters: " + call.rawQuery());
    assertEquals("team=" + Template.urlEscape(hostile), params[2]);
    assertEquals(hostile, URLDecoder.decode(params[2].substring(5), StandardCharsets.UTF_8));
    JsonNode body = JSON.readTree(call.body());
    assertEquals(hostile, body.get("team").asText(), "JSON string carries the exact value");
    assertEquals(7, body.size(), "no extra JSON keys");
  }

  @Test
  void offlineOnEveryWayOutGoesToTheAddressThatWasOnline() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    List<PodState> outs = List.of(withReady(p, false), withTerminating(p),
        new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
            PodState.Phase.FAILED, true, false, 1, Map.of(), Map.of(), Map.of(), "2", 0, 0, null));
    for (PodState out : outs) {
      target.calls.clear();
      apply(null, p);
      apply(p, out);
      assertEquals(List.of("online", "offline"), target.kinds(), "for " + out);
      assertEquals("DELETE", target.calls.get(1).method());
      assertEquals("ip=10.0.0.1&port=8080", target.calls.get(1).rawQuery());
      apply(out, null);
      assertEquals(2, target.calls.size(), "no second offline when it is deleted later");
    }
    target.calls.clear();
    apply(null, p);
    apply(p, null);
    assertEquals(List.of("online", "offline"), target.kinds(), "deleted");
  }

  @Test
  void addressChangeAndNewIncarnationGoOfflineFirst() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    PodState moved = withIp(p, "10.0.0.2");
    apply(p, moved);
    assertEquals(List.of("online", "offline", "online"), target.kinds());
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(1).rawQuery());
    assertTrue(target.calls.get(2).rawQuery().startsWith("ip=10.0.0.2&"));

    PodState reborn = withUid(moved, "uid-2");
    apply(moved, reborn);
    assertEquals(List.of("online", "offline", "online", "offline", "online"), target.kinds(),
        "a new incarnation at the same address is taken offline and put online again");
  }

  @Test
  void flappingAlternatesAndEndsInTheRightState() throws Exception {
    sink(Map.of());
    PodState up = pod("web-1", "10.0.0.1");
    PodState down = withReady(up, false);
    apply(null, down);
    PodState last = down;
    // Every flip is its own change, as when the sink keeps up: nothing is coalesced.
    for (int i = 0; i < 21; i++) {
      PodState next = i % 2 == 0 ? up : down;
      apply(last, next);
      last = next;
    }
    List<String> kinds = target.kinds();
    assertEquals(21, kinds.size(), "one call per flip: " + kinds);
    for (int i = 0; i < kinds.size(); i++) {
      assertEquals(i % 2 == 0 ? "online" : "offline", kinds.get(i), "calls alternate: " + kinds);
    }
    assertTrue(target.calls.stream().allMatch(c -> c.rawQuery().startsWith("ip=10.0.0.1&port=8080")));
    assertEquals("online", kinds.get(kinds.size() - 1), "ends online, as the pod is ready");
    assertEquals(Set.of(up.key()), sink.registeredKeys());
    // A merged change whose before and after are both online makes no call.
    apply(up, up);
    assertEquals(21, target.calls.size());
    apply(up, down);
    assertEquals(22, target.calls.size());
    assertEquals("offline", target.kinds().get(21), "one more flip ends offline");
    assertTrue(sink.registeredKeys().isEmpty());
  }

  @Test
  void aFailedOnlineIsUndoneByTheOfflineQueuedBehindIt() throws Exception {
    sink(Map.of());
    target.reply("/online", new RecordingTarget.Reply(503, "busy"));
    PodState pending = withIp(withReady(pod("web-1", "10.0.0.1"), false), null);
    PodState up = pod("web-1", "10.0.0.1");
    SinkException e = assertThrows(SinkException.class, () -> apply(pending, up));
    assertTrue(e.retriable());
    // The pod turned unready while the online waited for its retry: the queue merges the two.
    apply(pending, withReady(up, false));
    assertEquals(List.of("online", "offline"), target.kinds(), "an online that may have landed is undone");
    assertTrue(sink.registeredKeys().isEmpty());
  }

  @Test
  void serverErrorsAreRetriedUntilSuccess() throws Exception {
    sink(Map.of());
    target.reply("/online", new RecordingTarget.Reply(503, ""), new RecordingTarget.Reply(502, ""));
    PodState p = pod("web-1", "10.0.0.1");
    assertTrue(assertThrows(SinkException.class, () -> apply(null, p)).retriable());
    assertTrue(assertThrows(SinkException.class, () -> apply(null, p)).retriable());
    apply(null, p);
    assertEquals(3, target.calls.size());
    assertEquals(2.0, context.metric("http_calls_total", "online", "retry"));
    assertEquals(1.0, context.metric("http_calls_total", "online", "ok"));
  }

  @Test
  void clientErrorsAreNotRetried() throws Exception {
    sink(Map.of("responseBodyLogLimit", 16));
    target.reply("/online", new RecordingTarget.Reply(400, "{\"error\":\"unknown service web\"}".repeat(20)));
    SinkException e = assertThrows(SinkException.class, () -> apply(null, pod("web-1", "10.0.0.1")));
    assertFalse(e.retriable());
    assertTrue(e.getMessage().contains("rejected with status 400"), e.getMessage());
    assertEquals(1.0, context.metric("http_calls_total", "online", "rejected"));
    assertEquals(Set.of("c1/ns/web-1"), sink.registeredKeys(), "a rejected online is held, unconfirmed, for its offline");
  }

  @Test
  void aPodPutOnlineByAnotherReplicaStillGetsItsOffline() throws Exception {
    sink(Map.of());
    lead(1); // leader election
    PodState p = pod("web-1", "10.0.0.1");
    // A takeover replays what the old leader held: this sink never put the pod online itself.
    apply(p, withReady(p, false));
    assertEquals(List.of("offline"), target.kinds());
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(0).rawQuery());
    target.calls.clear();
    apply(withReady(p, false), null);
    assertTrue(target.calls.isEmpty(), "nothing more once it is offline");
    apply(null, withReady(pod("web-2", "10.0.0.2"), false));
    assertTrue(target.calls.isEmpty(), "a pod that was never online gets no offline");
  }

  @Test
  void withoutLeaderElectionAPodThatNeverWentOnlineHereGetsNoOffline() throws Exception {
    sink(Map.of("warmup", "10s"));
    PodState p = pod("web-1", "10.0.0.1");
    assertThrows(SinkException.class, () -> apply(null, p)); // warming up
    apply(p, null); // the queue's merge: deleted before its warm-up ended
    assertTrue(target.calls.isEmpty(), "one daemon's records are complete: nothing was online");
  }

  @Test
  void anIncarnationOnlineElsewhereGoesOfflineBesideTheOneThisSinkRegistered() throws Exception {
    sink(Map.of());
    lead(1);
    PodState mine = pod("web-1", "10.0.0.1");
    apply(null, mine);
    target.calls.clear();
    // This replica led, lost the lead and took it back: meanwhile the other replica put a newer
    // incarnation online, which the replayed change names as its "before".
    lead(2);
    PodState theirs = withIp(withUid(mine, "uid-2"), "10.0.0.2");
    apply(theirs, null);
    assertEquals(List.of("offline", "offline"), target.kinds());
    assertEquals(List.of("ip=10.0.0.1&port=8080", "ip=10.0.0.2&port=8080"),
        target.calls.stream().map(RecordingTarget.Call::rawQuery).toList());
  }

  @Test
  void aRejectedOnlineStillGetsItsOffline() throws Exception {
    sink(Map.of());
    target.reply("/online", new RecordingTarget.Reply(409, "already registered"));
    PodState p = pod("web-1", "10.0.0.1");
    assertFalse(assertThrows(SinkException.class, () -> apply(null, p)).retriable());
    apply(p, withReady(p, false));
    assertEquals(List.of("online", "offline"), target.kinds(), "the target may hold the instance anyway");
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(1).rawQuery());
    assertTrue(sink.registeredKeys().isEmpty());
  }

  @Test
  void aRejectedReassertionStillGetsItsOffline() throws Exception {
    sink(Map.of("reassertEvery", "20ms"));
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    target.reply("/online", new RecordingTarget.Reply(409, "already registered"));
    await().until(() -> context.metric("http_calls_total", "reassert", "rejected") >= 1.0);
    assertEquals(Set.of(p.key()), sink.registeredKeys());
    apply(p, null);
    List<String> kinds = target.kinds();
    assertEquals("offline", kinds.get(kinds.size() - 1), "offline after the rejected re-assertion: " + kinds);
    assertTrue(sink.registeredKeys().isEmpty());
  }

  @Test
  void aRejectedOfflineCountsAsDoneAndTheNewOnlineStillGoesOut() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    target.reply("/offline", new RecordingTarget.Reply(404, "{\"error\":\"no such instance\"}"));
    PodState moved = withIp(p, "10.0.0.2");
    apply(p, moved);
    assertEquals(List.of("online", "offline", "online"), target.kinds(), "a new address");
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(1).rawQuery());
    assertTrue(target.calls.get(2).rawQuery().startsWith("ip=10.0.0.2&"));
    assertEquals(1.0, context.metric("http_calls_total", "offline", "rejected"));

    target.reply("/offline", new RecordingTarget.Reply(404, ""));
    PodState reborn = withUid(moved, "uid-2");
    apply(moved, reborn);
    assertEquals(List.of("online", "offline", "online", "offline", "online"), target.kinds(), "a new incarnation");
    assertEquals(2.0, context.metric("http_calls_total", "offline", "rejected"));
    assertEquals(3.0, context.metric("http_calls_total", "online", "ok"));

    apply(reborn, null);
    assertEquals(6, target.calls.size());
    assertEquals("ip=10.0.0.2&port=8080", target.calls.get(5).rawQuery(), "the new incarnation is the one held online");
    assertTrue(sink.registeredKeys().isEmpty());
  }

  @Test
  void aServiceOrPortChangeTakesTheOldRegistrationOfflineFirst() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    PodState renamed = withServiceAndPort(p, "api", 8080);
    assertEquals(2, sink.plan(List.of(PodChange.of(p.key(), p, renamed))).size(), "dry-run names both calls");
    apply(p, renamed);
    assertEquals(List.of("online", "offline", "online"), target.kinds());
    assertEquals("/offline/web", target.calls.get(1).path());
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(1).rawQuery());
    assertEquals("/online/api", target.calls.get(2).path());

    PodState moved = withServiceAndPort(renamed, "api", 9090);
    apply(renamed, moved);
    assertEquals(List.of("online", "offline", "online", "offline", "online"), target.kinds());
    assertEquals("/offline/api", target.calls.get(3).path());
    assertEquals("ip=10.0.0.1&port=8080", target.calls.get(3).rawQuery());
    assertTrue(target.calls.get(4).rawQuery().startsWith("ip=10.0.0.1&port=9090&"));

    apply(moved, null);
    assertEquals("/offline/api", target.calls.get(5).path());
    assertEquals("ip=10.0.0.1&port=9090", target.calls.get(5).rawQuery(), "the offline goes to the latest registration");
  }

  @Test
  void aReusedAddressIsNotTakenOfflineUnderItsNewPod() throws Exception {
    sink(Map.of());
    PodState a = pod("web-1", "10.0.0.1");
    apply(null, a);
    // web-1 is gone; web-2 got its IP and went online before web-1's deletion reached the sink.
    PodState b = pod("web-2", "10.0.0.1");
    context.pods.add(b);
    apply(null, b);
    apply(a, null);
    assertEquals(List.of("online", "online"), target.kinds(), "web-2 stays online");
    assertEquals(1.0, context.metric("http_calls_total", "offline", "skipped"));
    assertEquals(Set.of(b.key()), sink.registeredKeys());

    // web-2's own offline still goes out.
    PodState bDown = withReady(b, false);
    context.pods.remove(b);
    context.pods.add(bDown);
    apply(b, bDown);
    assertEquals(List.of("online", "online", "offline"), target.kinds());

    // Not skipped when the pod at the IP is not desired online, has another port, or another service
    // (the offline URL names the service, so it cannot reach that pod's entry).
    target.calls.clear();
    PodState c = pod("web-3", "10.0.0.3");
    context.pods.add(withReady(pod("web-4", "10.0.0.3"), false));
    context.pods.add(withServiceAndPort(pod("web-5", "10.0.0.3"), "web", 9090));
    context.pods.add(withServiceAndPort(pod("web-6", "10.0.0.3"), "api", 8080));
    apply(null, c);
    apply(c, null);
    assertEquals(List.of("online", "offline"), target.kinds());
    assertEquals("ip=10.0.0.3&port=8080", target.calls.get(1).rawQuery());
    assertEquals(1.0, context.metric("http_calls_total", "offline", "skipped"));
  }

  @Test
  void aTimeoutIsRetriedAndItsOnlineIsUndoneLater() throws Exception {
    sink(Map.of("timeout", "200ms"));
    CountDownLatch hold = new CountDownLatch(1);
    target.reply("/online", new RecordingTarget.Reply(200, "", hold));
    PodState p = pod("web-1", "10.0.0.1");
    SinkException e = assertThrows(SinkException.class, () -> apply(null, p));
    assertTrue(e.retriable());
    assertTrue(e.getMessage().contains("HttpTimeoutException"), e.getMessage());
    hold.countDown();
    apply(null, p);
    apply(p, null);
    await().until(() -> target.kinds().equals(List.of("online", "online", "offline")));
  }

  @Test
  void anOnlineThatLandsAfterItsOfflineIsTakenOfflineAgain() throws Exception {
    sink(Map.of("timeout", "200ms", "repeatOfflineAfter", "2s"));
    CountDownLatch land = new CountDownLatch(1);
    target.reply("/online", RecordingTarget.Reply.late(land)); // the gateway acts on it after the sink gave up
    PodState p = pod("web-1", "10.0.0.1");
    assertThrows(SinkException.class, () -> apply(null, p));
    apply(p, null);
    assertEquals(List.of("offline"), target.kinds());
    land.countDown();
    await().until(() -> target.kinds().equals(List.of("offline", "online", "offline")));
    assertEquals(1.0, context.metric("http_calls_total", "offline_repeat", "ok"));
    assertEquals(1.0, context.metric("http_calls_total", "offline", "ok"));
  }

  @Test
  void aRepeatedOfflineIsSkippedWhenTheInstanceIsWantedOnlineAgain() throws Exception {
    sink(Map.of("timeout", "200ms", "repeatOfflineAfter", "300ms"));
    CountDownLatch land = new CountDownLatch(1);
    target.reply("/online", RecordingTarget.Reply.late(land));
    PodState p = pod("web-1", "10.0.0.1");
    try {
      assertThrows(SinkException.class, () -> apply(null, p));
      apply(p, withReady(p, false));
      context.pods.add(p); // ready again before the repeat is due
      apply(withReady(p, false), p);
      await().until(() -> context.metric("http_calls_total", "offline_repeat", "skipped") == 1.0);
      assertEquals(List.of("offline", "online"), target.kinds(), "no second offline of an instance that is online again");
    } finally {
      land.countDown();
    }
  }

  @Test
  void onlyAnOfflineWhoseOnlineHadAnUnknownOutcomeIsRepeated() throws Exception {
    sink(Map.of("repeatOfflineAfter", "50ms"));
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p); // confirmed
    apply(p, null);
    PodState q = pod("web-2", "10.0.0.2");
    target.reply("/online", new RecordingTarget.Reply(503, "")); // q's online: the outcome is unknown
    assertThrows(SinkException.class, () -> apply(null, q));
    apply(q, null);
    // Repeats run in the order they were scheduled: p's, had it had one, would have started first.
    await().until(() -> context.metric("http_calls_total", "offline_repeat", "ok") == 1.0);
    assertEquals(List.of("/online/web", "/offline/web"), callsOf("10.0.0.1"), "p: once each");
    assertEquals(List.of("/online/web", "/offline/web", "/offline/web"), callsOf("10.0.0.2"), "q: the offline repeated");
  }

  private long onlineCallsOf(String ip) {
    return target.calls.stream().filter(c -> c.rawQuery().startsWith("ip=" + ip + "&") && c.path().startsWith("/online")).count();
  }

  private List<String> callsOf(String ip) {
    return target.calls.stream().filter(c -> c.rawQuery().startsWith("ip=" + ip + "&")).map(RecordingTarget.Call::path).toList();
  }

  @Test
  void aHeldListOfIncarnationsAtOneAddressLeavesTheNewestOnline() throws Exception {
    // The offline URL names the address, not the uid: taking an older incarnation offline would
    // take the newest one, online at the same entry, with it.
    sink(Map.of());
    lead(1);
    PodState u1 = pod("web-1", "10.0.0.1");
    PodState u2 = withUid(u1, "uid-2");
    PodState u3 = withUid(u1, "uid-3");
    context.pods.add(u3);
    sink.apply(List.of(PodChange.of(u1.key(), u1, u3))); // a takeover's replay, one change at a time
    sink.apply(List.of(PodChange.of(u1.key(), u2, u3)));
    assertEquals(List.of("online"), target.kinds(), "the entry is u3's: no offline of u1 or u2 at that address");
    assertEquals(2.0, context.metric("http_calls_total", "offline", "skipped"));
  }

  @Test
  void aRepeatedOfflineSparesANewIncarnationAtTheSameAddress() throws Exception {
    sink(Map.of("repeatOfflineAfter", "50ms"));
    PodState u1 = pod("web-1", "10.0.0.1");
    PodState u2 = withUid(u1, "uid-2");
    target.reply("/online", new RecordingTarget.Reply(503, "")); // u1's online: unknown outcome
    assertThrows(SinkException.class, () -> apply(null, u1));
    context.pods.add(u2); // recreated at the same address (a sticky IP)
    apply(u1, u2); // offline u1 (to be repeated), online u2
    assertEquals(List.of("online", "offline", "online"), target.kinds());
    await().until(() -> context.metric("http_calls_total", "offline_repeat", "skipped") == 1.0);
    assertEquals(List.of("online", "offline", "online"), target.kinds(), "u2 stays online");
  }

  @Test
  void aChangeHeldForWarmupDoesNotRepeatItsOfflineOrRestartItsWarmup() throws Exception {
    sink(Map.of("warmup", "300ms"));
    PodState a = pod("web-1", "10.0.0.1");
    now.addAndGet(Duration.ofMillis(300).toNanos());
    assertThrows(SinkException.class, () -> apply(null, a)); // warm-up starts
    now.addAndGet(Duration.ofMillis(300).toNanos());
    apply(null, a);
    PodState moved = withServiceAndPort(a, "api", 8080); // same pod, now of another service
    PodChange change = PodChange.of(a.key(), a, moved);
    assertEquals(Duration.ofMillis(300), assertThrows(SinkException.class, () -> sink.apply(List.of(change))).deferral());
    now.addAndGet(Duration.ofMillis(200).toNanos());
    assertEquals(Duration.ofMillis(100), assertThrows(SinkException.class, () -> sink.apply(List.of(change))).deferral(),
        "the retry of the same change keeps its warm-up running");
    now.addAndGet(Duration.ofMillis(100).toNanos());
    sink.apply(List.of(change));
    assertEquals(List.of("/online/web", "/offline/web", "/online/api"), target.calls.stream().map(RecordingTarget.Call::path).toList(),
        "one offline of the old registration across the retries");
  }

  @Test
  void aRecordFromAnEarlierTermAsLeaderIsNotTrusted() throws Exception {
    sink(Map.of());
    PodState a = pod("web-1", "10.0.0.1");
    apply(null, a);
    apply(a, a);
    assertEquals(List.of("online"), target.kinds(), "same term: the record is the truth, nothing to send");
    // This replica lost the lead; the other one took the pod offline (it flapped), then died before
    // putting it back. Leading again, the replay of what it held says: it was online, it is online.
    lead(1);
    apply(a, a);
    assertEquals(List.of("online", "online"), target.kinds(), "the old record may be stale: online again");
  }

  @Test
  void aRepeatWaitsWhileItsInstanceIsWantedButNotRegisteredAndGoesOutIfItNeverIs() throws Exception {
    sink(Map.of("repeatOfflineAfter", "50ms", "warmup", "10s"));
    PodState p = pod("web-1", "10.0.0.1");
    PodState down = withReady(p, false);
    target.reply("/online", new RecordingTarget.Reply(503, ""));
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    assertThrows(SinkException.class, () -> apply(null, p)); // warm-up starts
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    assertThrows(SinkException.class, () -> apply(null, p)); // 503: unknown outcome
    context.pods.add(p); // ready again soon: wanted, but warming up, so not registered
    apply(p, down); // offline, to be repeated
    assertThrows(SinkException.class, () -> apply(down, p));
    await().until(() -> context.metric("http_calls_total", "offline_repeat", "postponed") >= 1.0);
    context.pods.set(0, down); // and unready before its warm-up ended: never registered here
    apply(down, down);
    await().until(() -> context.metric("http_calls_total", "offline_repeat", "ok") == 1.0);
    assertEquals(List.of("online", "offline", "offline"), target.kinds(), "the repeat went out in the end");
  }

  @Test
  void aStaleRecordsOfflineSparesTheNewIncarnationAtItsAddress() throws Exception {
    sink(Map.of());
    lead(1);
    PodState u1 = pod("web-1", "10.0.0.1");
    apply(null, u1);
    // Led elsewhere meanwhile: the other replica replaced u1 by u2 at the same address (online there).
    lead(2);
    PodState u2 = withUid(u1, "uid-2");
    context.pods.add(u2);
    apply(u1, u2);
    assertEquals(List.of("online", "online"), target.kinds(), "no offline of u1's entry: it is u2's now");
    assertEquals(1.0, context.metric("http_calls_total", "offline", "skipped"));
  }

  @Test
  void recordsOfAnEarlierTermAreReassertedWhileWantedAndForgottenOnceGone() throws Exception {
    sink(Map.of("reassertEvery", "20ms"));
    lead(1);
    PodState p = pod("web-1", "10.0.0.1");
    PodState q = pod("web-2", "10.0.0.2");
    context.pods.add(p);
    context.pods.add(q);
    apply(null, p);
    apply(null, q);
    context.pods.remove(q); // q was deleted while another replica led; p is unchanged
    lead(2); // led again
    double reasserted = context.metric("http_calls_total", "reassert", "ok");
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") >= reasserted + 2); // a pass begun after the switch
    long qBefore = onlineCallsOf("10.0.0.2");
    long pBefore = onlineCallsOf("10.0.0.1");
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") >= reasserted + 5);
    assertEquals(qBefore, onlineCallsOf("10.0.0.2"), "q, gone, is not re-asserted");
    assertTrue(onlineCallsOf("10.0.0.1") >= pBefore + 3, "p, still wanted, is");
    sink.forgetStale();
    assertEquals(Set.of(p.key()), sink.registeredKeys(), "q's record is forgotten, p's kept");
  }

  @Test
  void anEarlierTermsRecordIsReassertedWithTheCachesStateNotTheOldOne() throws Exception {
    sink(Map.of("reassertEvery", "20ms"));
    lead(1);
    PodState p = pod("web-1", "10.0.0.1");
    context.pods.add(p);
    apply(null, p);
    // Led elsewhere meanwhile: the weight changed and the other replica sent it; then led again.
    PodState heavier = withWeight(p, 7);
    context.pods.set(0, heavier);
    lead(2);
    await().until(() -> target.calls.get(target.calls.size() - 1).body().contains("\"weight\":7"));
    int from = target.calls.size();
    await().until(() -> target.calls.size() >= from + 3);
    assertTrue(target.calls.subList(from, target.calls.size()).stream().allMatch(c -> c.body().contains("\"weight\":7")),
        "re-asserted with the weight of now, never the old term's: " + target.calls.stream().map(RecordingTarget.Call::body).toList());
  }

  @Test
  void anOfflineSkippedForAPodStillWarmingUpLeavesItTheEntryToTakeOfflineLater() throws Exception {
    // One daemon, sticky address: pod b takes over a's address while a's offline is still queued;
    // a's offline is skipped (it would hit b's entry), b never finishes warming up and goes away.
    sink(Map.of("warmup", "10s"));
    PodState a = pod("web-1", "10.0.0.1");
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    assertThrows(SinkException.class, () -> apply(null, a));
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    apply(null, a);
    PodState b = withUid(pod("web-2", "10.0.0.1"), "uid-b");
    context.pods.add(b);
    assertThrows(SinkException.class, () -> apply(null, b)); // warming up
    apply(a, null);
    assertEquals(List.of("online"), target.kinds(), "a's offline would remove the entry b is to get");
    context.pods.clear();
    apply(b, null); // the queue's merge of b's add and delete
    assertEquals(List.of("online", "offline"), target.kinds(), "the entry a left for b goes with b");
  }


  @Test
  void repeatsNotYetDueWhenTheSinkClosesAreCounted() throws Exception {
    sink(Map.of("repeatOfflineAfter", "1h"));
    PodState p = pod("web-1", "10.0.0.1");
    target.reply("/online", new RecordingTarget.Reply(503, ""));
    assertThrows(SinkException.class, () -> apply(null, p));
    apply(p, null);
    sink.close();
    assertEquals(1.0, context.metric("http_calls_total", "offline_repeat", "dropped"));
  }

  @Test
  void drainCheckReachesZero() throws Exception {
    sink(Map.of("drain", Map.of("url", target.url() + "/drain?ip={ip}&port={port}", "interval", "10ms", "maxWait", "30s")));
    target.reply("/drain", new RecordingTarget.Reply(200, "3"), new RecordingTarget.Reply(200, "1"),
        new RecordingTarget.Reply(200, " 0\n"));
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    apply(p, withTerminating(p));
    await().until(() -> context.metric("http_drains_total", "drained") == 1.0);
    assertEquals(List.of("online", "offline", "drain", "drain", "drain"), target.kinds());
    assertEquals(0.0, context.metric("http_drains_total", "timeout"));
  }

  @Test
  void drainCheckTimesOut() throws Exception {
    sink(Map.of("drain", Map.of("url", target.url() + "/drain?ip={ip}", "interval", "10ms", "maxWait", "100ms")));
    for (int i = 0; i < 100; i++) {
      target.reply("/drain", new RecordingTarget.Reply(200, "7"));
    }
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    now.addAndGet(0);
    apply(p, null);
    // The sink's clock is the test's: move it past maxWait while polls go on.
    await().until(() -> target.kinds().stream().filter("drain"::equals).count() >= 2);
    now.addAndGet(Duration.ofMillis(150).toNanos());
    await().until(() -> context.metric("http_drains_total", "timeout") == 1.0);
    assertEquals(0.0, context.metric("http_drains_total", "drained"));
  }

  @Test
  void warmupHoldsTheOnlineWithoutCallingAndWithoutFailing() throws Exception {
    sink(Map.of("warmup", "300ms"));
    PodState p = pod("web-1", "10.0.0.1");
    SinkException held = assertThrows(SinkException.class, () -> apply(null, p));
    assertEquals(Duration.ofMillis(300), held.deferral());
    assertTrue(target.calls.isEmpty());
    now.addAndGet(Duration.ofMillis(299).toNanos());
    assertEquals(Duration.ofMillis(1), assertThrows(SinkException.class, () -> apply(null, p)).deferral());
    now.addAndGet(Duration.ofMillis(1).toNanos());
    apply(null, p);
    assertEquals(List.of("online"), target.kinds());
  }

  @Test
  void warmupCountsFromThePodsReadyTimeSoATakeoverDoesNotHoldAPodReadyForLong() throws Exception {
    sink(Map.of("warmup", "10s"));
    long wall = System.currentTimeMillis();
    PodState longReady = withReadySince(pod("web-1", "10.0.0.1"), wall - 3_600_000);
    apply(null, longReady);
    assertEquals(List.of("online"), target.kinds(), "ready for an hour: no warm-up left");
    PodState fresh = withReadySince(pod("web-2", "10.0.0.2"), wall - 4_000);
    Duration left = assertThrows(SinkException.class, () -> apply(null, fresh)).deferral();
    assertTrue(left.compareTo(Duration.ofSeconds(4)) > 0 && left.compareTo(Duration.ofSeconds(7)) <= 0,
        "ready 4 s ago by a whole-second clock: about 7 s left, was " + left);
    PodState future = withReadySince(pod("web-3", "10.0.0.3"), wall + 60_000); // a kubelet clock ahead
    assertEquals(Duration.ofSeconds(10), assertThrows(SinkException.class, () -> apply(null, future)).deferral(),
        "never longer than from when this daemon saw it ready");
  }


  @Test
  void podAnnotationCanAskForALongerWarmup() throws Exception {
    sink(Map.of());
    PodState base = pod("web-1", "10.0.0.1");
    PodState p = new PodState(base.cluster(), base.namespace(), base.name(), base.uid(), base.service(), base.ip(),
        base.hostIp(), base.port(), base.node(), base.phase(), true, false, 1, Map.of("warmup", "2"), Map.of(), Map.of(),
        "1", 0, 0, null);
    assertEquals(Duration.ofSeconds(2), assertThrows(SinkException.class, () -> apply(null, p)).deferral());
  }

  @Test
  void noOnlineBeforeTheInitialListIsComplete() throws Exception {
    unsyncedSink(Map.of());
    context.synced = false;
    PodState p = pod("web-1", "10.0.0.1");
    assertTrue(assertThrows(SinkException.class, () -> apply(null, p)).deferral() != null);
    assertTrue(target.calls.isEmpty());
    context.synced = true;
    sink.podsSynced(); // told, not polled
    apply(null, p);
    assertEquals(List.of("online"), target.kinds());
  }

  @Test
  void credentialsComeFromAFileAndStayWithTheTarget(@TempDir Path dir) throws Exception {
    Path token = dir.resolve("token");
    Files.writeString(token, "tok-123\n");
    sink(Map.of("auth", Map.of("bearerToken", "${file:" + token + "}"),
        "drain", Map.of("url", target.url() + "/drain", "interval", "10ms")));
    target.reply("/drain", new RecordingTarget.Reply(200, "0"));
    PodState p = pod("web-1", "10.0.0.1");
    apply(null, p);
    apply(p, null);
    await().until(() -> target.calls.size() == 3);
    assertEquals("Bearer tok-123", target.calls.get(0).header("Authorization"));
    assertEquals("Bearer tok-123", target.calls.get(1).header("Authorization"));
    assertNull(target.calls.get(2).header("Authorization"), "the drain check may go to the pod: no credentials");
    assertFalse(context.config().toString().contains("tok-123"));
  }

  @Test
  void reassertionRepeatsOnlineOnlyForPodsStillOnline() throws Exception {
    sink(Map.of("reassertEvery", "20ms"));
    PodState p = pod("web-1", "10.0.0.1");
    PodState q = pod("web-2", "10.0.0.2");
    apply(null, p);
    apply(null, q);
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") >= 4);
    apply(q, null);
    long before = target.calls.stream().filter(c -> c.rawQuery().startsWith("ip=10.0.0.2") && c.path().startsWith("/online")).count();
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") >= 10);
    long after = target.calls.stream().filter(c -> c.rawQuery().startsWith("ip=10.0.0.2") && c.path().startsWith("/online")).count();
    assertEquals(before, after, "no online for a pod after its offline");
    int offlineAt = target.kinds().indexOf("offline");
    assertTrue(target.calls.subList(offlineAt, target.calls.size()).stream()
        .noneMatch(c -> c.rawQuery().startsWith("ip=10.0.0.2") && c.path().startsWith("/online")));
  }

  @Test
  void dryRunPlanNamesTheCallsWithoutMakingThem() throws Exception {
    sink(Map.of());
    PodState p = pod("web-1", "10.0.0.1");
    List<String> plan = sink.plan(List.of(PodChange.of(p.key(), withIp(p, "10.0.0.9"), p)));
    assertEquals(2, plan.size());
    assertTrue(plan.get(0).startsWith("offline offline DELETE " + target.url() + "/offline/web?ip=10.0.0.9"), plan.get(0));
    assertTrue(plan.get(1).startsWith("online online POST " + target.url() + "/online/web?ip=10.0.0.1"), plan.get(1));
    assertTrue(target.calls.isEmpty());
  }

  @Test
  void templatesNamingUnknownFieldsAreConfigErrors() {
    ConfigException e = assertThrows(ConfigException.class, () -> new TestSinkContext("gw", new HttpSinkFactory().configDef(),
        Map.of("online", Map.of("url", "http://gw/{servise}"), "offline", Map.of("url", "http://gw/off")), Selector.ALL));
    assertTrue(e.getMessage().startsWith("config error at sinks[0].config.online.url: found \"http://gw/{servise}\"; "
        + "expected a template naming only pod fields; {servise} is not a pod field; known: {address}, {cluster}"), e.getMessage());

    e = assertThrows(ConfigException.class, () -> new TestSinkContext("gw", new HttpSinkFactory().configDef(),
        Map.of("online", Map.of("url", "http://gw/on", "body", Map.of("x", "{ipp}")), "offline", Map.of("url", "http://gw/off")),
        Selector.ALL));
    assertTrue(e.getMessage().contains("online.body: found a mapping; expected a mapping whose strings are templates naming pod fields; body.x: {ipp} is not a pod field"),
        e.getMessage());

    e = assertThrows(ConfigException.class, () -> new TestSinkContext("gw", new HttpSinkFactory().configDef(),
        Map.of("online", Map.of("url", "gw/on"), "offline", Map.of("url", "http://gw/off")), Selector.ALL));
    assertEquals("config error at sinks[0].config.online.url: found \"gw/on\"; expected an http:// or https:// URL template", e.getMessage());

    e = assertThrows(ConfigException.class, () -> new TestSinkContext("gw", new HttpSinkFactory().configDef(),
        Map.of("online", Map.of("url", "http://gw/on")), Selector.ALL));
    assertEquals("config error at sinks[0].config.offline.url: missing; expected a string (URL template of the offline call, "
        + "e.g. https://gw/api/{service}/offline?ip={ip}&port={port})", e.getMessage());

    e = assertThrows(ConfigException.class, () -> new TestSinkContext("gw", new HttpSinkFactory().configDef(),
        Map.of("online", Map.of("url", "http://gw/on"), "offline", Map.of("url", "http://gw/off"),
            "auth", Map.of("bearerToken", "hunter2")), Selector.ALL));
    assertFalse(e.getMessage().contains("hunter2"));
  }


  @Test
  void headerValuesWithLineBreaksAreRefusedAndNeverSent() throws Exception {
    sink(Map.of("online", Map.of("url", target.url() + "/online/{service}?ip={ip}",
        "headers", Map.of("X-Team", "{annotation.team}", "X-Pod", "{pod}"))));
    List<String> hostile = List.of("pay\r\nX-Injected: yes", "pay\nX-Injected: yes", "pay\rX-Injected: yes",
        "pay\r\n\r\nGET /admin HTTP/1.1", "pay\u0000", "pay\u007f");
    int n = 0;
    for (String value : hostile) {
      n++;
      PodState p = withAnnotations(pod("web-" + n, "10.0.0." + n), Map.of("team", value));
      // The pod is rejected for this sink (counted, logged by field): not a sink failure, nothing to retry.
      apply(null, p);
      assertTrue(target.calls.isEmpty(), "nothing is sent: " + target.calls);
      assertEquals(n, context.metric("http_pods_rejected_total", "online", "annotation.team"));
      assertTrue(sink.registeredKeys().isEmpty(), "nothing to take offline later");
    }

    // Beyond ASCII the JDK client would throw at send time; the sink refuses it the same way, by name.
    for (String value : List.of("caf\u00e9", "\u652f\u4ed8")) {
      n++;
      PodState p = withAnnotations(pod("web-" + n, "10.0.0." + n), Map.of("team", value));
      apply(null, p);
      assertEquals(n, context.metric("http_pods_rejected_total", "online", "annotation.team"));
    }
    assertTrue(target.calls.isEmpty(), "nothing is sent: " + target.calls);

    // Quotes, commas, semicolons and colons are ordinary header text: sent verbatim, in their own header only.
    String quoted = "\"pay\" 'ments'; a=b, X-Injected: \"yes\"";
    PodState p = withAnnotations(pod("web-ok", "10.0.0.99"), Map.of("team", quoted));
    apply(null, p);
    assertEquals(1, target.calls.size());
    RecordingTarget.Call call = target.calls.get(0);
    assertEquals(List.of(quoted), call.headers().get("X-team"));
    assertEquals("web-ok", call.header("X-pod"));
    assertNull(call.header("X-injected"));
  }

  /** The sink's context with its log kept in {@code lines}, formatted as the logger would. */
  static io.k8ssync.sink.SinkContext logging(TestSinkContext c, List<String> lines) {
    System.Logger logger = new System.Logger() {
      @Override public String getName() { return "io.k8ssync.sink." + c.name(); }
      @Override public boolean isLoggable(System.Logger.Level level) { return true; }
      @Override
      public void log(System.Logger.Level level, java.util.ResourceBundle bundle, String msg, Throwable thrown) {
        StringBuilder line = new StringBuilder(String.valueOf(msg));
        for (Throwable t = thrown; t != null; t = t.getCause()) {
          line.append(" | ").append(t);
        }
        lines.add(line.toString());
      }
      @Override
      public void log(System.Logger.Level level, java.util.ResourceBundle bundle, String format, Object... params) {
        lines.add(params == null || params.length == 0 ? format : java.text.MessageFormat.format(format, params));
      }
    };
    return new io.k8ssync.sink.SinkContext() {
      @Override public String name() { return c.name(); }
      @Override public io.k8ssync.sink.config.Config config() { return c.config(); }
      @Override public Selector selector() { return c.selector(); }
      @Override public boolean dryRun() { return c.dryRun(); }
      @Override public io.k8ssync.sink.SinkMetrics metrics() { return c.metrics(); }
      @Override public io.k8ssync.sink.PodStateView pods() { return c.pods(); }
      @Override public java.time.Clock clock() { return c.clock(); }
      @Override public Set<String> clusters() { return c.clusters(); }
      @Override public System.Logger logger() { return logger; }
      @Override public long leadershipTerm(String cluster) { return c.leadershipTerm(cluster); }
      @Override public java.time.Duration writeBudget(String cluster) { return c.writeBudget(cluster); }
      @Override public boolean leads(String cluster) { return c.leads(cluster); }
    };
  }

  @Test
  void basicAuthFromAFileIsSentToTheTargetAndNeverShown(@TempDir Path dir) throws Exception {
    String password = "s3cr3t-p@ss:w0rd";
    Path file = dir.resolve("password");
    Files.writeString(file, password + "\n");
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), config(Map.of(
        "auth", Map.of("username", "svc-gw", "password", "${file:" + file + "}"),
        "drain", Map.of("url", target.url() + "/drain", "interval", "10ms"))), Selector.ALL);
    List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
    io.k8ssync.sink.SinkContext logged = logging(context, log);
    sink = new HttpSink(logged, HttpTarget.from(logged), now::get);
    sink.leadershipChanged("c1", 0, true);
    sink.start();
    sink.podsSynced();
    String pair = java.util.Base64.getEncoder().encodeToString(("svc-gw:" + password).getBytes(StandardCharsets.UTF_8));
    String expected = "Basic " + pair;
    assertEquals("Basic c3ZjLWd3OnMzY3IzdC1wQHNzOncwcmQ=", expected, "RFC 7617: base64 of user:password in UTF-8");

    target.reply("/online", new RecordingTarget.Reply(503, "busy"), new RecordingTarget.Reply(401, "bad credentials"));
    target.reply("/drain", new RecordingTarget.Reply(200, "0"));
    PodState p = pod("web-1", "10.0.0.1");
    List<String> shown = new java.util.ArrayList<>();
    SinkException retried = assertThrows(SinkException.class, () -> apply(null, p));
    assertTrue(retried.retriable());
    SinkException rejected = assertThrows(SinkException.class, () -> apply(null, p));
    assertFalse(rejected.retriable());
    apply(null, p);
    apply(p, null);
    await().until(() -> context.metric("http_drains_total", "drained") == 1.0);

    assertEquals(List.of("online", "online", "online", "offline", "drain"), target.kinds());
    for (RecordingTarget.Call call : target.calls.subList(0, 4)) {
      assertEquals(List.of(expected), call.headers().get("Authorization"), call.method() + " " + call.path());
    }
    assertNull(target.calls.get(4).header("Authorization"), "the drain check may go to the pod: no credentials");

    for (SinkException e : List.of(retried, rejected)) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        shown.add(String.valueOf(t));
      }
    }
    shown.addAll(log);
    shown.add(context.config().toString());
    assertTrue(log.stream().anyMatch(l -> l.contains("status=401") && l.contains("bad credentials")),
        "the log was captured: " + log);
    assertTrue(log.stream().anyMatch(l -> l.startsWith("offline: sink=gw")), "the log was captured: " + log);
    for (String line : shown) {
      assertFalse(line.contains(password), "password shown: " + line);
      assertFalse(line.contains("s3cr3t"), "part of the password shown: " + line);
      assertFalse(line.contains(pair), "encoded credentials shown: " + line);
    }
  }
}

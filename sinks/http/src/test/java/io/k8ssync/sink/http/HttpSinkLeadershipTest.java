package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The HTTP sink is told of leadership (Sink.leadershipChanged) and checks it, with the write budget, at each call. */
class HttpSinkLeadershipTest {

  private final RecordingTarget target;
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkLeadershipTest() throws Exception {
    target = new RecordingTarget();
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  /** A sink leading c1 in term 1, with the initial list complete, as the daemon tells it. */
  private void sink(Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>();
    c.put("online", Map.of("url", target.url() + "/online/{service}?ip={ip}"));
    c.put("offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}"));
    c.put("timeout", "2s");
    c.putAll(extra);
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    context.term = 1;
    sink = new HttpSink(context, HttpTarget.from(context), System::nanoTime);
    sink.leadershipChanged("c1", 1, true);
    sink.start();
    sink.podsSynced();
  }

  private void apply(PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    sink.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  private long drainCalls() {
    return target.kinds().stream().filter("drain"::equals).count();
  }

  @Test
  void aRepeatedOfflineOfALostTermIsNeverSent() throws Exception {
    sink(Map.of("repeatOfflineAfter", "300ms"));
    target.reply("/online", new RecordingTarget.Reply(503, "")); // unknown outcome: the offline is to be repeated
    PodState p = ready("web-1", "10.0.0.1");
    assertThrows(SinkException.class, () -> apply(null, p));
    apply(p, null);
    assertEquals(List.of("online", "offline"), target.kinds());
    // Lost and won back at once: in between another replica owned the entry; term 1's repeat is not ours to send.
    sink.leadershipChanged("c1", 1, false);
    context.term = 2;
    sink.leadershipChanged("c1", 2, true);
    await().until(() -> context.metric("http_calls_total", "offline_repeat", "disowned") == 1.0);
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> target.calls.size() == 2);
    assertEquals(0.0, context.metric("http_calls_total", "offline_repeat", "ok"));
  }

  @Test
  void aDrainCheckEndsWhenTheLeadIsLost() throws Exception {
    sink(Map.of("drain", Map.of("url", target.url() + "/drain?ip={ip}", "interval", "20ms", "maxWait", "1h")));
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    apply(p, null); // the drain URL answers an empty body: never drained
    await().until(() -> drainCalls() >= 2);
    context.led.remove("c1");
    sink.leadershipChanged("c1", 1, false);
    await().until(() -> context.metric("http_drains_total", "disowned") == 1.0);
    long polls = drainCalls();
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> drainCalls() == polls);
  }

  @Test
  void aCallWhoseTimeoutDoesNotFitTheWriteBudgetIsNotStarted() throws Exception {
    sink(Map.of()); // timeout 2s
    context.budget = Duration.ofSeconds(1); // the Lease's renewal is late: 1 s left before a standby may take it
    PodState p = ready("web-1", "10.0.0.1");
    SinkException e = assertThrows(SinkException.class, () -> apply(null, p));
    assertTrue(e.retriable(), e.getMessage());
    assertTrue(target.calls.isEmpty(), "not started: " + target.calls);
    assertEquals(1.0, context.metric("http_calls_total", "online", "no_budget"));
    context.budget = Duration.ofSeconds(3);
    apply(null, p);
    assertEquals(List.of("online"), target.kinds());
  }

  @Test
  void leadershipIsCheckedAtEachCallNotOncePerChange() throws Exception {
    sink(Map.of());
    PodState p = ready("web-1", "10.0.0.1");
    apply(null, p);
    // The Lease's renewal becomes overdue while the offline of the old address is on the wire.
    target.onCall = call -> {
      if (call.path().startsWith("/offline")) {
        context.led.remove("c1");
      }
    };
    SinkException e = assertThrows(SinkException.class, () -> apply(p, withIp(p, "10.0.0.2")));
    assertTrue(e.retriable(), e.getMessage());
    assertEquals(List.of("online", "offline"), target.kinds(), "no online of the new address once the lead is gone");
    assertEquals(1.0, context.metric("http_calls_total", "online", "not_leader"));
  }

  @Test
  void aNewTermReassertsTheClustersPodsWithoutWaitingAPeriod() throws Exception {
    sink(Map.of("reassertEvery", "1h"));
    PodState p = ready("web-1", "10.0.0.1");
    context.pods.add(p);
    apply(null, p);
    sink.leadershipChanged("c1", 1, false);
    context.term = 2;
    sink.leadershipChanged("c1", 2, true);
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") == 1.0);
    assertEquals(List.of("online", "online"), target.kinds());
  }
  /**
   * A takeover's re-assertion waits until the new term's first write (the fresh held changes, which
   * the daemon hands out first and alone) is done, so it does not compete with it; at most a second.
   */
  @Test
  void aTakeoversReassertionStartsAfterTheNewTermsFirstWrite() throws Exception {
    sink(Map.of("reassertEvery", "1h"));
    PodState p = ready("web-1", "10.0.0.1");
    context.pods.add(p);
    apply(null, p);
    sink.leadershipChanged("c1", 1, false);
    context.term = 2;
    sink.leadershipChanged("c1", 2, true);
    await().during(java.time.Duration.ofMillis(400)).atMost(java.time.Duration.ofSeconds(1))
        .until(() -> context.metric("http_calls_total", "reassert", "ok") == 0.0);
    PodState q = ready("web-2", "10.0.0.2");
    context.pods.add(q);
    apply(null, q); // the fresh change, first
    await().until(() -> context.metric("http_calls_total", "reassert", "ok") >= 1.0);
    assertEquals(List.of("online", "online"), target.kinds().subList(0, 2), "p in term 1, q first in term 2, then the re-assertion");
  }
}

package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withServiceAndPort;
import static org.awaitility.Awaitility.await;
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
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The sink's timers against a gateway that hangs: re-assertion must not hold up repeats and drain checks. */
class HttpSinkTimersTest {

  private final RecordingTarget target;
  /** Counted down at the end: until then every online of service web hangs past the call timeout. */
  private final CountDownLatch hang = new CountDownLatch(1);
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkTimersTest() throws Exception {
    target = new RecordingTarget();
  }

  @AfterEach
  void close() {
    hang.countDown();
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  private void apply(PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    sink.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  @Test
  void aGatewayTimingOutDuringReassertionDelaysNoRepeatedOfflineOrDrainCheck() throws Exception {
    Map<String, Object> c = new HashMap<>();
    c.put("online", Map.of("url", target.url() + "/online/{service}?ip={ip}"));
    c.put("offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}"));
    c.put("timeout", "1s");
    c.put("reassertEvery", "100ms");
    c.put("repeatOfflineAfter", "100ms");
    c.put("drain", Map.of("url", target.url() + "/drain?ip={ip}", "interval", "10ms"));
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    sink = new HttpSink(context, HttpTarget.from(context), System::nanoTime);
    sink.leadershipChanged("c1", 0, true);
    sink.podsSynced();
    for (int i = 1; i <= 40; i++) {
      apply(null, ready("web-" + i, "10.0.0." + i));
    }
    // From now on the gateway hangs on every online of service web: each re-assertion of one times
    // out, from the first pass on (it starts only now).
    for (int i = 0; i < 1000; i++) {
      target.reply("/online/web", new RecordingTarget.Reply(200, "", hang));
    }
    sink.start();
    await().atMost(Duration.ofSeconds(20)).until(() -> context.metric("http_calls_total", "reassert", "retry") >= 1);

    // Meanwhile api-1's online had an unknown outcome (503): its offline goes out, is drain-checked, and repeated.
    PodState api = withServiceAndPort(ready("api-1", "10.0.1.1"), "api", 8080);
    target.reply("/online/api", new RecordingTarget.Reply(503, ""));
    target.reply("/drain", new RecordingTarget.Reply(200, "0"));
    assertThrows(SinkException.class, () -> apply(null, api));
    apply(api, null);
    await("the repeated offline, not behind a re-assertion pass").atMost(Duration.ofSeconds(10))
        .until(() -> context.metric("http_calls_total", "offline_repeat", "ok") == 1.0);
    await("the drain check, not behind a re-assertion pass").atMost(Duration.ofSeconds(10))
        .until(() -> context.metric("http_drains_total", "drained") == 1.0);

    // Each pass ends at its first retriable failure: one timed-out call per pass, not one per pod.
    await().atMost(Duration.ofSeconds(20)).until(() -> context.metric("http_reassert_passes_total", "stopped") >= 2);
    double stopped = context.metric("http_reassert_passes_total", "stopped");
    double timedOut = context.metric("http_calls_total", "reassert", "retry");
    assertTrue(timedOut <= stopped + 1, "timed-out re-assertions " + timedOut + " in " + stopped + " stopped passes");
  }
}

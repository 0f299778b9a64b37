package io.k8ssync.sink.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The client is run once in this process when the pod list is complete, so a standby's first call
 * after a takeover does not pay for a cold client (TakeoverBench: 0.7 s for the first call, 10-100 ms
 * for the next); the target sees nothing of it, and a standby calls nobody.
 */
class HttpSinkWarmupTest {

  private final RecordingTarget target;
  private HttpSink sink;

  HttpSinkWarmupTest() throws Exception {
    target = new RecordingTarget();
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  @Test
  void aStandbyWarmsItsClientWithoutCallingTheTarget() throws Exception {
    TestSinkContext context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), Map.of(
        "online", Map.of("url", target.url() + "/online/{service}?ip={ip}"),
        "offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}"),
        "timeout", "2s"), Selector.ALL);
    sink = new HttpSink(context, HttpTarget.from(context), System::nanoTime);
    sink.start();
    sink.podsSynced(); // never told it leads: a standby
    await().atMost(Duration.ofSeconds(10)).until(sink::warmedUp);
    await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> target.calls.isEmpty());
    assertEquals(List.of(), target.kinds());
  }

  @Test
  void theWarmUpIsAnsweredInThisProcess() throws Exception {
    TestSinkContext context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), Map.of(
        "online", Map.of("url", target.url() + "/online/{service}?ip={ip}"),
        "offline", Map.of("method", "DELETE", "url", target.url() + "/offline/{service}?ip={ip}"),
        "timeout", "2s"), Selector.ALL);
    HttpTarget t = HttpTarget.from(context);
    assertTrue(t.warmUp());
    assertTrue(t.warmUp(), "and again: each warm-up has its own socket");
    assertTrue(target.calls.isEmpty());
  }
}

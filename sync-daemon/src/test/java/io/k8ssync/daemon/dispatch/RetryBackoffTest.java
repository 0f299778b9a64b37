package io.k8ssync.daemon.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RetryBackoffTest {

  private final AtomicLong now = new AtomicLong();

  private RetryBackoff backoff(RetryBackoff.Settings s, double random) {
    return new RetryBackoff(s, () -> random, now::get);
  }

  @Test
  void defaultsAreFiveMillisDoublingToThirtySeconds() {
    RetryBackoff.Settings d = RetryBackoff.Settings.DEFAULTS;
    assertEquals(Duration.ofMillis(5), d.base());
    assertEquals(Duration.ofSeconds(30), d.max());
    assertEquals(0.2, d.jitter());
    assertEquals(50.0, d.ratePerSecond());
    assertEquals(500, d.burst());
  }

  @Test
  void clientGoConstantsGiveClientGoDelays() {
    // client-go DefaultControllerRateLimiter: 5ms * 2^n capped at 1000s.
    RetryBackoff b = backoff(new RetryBackoff.Settings(Duration.ofMillis(5), Duration.ofSeconds(1000), 0, 10, 100), 0);
    assertEquals(Duration.ofMillis(5).toNanos(), b.exponential(1));
    assertEquals(Duration.ofMillis(10).toNanos(), b.exponential(2));
    assertEquals(Duration.ofMillis(5 * 1024).toNanos(), b.exponential(11));
    assertEquals(Duration.ofMillis(5L * (1 << 17)).toNanos(), b.exponential(18));
    assertEquals(Duration.ofSeconds(1000).toNanos(), b.exponential(19));
    assertEquals(Duration.ofSeconds(1000).toNanos(), b.exponential(10_000), "no overflow far past the cap");
  }

  @Test
  void perKeyFailuresDoubleAndForgetResets() {
    RetryBackoff b = backoff(new RetryBackoff.Settings(Duration.ofMillis(5), Duration.ofSeconds(30), 0, 1e9, 1_000_000), 0);
    assertEquals(Duration.ofMillis(5), b.next("k"));
    assertEquals(Duration.ofMillis(10), b.next("k"));
    assertEquals(Duration.ofMillis(20), b.next("k"));
    assertEquals(Duration.ofMillis(5), b.next("other"), "keys back off independently");
    b.forget("k");
    assertEquals(0, b.failures("k"));
    assertEquals(Duration.ofMillis(5), b.next("k"));
  }

  @Test
  void jitterShortensByAtMostItsFraction() {
    RetryBackoff.Settings s = new RetryBackoff.Settings(Duration.ofMillis(100), Duration.ofSeconds(30), 0.2, 1e9, 1_000_000);
    assertEquals(Duration.ofMillis(80), backoff(s, 1.0).next("k"));
    assertEquals(Duration.ofMillis(100), backoff(s, 0.0).next("k"));
    Duration mid = backoff(s, 0.5).next("k");
    assertEquals(Duration.ofMillis(90), mid);
  }

  @Test
  void overallBucketSpreadsAStormOfFailures() {
    // 10 per second, burst 2: the third immediate failure waits 100ms, the fourth 200ms.
    RetryBackoff b = backoff(new RetryBackoff.Settings(Duration.ofMillis(1), Duration.ofSeconds(30), 0, 10, 2), 0);
    assertEquals(Duration.ofMillis(1), b.next("a"));
    assertEquals(Duration.ofMillis(1), b.next("b"));
    assertEquals(Duration.ofMillis(100), b.next("c"));
    assertEquals(Duration.ofMillis(200), b.next("d"));
    now.addAndGet(Duration.ofSeconds(1).toNanos());
    assertTrue(b.next("e").toMillis() <= 1, "refilled after a second");
  }
}

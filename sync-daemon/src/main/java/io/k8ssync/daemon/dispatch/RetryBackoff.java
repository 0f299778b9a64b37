package io.k8ssync.daemon.dispatch;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

/**
 * When to try a failed key again: per-key exponential backoff ({@code base * 2^(failures-1)},
 * capped at {@code max}) with jitter, combined with an overall {@link TokenBucket}; the longer of
 * the two wins (client-go's {@code MaxOfRateLimiter} of an exponential per-item limiter and a
 * bucket). {@link #forget} resets a key; its caller must forget every key that leaves it other than
 * by failing again (applied, dropped as fatal, parked for another replica), or the record of
 * failures grows with every pod that ever failed. Thread-safe.
 */
public final class RetryBackoff {

  /** Retry settings. {@code jitter} in [0, 1): each delay is shortened by up to that fraction. */
  public record Settings(Duration base, Duration max, double jitter, double ratePerSecond, int burst) {
    /** client-go's constants are 5 ms to 1000 s, 10/s burst 100; we cap lower so a recovered registry is caught up in seconds. */
    public static final Settings DEFAULTS = new Settings(Duration.ofMillis(5), Duration.ofSeconds(30), 0.2, 50, 500);
  }

  private final Settings settings;
  private final TokenBucket bucket;
  private final DoubleSupplier random;
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();

  public RetryBackoff(Settings settings, DoubleSupplier random, java.util.function.LongSupplier nanoTime) {
    this.settings = settings;
    this.bucket = new TokenBucket(settings.ratePerSecond(), settings.burst(), nanoTime);
    this.random = random;
  }

  /** Records one more failure of {@code key} and returns how long to wait before the next try. */
  public Duration next(String key) {
    int n = failures.merge(key, 1, Integer::sum);
    long perKey = jittered(exponential(n));
    long overall = bucket.reserve();
    return Duration.ofNanos(Math.max(perKey, overall));
  }

  /** The un-jittered delay after {@code failures} consecutive failures. */
  long exponential(int failures) {
    long max = settings.max().toNanos();
    long d = settings.base().toNanos();
    for (int i = 1; i < failures && d < max; i++) {
      d = d > Long.MAX_VALUE / 2 ? Long.MAX_VALUE : d * 2;
    }
    return Math.min(d, max);
  }

  private long jittered(long nanos) {
    return (long) (nanos * (1.0 - settings.jitter() * random.getAsDouble()));
  }

  public int failures(String key) {
    return failures.getOrDefault(key, 0);
  }

  public void forget(String key) {
    failures.remove(key);
  }

  /** Keys with failures on record. */
  int tracked() {
    return failures.size();
  }
}

package io.k8ssync.daemon.dispatch;

import java.util.function.LongSupplier;

/**
 * An overall rate limit on retries (client-go's {@code BucketRateLimiter}): {@code ratePerSecond}
 * tokens refill continuously up to {@code burst}. {@link #reserve()} always succeeds and returns
 * how long the caller must wait for its token, so a storm of failures is spread out instead of
 * hammering a recovering system. Thread-safe.
 */
final class TokenBucket {

  private final double ratePerNano;
  private final double burst;
  private final LongSupplier nanoTime;
  private double tokens;
  private long last;

  TokenBucket(double ratePerSecond, int burst, LongSupplier nanoTime) {
    if (ratePerSecond <= 0 || burst < 1) {
      throw new IllegalArgumentException("rate and burst must be positive");
    }
    this.ratePerNano = ratePerSecond / 1e9;
    this.burst = burst;
    this.nanoTime = nanoTime;
    this.tokens = burst;
    this.last = nanoTime.getAsLong();
  }

  /** Takes a token, possibly one not yet refilled; returns the wait in nanoseconds (0 if none). */
  synchronized long reserve() {
    long now = nanoTime.getAsLong();
    tokens = Math.min(burst, tokens + (now - last) * ratePerNano);
    last = now;
    tokens -= 1;
    return tokens >= 0 ? 0 : (long) Math.ceil(-tokens / ratePerNano);
  }
}

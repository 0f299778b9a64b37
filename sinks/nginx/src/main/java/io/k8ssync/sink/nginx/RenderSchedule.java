package io.k8ssync.sink.nginx;

/**
 * When the next render runs, after consul-template's {@code wait}: once changes have been quiet for
 * {@code minWait}, but no later than {@code maxWait} after the first of them; timers (a drain that
 * ends, a retry) wake it as well; and never before a hold ends (the reload rate cap, a retry's
 * backoff). Times are epoch millis. Thread-safe: changes arrive from the queue workers, the render
 * thread takes them.
 */
final class RenderSchedule {

  static final long NEVER = Long.MAX_VALUE;

  private final long minWait;
  private final long maxWait;
  private long firstChange = -1;
  private long lastChange = -1;
  private long wake = NEVER;
  private long notBefore = Long.MIN_VALUE;

  RenderSchedule(long minWaitMillis, long maxWaitMillis) {
    this.minWait = minWaitMillis;
    this.maxWait = maxWaitMillis;
  }

  /** A pod changed at {@code now}. */
  synchronized void changed(long now) {
    if (firstChange < 0) {
      firstChange = now;
    }
    lastChange = Math.max(lastChange, now);
  }

  /** Render at {@code at} even without a change (a drain delay ends, a retry is due). */
  synchronized void wakeAt(long at) {
    wake = Math.min(wake, at);
  }

  /** No render before {@code at}: the reload rate cap, or a retry's backoff. */
  synchronized void holdUntil(long at) {
    notBefore = Math.max(notBefore, at);
  }

  /** When the next render is due, or {@link #NEVER} when nothing waits. */
  synchronized long due() {
    long d = wake;
    if (firstChange >= 0) {
      d = Math.min(d, Math.min(lastChange + minWait, firstChange + maxWait));
    }
    return d == NEVER ? NEVER : Math.max(d, notBefore);
  }

  /** Takes what is due for a render now: returns the time of the first change it covers, or -1 when only a timer woke it. */
  synchronized long take() {
    long first = firstChange;
    firstChange = -1;
    lastChange = -1;
    wake = NEVER;
    return first;
  }
}

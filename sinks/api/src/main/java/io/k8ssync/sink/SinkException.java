package io.k8ssync.sink;

import java.util.Set;

/**
 * A failed apply. Retriable failures (timeouts, connection errors, 5xx) are retried with backoff;
 * fatal ones (the target rejected the request as invalid) are not, since retrying cannot help.
 * {@link #failedKeys()} names the pods that failed when only part of a batch did; empty means all.
 */
public class SinkException extends Exception {

  private final boolean retriable;
  private final Set<String> failedKeys;
  private final java.time.Duration deferral;

  private SinkException(String message, Throwable cause, boolean retriable, Set<String> failedKeys,
                        java.time.Duration deferral) {
    super(message, cause);
    this.retriable = retriable;
    this.failedKeys = Set.copyOf(failedKeys);
    this.deferral = deferral;
  }

  private SinkException(String message, Throwable cause, boolean retriable, Set<String> failedKeys) {
    this(message, cause, retriable, failedKeys, null);
  }

  /**
   * Not a failure: the sink wants to see these pods again after {@code delay} (a warm-up that has
   * not passed yet, say). The daemon holds them, counts the hold and does not back off.
   */
  public static SinkException deferred(String reason, java.time.Duration delay, Set<String> keys) {
    return new SinkException(reason, null, true, keys, delay);
  }

  /** The delay a {@link #deferred} hold asked for, or null for a real failure. */
  public java.time.Duration deferral() {
    return deferral;
  }

  public static SinkException retriable(String message, Throwable cause) {
    return new SinkException(message, cause, true, Set.of());
  }

  public static SinkException fatal(String message, Throwable cause) {
    return new SinkException(message, cause, false, Set.of());
  }

  /** A batch where only {@code failedKeys} failed; the others were applied. */
  public static SinkException partial(String message, Throwable cause, boolean retriable, Set<String> failedKeys) {
    return new SinkException(message, cause, retriable, failedKeys);
  }

  public boolean retriable() {
    return retriable;
  }

  public Set<String> failedKeys() {
    return failedKeys;
  }
}

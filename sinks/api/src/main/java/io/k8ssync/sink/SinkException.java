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

  private SinkException(String message, Throwable cause, boolean retriable, Set<String> failedKeys) {
    super(message, cause);
    this.retriable = retriable;
    this.failedKeys = Set.copyOf(failedKeys);
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

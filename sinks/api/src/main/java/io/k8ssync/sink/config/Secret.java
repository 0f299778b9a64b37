package io.k8ssync.sink.config;

import java.util.Objects;

/**
 * A password or token, read from an environment variable or a file named in the config. It never
 * prints its value: {@link #toString()} shows only where it came from.
 */
public final class Secret {

  private final String source;
  private final String value;

  Secret(String source, String value) {
    this.source = Objects.requireNonNull(source);
    this.value = Objects.requireNonNull(value);
  }

  /** A secret with a known value, for tests and embedded use. */
  public static Secret of(String source, String value) {
    return new Secret(source, value);
  }

  /** The secret itself. Do not log it. */
  public String reveal() {
    return value;
  }

  /** Where it came from, e.g. {@code env:CONSUL_TOKEN}. */
  public String source() {
    return source;
  }

  @Override
  public String toString() {
    return "Secret(" + source + ")";
  }
}

package io.k8ssync.sink.config;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/** A check on one parsed config value; the message says what was expected. */
@FunctionalInterface
public interface Validator {

  /** Returns {@code null} when {@code value} is acceptable, else what was expected. */
  String expected(Object value);

  /**
   * The refused value as the error shows it. A validator of values that may carry a secret (a URL
   * with a password in it) masks the secret here, so the error names the key without leaking it.
   */
  default String shown(Object value) {
    return ConfigException.show(value);
  }

  static Validator atLeast(long min) {
    return v -> toLong(v) >= min ? null : "a value of at least " + min;
  }

  static Validator between(long min, long max) {
    return v -> {
      long n = toLong(v);
      return n >= min && n <= max ? null : "a value between " + min + " and " + max;
    };
  }

  static Validator oneOf(String... allowed) {
    List<String> list = Arrays.asList(allowed);
    return v -> list.contains(v) ? null : "one of " + String.join(", ", list);
  }

  static Validator matches(String regex, String description) {
    Pattern p = Pattern.compile(regex);
    return v -> {
      if (v instanceof List<?> l) {
        for (Object o : l) {
          if (!p.matcher(String.valueOf(o)).matches()) {
            return "a list of " + description + "; " + ConfigException.show(o) + " is not";
          }
        }
        return null;
      }
      return p.matcher(String.valueOf(v)).matches() ? null : description;
    };
  }

  static Validator nonEmpty() {
    return v -> String.valueOf(v).isEmpty() ? "a non-empty value" : null;
  }

  static Validator durationAtLeast(java.time.Duration min) {
    return v -> ((java.time.Duration) v).compareTo(min) >= 0 ? null : "a duration of at least " + min.toMillis() + "ms";
  }

  private static long toLong(Object v) {
    if (v instanceof java.time.Duration d) {
      return d.toMillis();
    }
    return ((Number) v).longValue();
  }
}

package io.k8ssync.sink.config;

import java.nio.file.Files;
import java.nio.file.Path;
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

  /**
   * A path matching {@code regex} with no {@code .} or {@code ..} segment: a store that resolves
   * them writes somewhere else than the config says, and one that refuses them fails every write.
   */
  static Validator cleanPath(String regex, String description) {
    Pattern p = Pattern.compile(regex);
    return v -> {
      String s = String.valueOf(v);
      boolean dots = Arrays.stream(s.split("/", -1)).anyMatch(seg -> seg.equals(".") || seg.equals(".."));
      return p.matcher(s).matches() && !dots ? null : description + " without . or .. segments";
    };
  }

  /**
   * The path of a file this process can read, checked when the config is read, so that
   * {@code validate} catches it rather than the first connection.
   */
  static Validator readableFile() {
    return v -> {
      String why = unreadable(Path.of(String.valueOf(v)));
      return why == null ? null : "a readable file (" + why + ")";
    };
  }

  /** A readable PEM file holding at least one X.509 certificate: a CA bundle to trust. */
  static Validator pemCertificates() {
    return v -> {
      Path file = Path.of(String.valueOf(v));
      String why = unreadable(file);
      if (why != null) {
        return "a readable PEM file of certificates (" + why + ")";
      }
      try {
        Tls.trustManager(file);
        return null;
      } catch (IllegalArgumentException | IllegalStateException e) {
        return "a PEM file holding at least one certificate";
      }
    };
  }

  private static String unreadable(Path file) {
    if (!Files.exists(file)) {
      return "no such file";
    }
    if (Files.isDirectory(file)) {
      return "a directory";
    }
    return Files.isReadable(file) ? null : "not readable by this process";
  }

  private static long toLong(Object v) {
    if (v instanceof java.time.Duration d) {
      return d.toMillis();
    }
    return ((Number) v).longValue();
  }
}

package io.k8ssync.daemon.informer;

/**
 * Checks on values pods supply. Each check returns {@code null} when the value is acceptable, or a
 * short reason. Reasons never echo the value: it may be hostile and they end up in logs.
 */
final class PodValidation {

  private PodValidation() {}

  /**
   * A service name becomes a path segment, a key segment and a URL part: ASCII letters, digits,
   * {@code - _ .}, starting and ending with a letter or digit, no {@code ..}, at most 63 characters.
   */
  static String service(String v) {
    if (v.isEmpty()) {
      return "is empty";
    }
    if (v.length() > PodRules.MAX_SERVICE_LENGTH) {
      return "is longer than " + PodRules.MAX_SERVICE_LENGTH + " characters";
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.';
      if (!ok) {
        return "has a character outside [A-Za-z0-9._-] at position " + i;
      }
    }
    if (!Character.isLetterOrDigit(v.charAt(0)) || !Character.isLetterOrDigit(v.charAt(v.length() - 1))) {
      return "must start and end with a letter or digit";
    }
    if (v.contains("..")) {
      return "contains '..'";
    }
    return null;
  }

  /** A decimal integer in {@code [min, max]} with no sign, spaces or leading zeros beyond one digit. */
  static String intInRange(String v, int min, int max) {
    if (v.isEmpty() || v.length() > 10) {
      return "is not an integer between " + min + " and " + max;
    }
    for (int i = 0; i < v.length(); i++) {
      if (v.charAt(i) < '0' || v.charAt(i) > '9') {
        return "is not an integer between " + min + " and " + max;
      }
    }
    long n = Long.parseLong(v);
    if (n < min || n > max) {
      return "is not an integer between " + min + " and " + max;
    }
    if (v.length() > 1 && v.charAt(0) == '0') {
      return "has leading zeros";
    }
    return null;
  }

  /** A kept annotation value: printable ASCII without quotes or backslashes, bounded length. */
  static String annotationValue(String v) {
    if (v.length() > PodRules.MAX_ANNOTATION_VALUE_LENGTH) {
      return "is longer than " + PodRules.MAX_ANNOTATION_VALUE_LENGTH + " characters";
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        return "has a control, non-ASCII, quote or backslash character at position " + i;
      }
    }
    return null;
  }

  /** An IPv4 dotted quad or an IPv6 literal (hex digits, colons, dots). */
  static String ip(String v) {
    if (v.length() > 45) {
      return "is not an IP address";
    }
    if (v.indexOf(':') < 0) {
      String[] parts = v.split("\\.", -1);
      if (parts.length != 4) {
        return "is not an IP address";
      }
      for (String p : parts) {
        if (intInRange(p, 0, 255) != null) {
          return "is not an IP address";
        }
      }
      return null;
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      boolean ok = Character.digit(c, 16) >= 0 || c == ':' || c == '.';
      if (!ok) {
        return "is not an IP address";
      }
    }
    return null;
  }
}

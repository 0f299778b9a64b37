package io.k8ssync.sink;

/**
 * Parsing and printing of the compact forms {@link PodState} keeps. Each parser accepts only the
 * one canonical spelling of a value, so that printing it back gives exactly the input; anything
 * else is refused (-1 or false) and kept as a string by the caller.
 */
final class CompactValues {

  private static final char[] HEX = "0123456789abcdef".toCharArray();
  /** Longer decimals could overflow a long; resourceVersions are far shorter. */
  private static final int MAX_DECIMAL_DIGITS = 18;

  private CompactValues() {}

  /** A dotted IPv4 address without leading zeros, as an unsigned 32-bit value; else -1. */
  static long ipv4Bits(String s) {
    if (s == null || s.length() < 7 || s.length() > 15) {
      return -1;
    }
    long bits = 0;
    int i = 0;
    for (int part = 0; part < 4; part++) {
      if (part > 0) {
        if (i >= s.length() || s.charAt(i) != '.') {
          return -1;
        }
        i++;
      }
      int start = i;
      int value = 0;
      while (i < s.length() && i - start < 3 && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
        value = value * 10 + (s.charAt(i) - '0');
        i++;
      }
      int digits = i - start;
      if (digits == 0 || value > 255 || (digits > 1 && s.charAt(start) == '0')) {
        return -1;
      }
      bits = (bits << 8) | value;
    }
    return i == s.length() ? bits : -1;
  }

  static String ipv4(int bits) {
    return new StringBuilder(15)
        .append((bits >>> 24) & 255).append('.')
        .append((bits >>> 16) & 255).append('.')
        .append((bits >>> 8) & 255).append('.')
        .append(bits & 255).toString();
  }

  /** A non-negative decimal without sign or leading zero (up to 18 digits); else -1. */
  static long decimal(String s) {
    if (s == null || s.isEmpty() || s.length() > MAX_DECIMAL_DIGITS || (s.length() > 1 && s.charAt(0) == '0')) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  /** A lower-case UUID in its 8-4-4-4-12 form, as Kubernetes writes uids. */
  static boolean isUuid(String s) {
    if (s == null || s.length() != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      char c = s.charAt(i);
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        if (c != '-') {
          return false;
        }
      } else if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }

  static long uuidHigh(String s) {
    return hex(s, 0, 8) << 32 | hex(s, 9, 13) << 16 | hex(s, 14, 18);
  }

  static long uuidLow(String s) {
    return hex(s, 19, 23) << 48 | hex(s, 24, 36);
  }

  static String uuid(long high, long low) {
    char[] out = new char[36];
    int p = 0;
    for (int i = 15; i >= 0; i--) {
      if (p == 8 || p == 13) {
        out[p++] = '-';
      }
      out[p++] = HEX[(int) (high >>> (i * 4)) & 15];
    }
    out[p++] = '-';
    for (int i = 15; i >= 0; i--) {
      if (p == 23) {
        out[p++] = '-';
      }
      out[p++] = HEX[(int) (low >>> (i * 4)) & 15];
    }
    return new String(out);
  }

  private static long hex(String s, int from, int to) {
    long v = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      v = v << 4 | (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return v;
  }
}

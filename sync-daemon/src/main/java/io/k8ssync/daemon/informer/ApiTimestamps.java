package io.k8ssync.daemon.informer;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;

/** The API's timestamps (metav1.Time) as epoch millis. */
final class ApiTimestamps {

  private ApiTimestamps() {}

  /**
   * A timestamp of the API as epoch millis; 0 for none or one that does not parse. The API writes a
   * pod's times (metav1.Time) in UTC with whole seconds, "2026-12-05T22:12:12Z": that form is read
   * digit by digit, any other by {@link Instant#parse}, which also decides every doubtful case. Two a
   * pod in the initial list: DateTimeFormatter's general parser had 5% of the listing threads' CPU
   * at start-up (docs/BENCHMARKS.md, "Footprint beside a Go peer").
   */
  static long millis(String timestamp) {
    if (timestamp == null || timestamp.isEmpty()) {
      return 0;
    }
    long seconds = wholeSecondUtc(timestamp);
    if (seconds != Long.MIN_VALUE) {
      return seconds * 1000;
    }
    try {
      return Instant.parse(timestamp).toEpochMilli();
    } catch (DateTimeParseException e) {
      return 0;
    }
  }

  /** Epoch seconds of "yyyy-MM-ddTHH:mm:ssZ" with a valid date and time, else Long.MIN_VALUE (Instant.parse decides). */
  private static long wholeSecondUtc(String s) {
    if (s.length() != 20 || s.charAt(4) != '-' || s.charAt(7) != '-' || s.charAt(10) != 'T' || s.charAt(13) != ':'
        || s.charAt(16) != ':' || s.charAt(19) != 'Z') {
      return Long.MIN_VALUE;
    }
    int year = digits(s, 0, 4);
    int month = digits(s, 5, 2);
    int day = digits(s, 8, 2);
    int hour = digits(s, 11, 2);
    int minute = digits(s, 14, 2);
    int second = digits(s, 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
      return Long.MIN_VALUE;
    }
    try {
      return LocalDate.of(year, month, day).toEpochDay() * 86_400L + hour * 3_600L + minute * 60L + second;
    } catch (DateTimeException e) {
      return Long.MIN_VALUE; // no such date (February 30th, month 13): Instant.parse says so
    }
  }

  /** The decimal value of {@code s[from, from + n)}, or -1 if one of them is not an ASCII digit. */
  private static int digits(String s, int from, int n) {
    int v = 0;
    for (int i = from; i < from + n; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }
}

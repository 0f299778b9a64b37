package io.k8ssync.daemon.informer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The timestamps of a pod read as {@link Instant#parse} reads them, with or without its fast path. */
class ApiTimestampsTest {

  private static long instantParse(String s) {
    try {
      return Instant.parse(s).toEpochMilli();
    } catch (DateTimeParseException e) {
      return 0;
    }
  }

  @Test
  void readsWholeSecondUtcTimestampsAsInstantParseDoes() {
    Random random = new Random(19);
    for (int i = 0; i < 20_000; i++) {
      // 0001-01-01 .. 9999-12-31, every second equally likely: leap days, month and year ends included by chance.
      long seconds = -62_135_596_800L + (long) (random.nextDouble() * 315_537_897_599L);
      String s = Instant.ofEpochSecond(seconds).toString();
      assertEquals(seconds * 1000, ApiTimestamps.millis(s), s);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "2026-12-05T22:12:12Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2024-02-29T12:00:00Z",
      "2000-02-29T00:00:00Z", "2026-12-31T23:59:59Z",
      // Not the API's whole-second UTC form, or not a date: Instant.parse decides.
      "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
      "2026-00-10T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-05T24:00:00Z", "2026-12-05T23:60:00Z",
      "2016-12-31T23:59:60Z", "2026-12-05T22:12:12.123456Z", "2026-12-05T22:12:12.5Z", "2026-12-05T22:12:12+01:00",
      "2026-12-05T22:12:12z", "2026-12-05 22:12:12Z", "2026-12-05T22:12:1xZ", "-026-12-05T22:12:12Z",
      "+2026-12-05T22:12:1Z", "２０２６-12-05T22:12:12Z", "2026-12-05T22:12:12", "garbage", " "})
  void anyOtherTextReadsAsInstantParseReadsIt(String s) {
    assertEquals(instantParse(s), ApiTimestamps.millis(s), s);
  }

  @Test
  void noTimestampIsZero() {
    assertEquals(0, ApiTimestamps.millis(null));
    assertEquals(0, ApiTimestamps.millis(""));
  }
}

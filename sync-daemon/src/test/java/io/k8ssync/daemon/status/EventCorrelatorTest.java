package io.k8ssync.daemon.status;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The client-go correlation rules, on a clock the test moves: aggregation, deduplication, per-pod and overall limits. */
class EventCorrelatorTest {

  private static final StatusSettings.Events SETTINGS = new StatusSettings.Events(true, 100, 25, Duration.ofMinutes(5), 10, 100, 3);

  private static EventCorrelator.Occurrence failing(String pod, String message) {
    return new EventCorrelator.Occurrence("c", "ns", pod, "uid-" + pod, "Warning", "SyncFailing", "gw", message);
  }

  @Test
  void aRepeatPatchesTheSameEventWithAHigherCount() {
    EventCorrelator c = new EventCorrelator(SETTINGS, 0);
    EventCorrelator.Write first = c.observe(failing("p", "503"), 1000).write();
    EventCorrelator.Write second = c.observe(failing("p", "503"), 2000).write();
    assertTrue(first.create());
    assertFalse(second.create());
    assertEquals(first.name(), second.name());
    assertEquals(2, second.count());
    assertEquals(1000, second.firstMillis());
    assertEquals(2000, second.lastMillis());
    assertTrue(first.name().startsWith("p."));
  }

  @Test
  void tenDifferentMessagesOfOneReasonAreCombinedIntoOneEvent() {
    EventCorrelator c = new EventCorrelator(SETTINGS, 0);
    for (int i = 0; i < EventCorrelator.MAX_SIMILAR - 1; i++) {
      EventCorrelator.Write w = c.observe(failing("p", "error " + i), i).write();
      assertTrue(w.create(), "a new message is a new Event");
      assertFalse(w.message().startsWith(EventCorrelator.COMBINED));
    }
    EventCorrelator.Write tenth = c.observe(failing("p", "error 9"), 10).write();
    EventCorrelator.Write eleventh = c.observe(failing("p", "error 10"), 11).write();
    assertEquals(EventCorrelator.COMBINED + "error 9", tenth.message());
    assertEquals(EventCorrelator.COMBINED + "error 10", eleventh.message());
    assertEquals(tenth.name(), eleventh.name(), "one combined Event from then on");
    assertEquals(2, eleventh.count());
  }

  @Test
  void aPodWritesItsBurstThenOnePerRefillAndTheCountCatchesUp() {
    EventCorrelator c = new EventCorrelator(SETTINGS, 0);
    int written = 0;
    for (int i = 0; i < 1000; i++) {
      EventCorrelator.Decision d = c.observe(failing("p", "503"), 0);
      if (d.write() != null) {
        written++;
      } else {
        assertEquals("rate_limited_pod", d.skipped());
      }
    }
    assertEquals(25, written, "the burst");
    assertNull(c.observe(failing("p", "503"), Duration.ofMinutes(4).toMillis()).write(), "not yet refilled");
    EventCorrelator.Write later = c.observe(failing("p", "503"), Duration.ofMinutes(5).toMillis()).write();
    assertEquals(1002, later.count(), "every occurrence counted, written or not");
    EventCorrelator.Write online = c.observe(new EventCorrelator.Occurrence("c", "ns", "p", "uid-p", "Normal", "Online", "gw", "up"),
        Duration.ofMinutes(5).toMillis()).write();
    assertTrue(online.create(), "a storm of Warnings leaves the pod's Normal Events their own budget");
  }

  @Test
  void allPodsTogetherAreLimitedToo() {
    EventCorrelator c = new EventCorrelator(new StatusSettings.Events(true, 100, 25, Duration.ofMinutes(5), 10, 100, 3), 0);
    int written = 0;
    for (int i = 0; i < 500; i++) {
      EventCorrelator.Decision d = c.observe(failing("p" + i, "503"), 0);
      written += d.write() == null ? 0 : 1;
    }
    assertEquals(100, written, "the overall burst");
    assertEquals("rate_limited", c.observe(failing("q", "503"), 0).skipped());
    assertTrue(c.observe(failing("q", "503"), 100).write() != null, "10 per second: one more after 100 ms");
  }

  @Test
  void anExpiredEventIsCreatedAgain() {
    EventCorrelator c = new EventCorrelator(SETTINGS, 0);
    EventCorrelator.Write first = c.observe(failing("p", "503"), 0).write();
    c.forgetWritten(first.name());
    EventCorrelator.Write again = c.observe(failing("p", "503"), 1).write();
    assertTrue(again.create());
    assertEquals(2, again.count());
  }

  @Test
  void errorTextLosesUrlQueriesAndCredentials() {
    assertEquals("online POST http://gw:8080/online/web?… failed: status 503",
        ErrorText.forPeople("online POST http://gw:8080/online/web?ip=1.2.3.4&token=s3cr3t failed: status 503"));
    assertEquals("GET https://***@gw/x failed", ErrorText.forPeople("GET https://user:pass@gw/x failed"));
    assertEquals("a b", ErrorText.forPeople("a\nb"));
    assertEquals(ErrorText.MAX + 1, ErrorText.forPeople("x".repeat(5000)).length());
  }
}

package io.k8ssync.sink.nginx;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class RenderScheduleTest {

  @Test
  void aLoneChangeRendersAfterTheQuietPeriod() {
    RenderSchedule s = new RenderSchedule(1000, 5000);
    assertEquals(RenderSchedule.NEVER, s.due());
    s.changed(10_000);
    assertEquals(11_000, s.due());
  }

  @Test
  void changesThatNeverPauseRenderAtTheMaximumWaitAfterTheFirst() {
    RenderSchedule s = new RenderSchedule(1000, 5000);
    for (long t = 10_000; t < 20_000; t += 100) {
      s.changed(t);
    }
    assertEquals(15_000, s.due());
    assertEquals(10_000, s.take(), "the render covers changes since the first");
    assertEquals(RenderSchedule.NEVER, s.due());
  }

  @Test
  void aHoldDelaysTheRenderButATimerWakesItWithoutAChange() {
    RenderSchedule s = new RenderSchedule(1000, 5000);
    s.holdUntil(12_000);
    s.changed(10_000);
    assertEquals(12_000, s.due(), "the reload rate cap");
    s.take();
    s.wakeAt(13_000);
    assertEquals(13_000, s.due(), "a drain ending");
    assertEquals(-1, s.take(), "no change behind a timer's render");
  }
}

package io.k8ssync.daemon.informer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RelistGuardUnitTest {

  private final Map<String, Integer> counted = new HashMap<>();
  private final RelistGuard guard = new RelistGuard("test", new RelistGuard.Settings(0.5, Duration.ofSeconds(1)),
      (outcome, n) -> counted.merge(outcome, n, Integer::sum));

  private static Map<String, String> cached(int n) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i < n; i++) {
      m.put("ns/p" + i, "uid-" + i);
    }
    return m;
  }

  @Test
  void removingUpToTheShareIsNotHeld() {
    for (int i = 0; i < 5; i++) {
      guard.listed("ns/p" + i);
    }
    assertFalse(guard.syncStarts(cached(10)), "5 of 10 is not more than half");
    assertFalse(guard.holds("ns/p9"));
  }

  @Test
  void aSingleRemovalIsNeverHeld() {
    assertFalse(guard.syncStarts(cached(1)), "the only pod of a scope may go");
  }

  @Test
  void moreThanTheShareIsHeldThenConfirmedOrKeptPerPod() {
    guard.listed("ns/p0");
    guard.listed("ns/p1");
    assertTrue(guard.syncStarts(cached(10)));
    assertEquals(8, counted.get("held"));
    assertTrue(guard.holds("ns/p2"));
    assertFalse(guard.holds("ns/p0"));

    guard.fresh("ns/p9"); // the watch brought news of p9: the informer knows better
    Map<String, String> existing = new HashMap<>(Map.of("ns/p0", "uid-0", "ns/p1", "uid-1", "ns/p2", "uid-2"));
    existing.put("ns/p3", "uid-new"); // recreated: the held incarnation is gone
    List<String> removed = new ArrayList<>();
    Map<String, String> refreshed = new HashMap<>();
    guard.confirm(existing, uid -> uid, removed::add, refreshed::put);
    removed.sort(null);
    assertEquals(List.of("ns/p4", "ns/p5", "ns/p6", "ns/p7", "ns/p8"), removed, "absent: removed");
    assertEquals(Map.of("ns/p2", "uid-2", "ns/p3", "uid-new"), refreshed,
        "present: stored afresh (its state may have changed), a new incarnation in place of the old");
    assertEquals(6, counted.get("confirmed"), "p3's old incarnation is gone too");
    assertEquals(1, counted.get("kept"), "p2 still exists");
    assertFalse(guard.holding());
  }
}

package io.k8ssync.sink;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RegistrationTest {

  private final PodState up = ready("a", "10.0.0.1");

  @Test
  void runningReadyAddressedValidPodIsOnline() {
    assertTrue(Registration.desiredOnline(up));
  }

  @Test
  void everythingElseIsOffline() {
    assertFalse(Registration.desiredOnline(null));
    assertFalse(Registration.desiredOnline(withReady(up, false)));
    assertFalse(Registration.desiredOnline(withTerminating(up)));
    assertFalse(Registration.desiredOnline(withIp(up, null)));
    PodState failed = new PodState("c1", "ns", "a", "u", "web", "10.0.0.1", null, 8080, null,
        PodState.Phase.FAILED, true, false, 1, null, null, null, "1", 0, 0, null);
    assertFalse(Registration.desiredOnline(failed));
    PodState rejected = new PodState("c1", "ns", "a", "u", null, "10.0.0.1", null, 8080, null,
        PodState.Phase.RUNNING, true, false, 1, null, null, null, "1", 0, 0, "service has a bad character");
    assertFalse(Registration.desiredOnline(rejected));
    PodState noPort = new PodState("c1", "ns", "a", "u", "web", "10.0.0.1", null, 0, null,
        PodState.Phase.RUNNING, true, false, 1, null, null, null, "1", 0, 0, null);
    assertFalse(Registration.desiredOnline(noPort));
  }

  @Test
  void selectorLimitsWhatIsOnline() {
    Selector other = new Selector(Set.of("other"), Set.of(), Map.of());
    assertFalse(Registration.desiredOnline(up, other));
    Selector web = new Selector(Set.of(), Set.of("web"), Map.of());
    assertTrue(Registration.desiredOnline(up, web));
    Selector canary = new Selector(Set.of(), Set.of(), Map.of("track", "canary"));
    assertFalse(Registration.desiredOnline(up, canary));
  }

  @Test
  void oldAddressGoesOfflineOnUnreadyTerminatingDeleteAndAddressChange() {
    assertEquals("10.0.0.1:8080", Registration.addressToRemove(PodChange.of("k", up, withReady(up, false)), Selector.ALL));
    assertEquals("10.0.0.1:8080", Registration.addressToRemove(PodChange.of("k", up, withTerminating(up)), Selector.ALL));
    assertEquals("10.0.0.1:8080", Registration.addressToRemove(PodChange.of("k", up, null), Selector.ALL));
    assertEquals("10.0.0.1:8080", Registration.addressToRemove(PodChange.of("k", up, withIp(up, "10.0.0.9")), Selector.ALL));
    assertNull(Registration.addressToRemove(PodChange.of("k", up, PodStates.withVersion(up, "7")), Selector.ALL));
    assertNull(Registration.addressToRemove(PodChange.of("k", withReady(up, false), null), Selector.ALL));
  }
}

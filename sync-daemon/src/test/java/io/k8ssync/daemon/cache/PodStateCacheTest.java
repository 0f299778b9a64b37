package io.k8ssync.daemon.cache;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Transition;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PodStateCacheTest {

  private final PodStateCache cache = new PodStateCache();
  private final List<PodChange> changes = new ArrayList<>();

  PodStateCacheTest() {
    cache.addListener(changes::add);
  }

  @Test
  void emitsChangesAndIndexesByServiceAndIp() {
    PodState a = ready("a", "10.0.0.1");
    PodState b = ready("b", "10.0.0.2");
    cache.put(a);
    cache.put(b);
    assertEquals(2, cache.podsOfService("web").size());
    assertEquals(List.of(a), List.copyOf(cache.podsWithIp("10.0.0.1")));

    PodState moved = withIp(a, "10.0.0.9");
    cache.put(moved);
    assertTrue(cache.podsWithIp("10.0.0.1").isEmpty());
    assertEquals(List.of(moved), List.copyOf(cache.podsWithIp("10.0.0.9")));

    cache.remove(b.key());
    assertEquals(List.of(moved), List.copyOf(cache.podsOfService("web")));
    assertEquals(List.of(Transition.ADDED, Transition.ADDED, Transition.ADDRESS_CHANGED, Transition.DELETED),
        changes.stream().map(PodChange::transition).toList());
  }

  @Test
  void aNewResourceVersionAloneEmitsNothing() {
    PodState a = ready("a", "10.0.0.1");
    cache.put(a);
    cache.put(withVersion(a, "99"));
    assertEquals(1, changes.size());
    assertEquals("99", cache.get(a.key()).resourceVersion(), "the latest version is still stored");
  }

  @Test
  void indexesIpv6AndAnIpReusedBeforeTheOldPodLeaves() {
    PodState a = ready("a", "fd00::1");
    PodState b = ready("b", "10.0.0.1");
    cache.put(a);
    cache.put(b);
    assertEquals(List.of(a), List.copyOf(cache.podsWithIp("fd00::1")));
    PodState reused = withIp(a, "10.0.0.1");
    cache.put(reused);
    assertTrue(cache.podsWithIp("fd00::1").isEmpty());
    assertEquals(Set.of(reused, b), Set.copyOf(cache.podsWithIp("10.0.0.1")));
    cache.remove(b.key());
    assertEquals(List.of(reused), List.copyOf(cache.podsWithIp("10.0.0.1")));
    cache.put(withIp(reused, null));
    assertTrue(cache.podsWithIp("10.0.0.1").isEmpty());
    assertTrue(cache.podsWithIp("010.0.0.1").isEmpty());
  }

  @Test
  void removingAnUnknownPodEmitsNothing() {
    cache.remove("c1/ns/ghost");
    assertTrue(changes.isEmpty());
  }
}

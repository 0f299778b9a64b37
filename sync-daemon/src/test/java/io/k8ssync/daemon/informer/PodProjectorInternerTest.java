package io.k8ssync.daemon.informer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.k8ssync.sink.PodState;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Anyone who may edit a pod can cycle its service annotation or a kept annotation through unique
 * values: the interner must let go of values no cached pod holds any more.
 */
class PodProjectorInternerTest {

  private static final int UNIQUE = 100_000;

  @Test
  void valuesNoPodHoldsAnyMoreAreForgotten() {
    PodProjector projector = new PodProjector("c1", new PodRules("app", Set.of("track"), Set.of("team"), 1));
    // What the cache keeps of the pod: the interner must keep this value (and share it) while it is held.
    PodState kept = projector.project(PodProjectorTest.pod(Map.of("app", "web"), Map.of("team", "payments")));
    for (int i = 0; i < UNIQUE; i++) {
      String v = "v" + i;
      projector.project(PodProjectorTest.pod(Map.of("app", "web", "track", v), Map.of("k8s-sync.io/service", "svc-" + v, "team", v)));
    }
    await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
      System.gc();
      return projector.internedCount() < 1_000;
    });
    PodState again = projector.project(PodProjectorTest.pod(Map.of("app", "web"), Map.of("team", new String("payments"))));
    assertSame(kept.annotations().get("team"), again.annotations().get("team"), "a value still held is still shared");
    assertEquals("web", again.service());
  }
}

package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.withReady;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.upstream.UpstreamTestAccess;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A deletion pass takes a server's pending deletion, then waits for its upstream's lock. If the pod is
 * registered again and drained again meanwhile, that newer drain has its own delay: the waiting pass must
 * not delete the server early, a moment after its latest down:1.
 */
class ConsulDrainRaceTest {

  private static final String ADDRESS = "10.0.0.1:8080";
  private final ProxiedConsulSink fixture = new ProxiedConsulSink("1s");

  @AfterEach
  void close() {
    fixture.close();
  }

  private void change(int i, PodState before, PodState after) throws Exception {
    fixture.context.pods.set(i, after);
    fixture.sink.apply(List.of(PodChange.of(after.key(), before, after)));
  }

  @Test
  void aPassThatWaitedForTheLockDoesNotDeleteAServerDrainedAgainMeanwhile() throws Exception {
    List<PodState> pods = fixture.registered(3);
    PodState down = withReady(pods.get(0), false);
    change(0, pods.get(0), down); // down:1, its deletion due a drain delay (1 s) from now
    long drainedAgainAt;
    try (AutoCloseable writer = UpstreamTestAccess.holdServer(fixture.sink, "c1", "web", "10.0.0.2:8080")) {
      // The pass takes the pending deletion when it falls due, then waits for the upstream held by the writer.
      await().atMost(Duration.ofSeconds(10)).until(() -> !UpstreamTestAccess.deletionPending(fixture.sink, "c1", "web", ADDRESS));
      PodState up = withReady(down, true);
      change(0, down, up); // registered again: down:0
      drainedAgainAt = System.nanoTime();
      change(0, up, withReady(up, false)); // drained again: down:1, a new deletion due a drain delay from now
      assertTrue(fixture.upstream("web").get(ADDRESS).down());
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> !fixture.upstream("web").containsKey(ADDRESS));
    long afterMillis = (System.nanoTime() - drainedAgainAt) / 1_000_000;
    assertTrue(afterMillis >= 1000, "deleted " + afterMillis + " ms after its latest down:1; the drain delay is 1 s");
  }
}

package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * One daemon feeding all five external systems from a real API server while pods churn. Each
 * system in turn goes away (its connection cut, or the Kafka broker shut down) and comes back.
 * While it is away, a new pod still reaches every other system; afterwards every system agrees
 * with the API server, and the Kafka topic holds every readiness transition, in order per pod.
 */
@ExtendWith(KubeApiServerExtension.class)
class SinkOutagesTest {

  @Test
  void eachSystemDownInTurnDelaysNoOtherAndConvergesWithNothingLost(KubeApi api, @TempDir Path dir) throws Exception {
    try (AllSystems all = new AllSystems(api, "outages", dir)) {
      for (int i = 0; i < 20; i++) {
        all.create("web-" + i);
      }
      await().atMost(Duration.ofSeconds(60)).untilAsserted(all::assertAgree);

      Random random = new Random(7);
      for (String down : AllSystems.SINKS) {
        Runnable restore = all.cut(down);
        for (int op = 0; op < 15; op++) {
          all.churn("web-" + random.nextInt(20), random.nextInt(3));
        }
        // While one system is away, a new pod reaches every other one.
        String probe = "probe-" + down;
        all.create(probe);
        String uid = all.client.pods().inNamespace(all.ns).withName(probe).get().getMetadata().getUid();
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
          for (String other : AllSystems.SINKS) {
            if (!other.equals(down)) {
              assertTrue(all.has(other, all.ip(probe) + ":8080", uid), other + " has " + probe + " while " + down + " is down");
            }
          }
        });
        restore.run();
      }
      await().atMost(Duration.ofSeconds(90)).untilAsserted(all::assertAgree);
      assertEquals(Set.of(), all.lostEvents(), "every readiness transition reached Kafka");
      assertEquals(List.of(), all.outOfOrder(), "every pod's events in order");
    }
  }
}

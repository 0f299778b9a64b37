package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.daemon.config.DaemonConfig.LeaderElectionSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The end of a term is told on the watchdog's thread (no renewal within the deadline) and the start
 * of the next on the elector's. The listener must hear them in the order they happened: a start told
 * before the stop still being told would leave the daemon a standby that holds the Lease, applying
 * nothing (no offline call for a pod going away) while it keeps renewing.
 */
class LeadershipOrderTest {

  @Test
  void aStartNeverOvertakesTheStopStillBeingTold() throws Exception {
    List<String> told = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch inStop = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    LeaderElection.Listener listener = new LeaderElection.Listener() {
      @Override public void startedLeading() {
        told.add("started");
      }

      @Override public void stoppedLeading() {
        told.add("stopping");
        inStop.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        told.add("stopped");
      }
    };
    LeaderElectionSpec spec = new LeaderElectionSpec("default", "k8s-sync", "me", Duration.ofSeconds(4),
        Duration.ofSeconds(3), Duration.ofMillis(500), Duration.ofMinutes(1));
    try (KubernetesClient c = new KubernetesClientBuilder()
        .withConfig(new ConfigBuilder().withMasterUrl("https://127.0.0.1:1").build()).build()) {
      LeaderElection election = new LeaderElection("c1", c, spec, listener);
      election.renewed(System.nanoTime());
      election.onStart();

      Thread watchdog = new Thread(election::onStop, "test-watchdog");
      watchdog.start();
      assertTrue(inStop.await(30, TimeUnit.SECONDS));
      // The next term's elector acquired the Lease while the stop is still being told.
      election.renewed(System.nanoTime());
      Thread elector = new Thread(election::onStart, "test-elector");
      elector.start();
      await().atMost(Duration.ofSeconds(30)).until(() -> !elector.isAlive()
          || elector.getState() == Thread.State.BLOCKED || elector.getState() == Thread.State.WAITING);
      release.countDown();
      watchdog.join(30_000);
      elector.join(30_000);

      assertEquals(List.of("started", "stopping", "stopped", "started"), told);
      assertTrue(election.leading());
      election.close();
    }
  }
}

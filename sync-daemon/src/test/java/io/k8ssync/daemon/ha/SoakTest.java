package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.sink.config.ConfigDef;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak: the whole system under churn for {@code -Dsoak.duration} (default 2m) with
 * {@code -Dsoak.pods} pods (default 100), one external system cut off for 10 s every minute in
 * turn. Reports drift (expected 0), lost Kafka events (expected 0), events out of order (expected
 * 0), the largest sync lag seen and heap, and fails unless the three are 0. Run with
 * {@code scripts/soak.sh}; not part of the test command (tag "soak").
 */
@Tag("soak")
@ExtendWith(KubeApiServerExtension.class)
class SoakTest {

  @Test
  void churnWithOutagesEndsInStepWithNothingLost(KubeApi api, @TempDir Path dir) throws Exception {
    Duration duration = ConfigDef.parseDuration(System.getProperty("soak.duration", "2m"));
    int pods = Integer.getInteger("soak.pods", 100);
    // Lag of a sink while its own system is cut off is expected; while another one is, it must stay low.
    Map<String, Double> maxLag = new java.util.concurrent.ConcurrentHashMap<>();
    Map<String, Double> maxLagOwnOutage = new java.util.concurrent.ConcurrentHashMap<>();
    String[] down = {null};
    // When each system was last cut off and brought back (nanoTime): a change queued in between is its own backlog.
    Map<String, long[]> outage = new java.util.concurrent.ConcurrentHashMap<>();
    double[] maxHeapMb = {0};
    try (AllSystems all = new AllSystems(api, "soak", dir)) {
      for (int i = 0; i < pods; i++) {
        all.create("web-" + i);
      }
      await().atMost(Duration.ofSeconds(120)).untilAsserted(all::assertAgree);

      ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
      sampler.scheduleAtFixedRate(() -> {
        long now = System.nanoTime();
        for (SinkRunner r : all.daemon.dispatcher().runners()) {
          double lag = r.queue().oldestPendingSeconds();
          long queuedAt = now - (long) (lag * 1e9);
          long[] o = outage.get(r.name());
          boolean own = o != null && queuedAt >= o[0] - 1_000_000_000L && (o[1] == 0 || queuedAt <= o[1]);
          (own ? maxLagOwnOutage : maxLag).merge(r.name(), lag, Math::max);
        }
        double heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() / 1048576.0;
        maxHeapMb[0] = Math.max(maxHeapMb[0], heap);
      }, 0, 250, TimeUnit.MILLISECONDS);

      Random random = new Random(11);
      Instant start = Instant.now();
      Instant end = start.plus(duration);
      int outages = 0;
      Runnable restore = null;
      Instant restoreAt = null;
      Instant nextOutage = start.plusSeconds(30);
      while (Instant.now().isBefore(end)) {
        if (restore == null && Instant.now().isAfter(nextOutage)) {
          down[0] = AllSystems.SINKS.get(outages % AllSystems.SINKS.size());
          outage.put(down[0], new long[] {System.nanoTime(), 0});
          restore = all.cut(down[0]);
          restoreAt = Instant.now().plusSeconds(10);
          outages++;
        }
        if (restore != null && Instant.now().isAfter(restoreAt)) {
          restore.run();
          restore = null;
          outage.get(down[0])[1] = System.nanoTime();
          down[0] = null;
          nextOutage = Instant.now().plusSeconds(50);
        }
        all.churn("web-" + random.nextInt(pods), random.nextInt(3));
      }
      if (restore != null) {
        restore.run();
      }
      double churnSeconds = Duration.between(start, Instant.now()).toMillis() / 1000.0;
      Instant stopped = Instant.now();
      try {
        await().atMost(Duration.ofSeconds(120)).untilAsserted(all::assertAgree);
      } catch (org.awaitility.core.ConditionTimeoutException | AssertionError e) {
        // reported below with the figures
      }
      double convergeSeconds = Duration.between(stopped, Instant.now()).toMillis() / 1000.0;
      sampler.shutdownNow();
      Map<String, Set<String>> drift = all.drift();
      Set<String> lost = all.lostEvents();
      List<String> disorder = all.outOfOrder();

      StringBuilder report = new StringBuilder();
      report.append(String.format("soak: %s of churn on %d pods, %d operations (%.1f/s), %d outages of 10 s%n",
          duration, pods, all.operations, all.operations / churnSeconds, outages));
      report.append(String.format("converged %.1f s after the churn stopped%n", convergeSeconds));
      drift.forEach((sink, d) -> report.append(String.format("drift %-7s %d%n", sink, d.size())));
      report.append(String.format("kafka events expected %d, lost %d, pods out of order %d%n",
          all.expectedEvents.size(), lost.size(), disorder.size()));
      for (String sink : AllSystems.SINKS) {
        report.append(String.format("max lag %-7s %.2f s for changes queued while its system was up, %.2f s for those queued during its outage%n", sink,
            maxLag.getOrDefault(sink, 0.0), maxLagOwnOutage.getOrDefault(sink, 0.0)));
      }
      report.append(String.format("max heap used %.0f MiB (test JVM: daemon with in-process ZooKeeper and Kafka)%n", maxHeapMb[0]));
      System.out.print(report);
      Files.writeString(Path.of("target/soak-report.txt"), report.toString());

      drift.forEach((sink, d) -> assertEquals(Set.of(), d, "drift of " + sink));
      assertEquals(Set.of(), lost, "lost events");
      assertEquals(List.of(), disorder, "events out of order");
    }
  }
}

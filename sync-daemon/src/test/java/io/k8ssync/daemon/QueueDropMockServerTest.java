package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.pending;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.LogCapture;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The runner's two drop paths, end to end: a full queue refuses a new pod, and a shutdown deadline
 * leaves changes unapplied. Each is counted in {@code k8s_sync_queue_dropped_total} by reason and
 * logged, never silent.
 */
@EnableKubernetesMockClient(crud = true)
class QueueDropMockServerTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private final String ns = "t" + UUID.randomUUID().toString().substring(0, 8);
  private final String sinkName = "rec-" + ns;
  private Daemon daemon;

  /** One worker, so a gated apply holds exactly one pod in flight. */
  private void start(String shutdownTimeout, int queueCapacity) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: " + shutdownTimeout + "}",
        "clusters: [{name: mock, namespaces: [" + ns + "]}]",
        "dispatch: {workers: 1, queueCapacity: " + queueCapacity + "}",
        "sinks:",
        "  - {name: " + sinkName + ", type: recording}",
        "");
    daemon = Daemons.synced(yaml, () -> server.createClient());
  }

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private double dropped(String reason) {
    return Daemons.counter(daemon, "k8s_sync_queue_dropped", java.util.Map.of("sink", sinkName, "reason", reason));
  }

  @Test
  void aFullQueueDropsNewPodsWithAMetricAndALogLine() throws Exception {
    start("5s", 1);
    Recording sink = RecordingSinkFactory.get(sinkName);
    Semaphore gate = new Semaphore(0);
    sink.gate = gate;
    try (LogCapture log = LogCapture.of(SinkRunner.class)) {
      // One pod in flight (blocked), one queued: the capacity of 1 has no room for a third.
      for (int i = 0; i < 3; i++) {
        client.pods().inNamespace(ns).resource(pending(ns, "q" + i, "web")).create();
      }
      await().until(() -> dropped("full") >= 1);
      List<String> errors = log.messages(Level.ERROR);
      assertTrue(errors.stream().anyMatch(l -> l.startsWith("change dropped: sink=" + sinkName + " pod=mock/" + ns + "/q")
          && l.contains(" reason=full ")), errors.toString());

      gate.release(1000);
      // Every pod was either applied or counted as dropped; none vanished.
      await().until(() -> sink.applied.size() + dropped("full") == 3);
      assertEquals(0, daemon.dispatcher().runner(sinkName).queue().unfinished());
      assertEquals(0.0, dropped("shutdown"));
    } finally {
      gate.release(1000);
      sink.gate = null;
    }
  }

  @Test
  void changesLeftAtTheShutdownDeadlineAreCountedAsDropped() throws Exception {
    start("100ms", 1000);
    Recording sink = RecordingSinkFactory.get(sinkName);
    Semaphore gate = new Semaphore(0);
    sink.gate = gate;
    try (LogCapture log = LogCapture.of(SinkRunner.class)) {
      client.pods().inNamespace(ns).resource(pending(ns, "s0", "web")).create();
      client.pods().inNamespace(ns).resource(pending(ns, "s1", "web")).create();
      // s0 in flight behind the gate, s1 waiting behind it.
      await().until(() -> daemon.dispatcher().runner(sinkName).queue().unfinished() == 2);

      // Opens the gate once the deadline passed and the leftovers were counted, so that close()
      // need not wait for the stuck worker.
      Thread opener = new Thread(() -> {
        try {
          await().atMost(Duration.ofSeconds(30)).until(() -> dropped("shutdown") > 0);
        } finally {
          gate.release(1000);
        }
      }, "gate-opener");
      opener.setDaemon(true);
      opener.start();
      daemon.close();

      assertEquals(2.0, dropped("shutdown"), "the change in flight and the queued one");
      assertTrue(log.messages(Level.ERROR).contains(
          "shutdown deadline passed with changes not applied: sink=" + sinkName + " left=2"), log.messages().toString());
      assertEquals(0.0, dropped("full"));
      assertTrue(sink.closed, "the sink is closed even though the deadline passed");
    } finally {
      gate.release(1000);
      sink.gate = null;
    }
  }
}

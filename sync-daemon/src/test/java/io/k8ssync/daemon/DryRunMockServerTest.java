package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.pending;
import static io.k8ssync.daemon.testing.TestPods.withReadyStatus;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.testing.LogCapture;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --dry-run} end to end on the mock API server: every sink's plan is logged as
 * {@code dry-run: sink=NAME would ACTION}, and nothing is applied, not even by the log sink.
 */
@EnableKubernetesMockClient(crud = true)
class DryRunMockServerTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private final String ns = "t" + UUID.randomUUID().toString().substring(0, 8);
  private final String logSink = "log-" + ns;
  private final String recording = "rec-" + ns;
  private Daemon daemon;

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  @Test
  void dryRunLogsWhatEachSinkWouldDoAndAppliesNothing() throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters: [{name: mock, namespaces: [" + ns + "]}]",
        "sinks:",
        "  - {name: " + logSink + ", type: log, config: {stream: stderr}}",
        "  - {name: " + recording + ", type: recording}",
        "");
    ByteArrayOutputStream logSinkOutput = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    try (LogCapture log = LogCapture.of(SinkRunner.class)) {
      // The log sink takes System.err when it is created, at start: whatever it prints lands here.
      System.setErr(new PrintStream(logSinkOutput, true, StandardCharsets.UTF_8));
      try {
        daemon = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
            spec -> server.createClient(), true);
        daemon.start();
      } finally {
        System.setErr(stderr);
      }
      daemon.synced().get(30, TimeUnit.SECONDS);

      client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "dry", "web"), "10.0.0.7", true)).create();
      String pod = "mock/" + ns + "/dry";
      await().until(() -> daemon.dispatcher().runner(logSink).applied() == 1
          && daemon.dispatcher().runner(recording).applied() == 1);

      List<String> lines = log.messages();
      String logPlan = lines.stream().filter(l -> l.startsWith("dry-run: sink=" + logSink + " would print {"))
          .findFirst().orElseThrow(() -> new AssertionError("no dry-run line of the log sink in " + lines));
      assertTrue(logPlan.contains("\"pod\":\"" + pod + "\""), logPlan);
      assertTrue(logPlan.contains("\"transition\":\"ADDED\""), logPlan);
      assertTrue(logPlan.contains("\"online\":true"), logPlan);
      assertTrue(logPlan.contains("\"action\":\"online\""), logPlan);
      assertTrue(lines.contains("dry-run: sink=" + recording + " would ADDED " + pod), lines.toString());

      Recording rec = RecordingSinkFactory.get(recording);
      assertEquals(0, rec.attempts.get(), "apply is never called in dry-run");
      assertTrue(rec.applied.isEmpty());
      assertFalse(logSinkOutput.toString(StandardCharsets.UTF_8).contains(pod),
          "the log sink printed nothing: " + logSinkOutput.toString(StandardCharsets.UTF_8));
    }
  }
}

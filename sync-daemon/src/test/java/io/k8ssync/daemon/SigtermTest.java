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
import io.k8ssync.sink.http.RecordingTarget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real process: started with a config file, stopped with SIGTERM, exits 0 after draining. */
@EnableKubernetesMockClient(crud = true)
class SigtermTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  @Test
  void sigtermDrainsAndExitsZeroWithJsonLogs(@TempDir Path dir) throws Exception {
    client.pods().inNamespace("shop").resource(pending("shop", "web-1", "web")).create();
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: mock, cluster: {server: '" + server.url("/") + "', insecure-skip-tls-verify: true}}]",
        "users: [{name: u, user: {token: not-a-secret}}]",
        "contexts: [{name: mock, context: {cluster: mock, user: u}}]",
        "current-context: mock", ""));
    Path config = dir.resolve("k8s-sync.yaml");
    Files.writeString(config, String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters: [{name: mock, kubeconfig: '" + kubeconfig + "'}]",
        "sinks: [{name: out, type: log}]", ""));
    Path log = dir.resolve("out.log");
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "run", "--config", config.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertContains(read(log), "all informers synced"));
      await().untilAsserted(() -> assertContains(read(log), "\"pod\":\"mock/shop/web-1\""));
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(30, TimeUnit.SECONDS), "exits after SIGTERM");
      assertEquals(0, p.exitValue(), read(log));
      String out = read(log);
      assertTrue(out.contains("termination signal received"), out);
      assertTrue(out.contains("\"formattedMessage\":\"shut down\""), out);
      for (String line : out.split("\n")) {
        if (!line.isBlank()) {
          assertTrue(line.startsWith("{") && line.endsWith("}"), "every line is one JSON object: " + line);
        }
      }
      assertTrue(!out.contains("not-a-secret"), "the token never reaches the log");
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * SIGTERM while a slow gateway holds the first call and the other pods' changes wait in the queue:
   * the daemon keeps draining, and every change reaches the gateway before it exits, well within
   * shutdownTimeout, with nothing counted as left behind.
   */
  @Test
  void sigtermAppliesWhatIsStillQueuedBeforeExiting(@TempDir Path dir) throws Exception {
    int pods = 5;
    String ns = "drain";
    for (int i = 1; i <= pods; i++) {
      client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "web-" + i, "web"), "10.0.3." + i, true)).create();
    }
    try (RecordingTarget gw = new RecordingTarget()) {
      gw.gate = new Semaphore(0); // the gateway answers nothing until the test lets it
      Path kubeconfig = kubeconfig(dir);
      Path config = dir.resolve("k8s-sync.yaml");
      Files.writeString(config, String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 60s}",
          "clusters: [{name: mock, kubeconfig: '" + kubeconfig + "', namespaces: [" + ns + "]}]",
          "dispatch: {workers: 1}",
          "sinks: [{name: gw, type: http, config: {timeout: 60s, online: {url: '" + gw.url() + "/online/{pod}'},"
              + " offline: {url: '" + gw.url() + "/offline/{pod}'}}}]", ""));
      Path log = dir.resolve("out.log");
      Process p = start(config, log);
      try {
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertContains(read(log), "all informers synced"));
        await().atMost(Duration.ofSeconds(30)).until(() -> gw.gate.getQueueLength() == 1); // one call held, the rest queued
        p.destroy(); // SIGTERM
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertContains(read(log), "draining sink queues"));
        gw.gate.release(1_000); // the gateway answers again, while the daemon drains
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "exits after draining");
        assertEquals(0, p.exitValue(), read(log));
        List<String> online = gw.calls.stream().map(RecordingTarget.Call::path).filter(c -> c.startsWith("/online/")).sorted().toList();
        assertEquals(IntStream.rangeClosed(1, pods).mapToObj(i -> "/online/web-" + i).toList(), online, "every queued change applied");
        String out = read(log);
        assertFalse(out.contains("shutdown deadline passed"), out);
        assertFalse(out.contains("change dropped"), out);
        assertTrue(out.contains("\"formattedMessage\":\"shut down\""), out);
      } finally {
        p.destroyForcibly();
      }
    }
  }

  private static Path kubeconfig(Path dir) throws IOException {
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: mock, cluster: {server: '" + server.url("/") + "', insecure-skip-tls-verify: true}}]",
        "users: [{name: u, user: {token: not-a-secret}}]",
        "contexts: [{name: mock, context: {cluster: mock, user: u}}]",
        "current-context: mock", ""));
    return kubeconfig;
  }

  private static Process start(Path config, Path log) throws IOException {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "run", "--config", config.toString()));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static void assertContains(String text, String part) {
    assertTrue(text.contains(part), "expected " + part + " in:\n" + text);
  }

  private static String read(Path f) throws IOException {
    return Files.exists(f) ? Files.readString(f) : "";
  }
}

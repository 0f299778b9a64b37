package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.k8ssync.daemon.Main;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestKubelet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two daemon processes with leader election and the readiness gate. The leader's sink cannot
 * apply some pods, so their gates wait; the leader is killed (SIGKILL, no Lease release). The new
 * leader completes the waiting gates from its own sinks' reports, and no gate that was True ever
 * turns False for a pod that stays ready.
 */
@ExtendWith(KubeApiServerExtension.class)
class GateTakeoverTest {

  static Process replica(Path dir, String id, String kubeconfig, String ns, String failPods) throws Exception {
    Path config = dir.resolve(id + ".yaml");
    Path kc = dir.resolve("kubeconfig");
    Files.writeString(kc, kubeconfig);
    Files.writeString(config, String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "leaderElection: {enabled: true, namespace: " + ns + ", identity: " + id + ", leaseDuration: 3s, renewDeadline: 2s,"
            + " retryPeriod: 300ms}",
        "clusters: [{name: real, kubeconfig: '" + kc + "', namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms, jitter: 0}}",
        "rollout: {readinessGate: {enabled: true}}",
        "sinks: [{name: reg, type: routing" + (failPods == null ? "" : ", config: {failPods: '" + failPods + "'}") + "}]", ""));
    return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx192m",
        "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve(id + ".log").toFile()).start();
  }

  static boolean logSays(Path dir, String id, String text) throws Exception {
    Path log = dir.resolve(id + ".log");
    return Files.exists(log) && Files.readString(log).contains(text);
  }

  @Test
  void aNewLeaderCompletesPendingGatesAndNeverFlipsATrueGate(KubeApi api, @TempDir Path dir) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "gateha");
      // Every gate status each pod ever had, in order, as a watch sees them.
      Map<String, List<String>> history = new ConcurrentHashMap<>();
      Watcher<Pod> recorder = new Watcher<>() {
        @Override public void eventReceived(Action action, Pod p) {
          PodCondition c = TestKubelet.condition(p, ReadinessGateTest.GATE);
          if (c != null) {
            List<String> h = history.computeIfAbsent(p.getMetadata().getName(), n -> new CopyOnWriteArrayList<>());
            if (h.isEmpty() || !h.get(h.size() - 1).equals(c.getStatus())) {
              h.add(c.getStatus());
            }
          }
        }

        @Override public void onClose(WatcherException cause) {}
      };
      try (var watch = client.pods().inNamespace(ns).watch(recorder);
           TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Process a = replica(dir, "a", api.kubeconfig(), ns, "web-p.*");
        Process b = null;
        try {
          await().atMost(Duration.ofSeconds(60)).until(() -> logSays(dir, "a", "a is now the leader"));
          b = replica(dir, "b", api.kubeconfig(), ns, null);
          await().atMost(Duration.ofSeconds(60)).until(() -> logSays(dir, "b", "b stands by"));

          client.pods().inNamespace(ns).resource(ReadinessGateTest.gated(ns, "web-ok")).create();
          await().atMost(Duration.ofSeconds(30)).until(() -> ReadinessGateTest.ready(client, ns, "web-ok"));
          for (String name : List.of("web-p1", "web-p2", "web-p3")) {
            client.pods().inNamespace(ns).resource(ReadinessGateTest.gated(ns, name)).create();
          }
          await().atMost(Duration.ofSeconds(30)).until(() -> List.of("web-p1", "web-p2", "web-p3").stream().allMatch(n -> {
            PodCondition c = ReadinessGateTest.gate(client, ns, n);
            return c != null && "SinkFailing".equals(c.getReason());
          }));

          a.destroyForcibly();
          a.waitFor(30, TimeUnit.SECONDS);
          await().atMost(Duration.ofSeconds(60)).until(() -> List.of("web-p1", "web-p2", "web-p3").stream()
              .allMatch(n -> ReadinessGateTest.ready(client, ns, n)));
          assertTrue(logSays(dir, "b", "b is now the leader"));
          // The new leader has heard its sink about web-ok too (its replay), and says nothing new.
          await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
              .until(() -> ReadinessGateTest.ready(client, ns, "web-ok"));
          // Before its first True a gate may have said False (its sink had not reported yet); after it, never.
          for (String n : List.of("web-ok", "web-p1", "web-p2", "web-p3")) {
            List<String> h = history.get(n);
            assertEquals("True", h.get(h.size() - 1), n + ": " + history);
            assertEquals(-1, h.subList(h.indexOf("True"), h.size()).indexOf("False"), "a True gate never turned False: " + history);
          }
          for (String n : List.of("web-p1", "web-p2", "web-p3")) {
            assertEquals(List.of("False", "True"), history.get(n), "held False while failing, then True: " + history);
          }
        } finally {
          a.destroyForcibly();
          if (b != null) {
            b.destroy();
            b.waitFor(30, TimeUnit.SECONDS);
          }
        }
      }
    }
  }
}

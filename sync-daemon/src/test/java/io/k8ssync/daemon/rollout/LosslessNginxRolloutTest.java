package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestKubelet;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.HttpBackend;
import io.k8ssync.sink.testbed.Nginx;
import io.k8ssync.sink.testbed.RequestLoop;
import io.k8ssync.sink.testbed.TestBed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole promise, end to end: requests flow without pause through a real nginx (Debian's, with
 * {@code proxy_next_upstream off}, so a request sent to a dead backend is an error) whose upstreams
 * the daemon's nginx sink keeps, while a Deployment of 5 pods rolls (maxSurge 1, maxUnavailable 0)
 * on the real API server. The test plays the Deployment controller (a new pod, wait until Ready,
 * then delete an old one) and the kubelet (Ready = containers and every gate; preStop, then kill).
 * With neither the gate nor the preStop wait, the failed requests are the baseline (counted,
 * printed, not asserted); with both, none may fail.
 */
@ExtendWith(KubeApiServerExtension.class)
class LosslessNginxRolloutTest {

  @TempDir
  Path dir;

  @Test
  void withTheReadinessGateAndThePreStopWaitARollingUpdateThroughARealNginxLosesNoRequest(KubeApi api) throws Exception {
    int port = TestBed.freePort();
    Map<String, String> ips = new ConcurrentHashMap<>();
    AtomicInteger next = new AtomicInteger(10);
    Map<String, HttpBackend> backends = new ConcurrentHashMap<>();
    try (KubernetesClient client = api.client(); Nginx nginx = Nginx.started(dir.resolve("nginx"))) {
      String ns = ReadinessGateTest.namespace(client, "lossless");
      Daemon d = ReadinessGateTest.daemon(api, ns, "{name: nginx-" + ns + ", type: nginx, config: {" + nginx.sinkConfigYaml()
          + ", drainDelay: 1s}}", "readinessGate: {enabled: true}");
      boolean[] waitOnStop = {false};
      TestKubelet.PreStop preStop = p -> {
        if (waitOnStop[0]) {
          OfflineWaitTest.Answer a = OfflineWaitTest.get(d.httpPort(), "namespace=" + ns + "&pod=" + p.getMetadata().getName()
              + "&timeout=30s");
          if (a.status() != 200) {
            throw new IllegalStateException("offline wait answered " + a.status() + " " + a.body());
          }
        }
      };
      TestKubelet.Containers containers = new TestKubelet.Containers() {
        @Override public void start(String pod, String ip) {
          backends.computeIfAbsent(pod, n -> HttpBackend.started(n, ip, port));
        }

        @Override public void stop(String pod) {
          HttpBackend b = backends.remove(pod);
          if (b != null) {
            b.stop();
          }
        }
      };
      try (TestKubelet kubelet = new TestKubelet(client, ns, n -> ips.computeIfAbsent(n, x -> "127.0.1." + next.getAndIncrement()),
          preStop, containers)) {
        for (int i = 0; i < 5; i++) {
          client.pods().inNamespace(ns).resource(pod(ns, "v1-" + i, port, false)).create();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> nginx.liveServers("web").equals(addresses(ips, "v1-", port)));

        long[] baseline = roll(client, nginx, ns, 1, 2, port, false, ips);
        waitOnStop[0] = true;
        long[] lossless = roll(client, nginx, ns, 2, 3, port, true, ips);
        System.out.printf("rolling update of 5 pods through nginx: with neither gate nor preStop wait %d of %d requests"
            + " failed; with both %d of %d%n", baseline[1], baseline[0] + baseline[1], lossless[1], lossless[0] + lossless[1]);
        assertTrue(lossless[0] > 300, "requests flowed during the rollout: " + lossless[0]);
        assertEquals(0, lossless[1], "failed requests with the readiness gate and the preStop wait");
        assertEquals(List.of(), kubelet.hookErrors);
        assertEquals(5.0, Daemons.counter(d, "k8s_sync_offline_waits", Map.of("outcome", "offline")));
      } finally {
        d.close();
        backends.values().forEach(HttpBackend::stop);
      }
    }
  }

  static Pod pod(String ns, String name, int port, boolean gated) {
    Pod base = gated ? ReadinessGateTest.gated(ns, name) : TestPods.scheduled(ns, name);
    return new PodBuilder(base).editMetadata().addToAnnotations("k8s-sync.io/port", Integer.toString(port)).endMetadata().build();
  }

  /** Replaces v{from} by v{to} as a Deployment with maxSurge 1 and maxUnavailable 0; returns {ok, failed} requests. */
  private static long[] roll(KubernetesClient client, Nginx nginx, String ns, int from, int to, int port, boolean gated,
                             Map<String, String> ips) throws Exception {
    try (RequestLoop requests = RequestLoop.started(nginx.port(), nginx.path("web"), 4)) {
      // Start counting from a quiet state: the previous phase's last reload (dropping its killed pods) has landed.
      await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).until(() -> {
        boolean clean = requests.ok() > 50 && requests.failed() == 0;
        if (!clean) {
          requests.reset();
        }
        return clean;
      });
      requests.reset();
      for (int i = 0; i < 5; i++) {
        String fresh = "v" + to + "-" + i;
        client.pods().inNamespace(ns).resource(pod(ns, fresh, port, gated)).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> ReadinessGateTest.ready(client, ns, fresh));
        client.pods().inNamespace(ns).withName("v" + from + "-" + i).withGracePeriod(30).delete();
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> client.pods().inNamespace(ns).list().getItems().stream()
          .noneMatch(p -> p.getMetadata().getName().startsWith("v" + from + "-"))
          && nginx.liveServers("web").equals(addresses(ips, "v" + to + "-", port)));
      if (requests.failed() > 0) {
        System.out.println("failed requests (v" + from + " -> v" + to + "): " + requests.failures().subList(0,
            (int) Math.min(10, requests.failures().size())));
      }
      return new long[] {requests.ok(), requests.failed()};
    }
  }

  private static Set<String> addresses(Map<String, String> ips, String prefix, int port) {
    Set<String> out = new TreeSet<>();
    ips.forEach((name, ip) -> {
      if (name.startsWith(prefix)) {
        out.add(ip + ":" + port);
      }
    });
    return out;
  }

}

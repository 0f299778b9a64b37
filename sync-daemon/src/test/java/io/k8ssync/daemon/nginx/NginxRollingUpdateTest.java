package io.k8ssync.daemon.nginx;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.sink.testbed.Nginx;
import io.k8ssync.sink.testbed.RequestLoop;
import io.k8ssync.sink.testbed.TestBed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests flow through a real nginx without pause while a Deployment of 5 pods rolls (one new pod
 * Ready, then one old pod terminating, every second), with the pods on a real API server and the
 * daemon's nginx sink at its default debounce. With a preStop that outlasts the debounce and the
 * reload, no request fails; without one (the server stops as the pod turns terminating) the
 * failures are counted and printed, as the baseline, not asserted.
 */
@ExtendWith(KubeApiServerExtension.class)
class NginxRollingUpdateTest {

  /** Covers the default debounce (maxWait 3s, reload rate 2s) plus the reload and the informer's delay. */
  private static final Duration PRE_STOP = Duration.ofSeconds(5);

  @TempDir
  Path dir;

  @Test
  void aRollingUpdateWithAPreStopCoveringDebounceAndReloadLosesNoRequest(KubeApi api) throws Exception {
    int port = TestBed.freePort();
    try (KubernetesClient client = api.client(); Nginx nginx = Nginx.started(dir.resolve("nginx"))) {
      String ns = "roll-" + UUID.randomUUID().toString().substring(0, 6);
      client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns)
          .endMetadata().build()).create();
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "sinks: [{name: nginx-" + ns + ", type: nginx, config: {" + nginx.sinkConfigYaml() + ", drainDelay: 2s}}]", "");
      Daemon daemon = Daemons.synced(yaml, api::client);
      try (NginxKubelet kubelet = new NginxKubelet(client, ns, port)) {
        for (int i = 0; i < 5; i++) {
          kubelet.start("web-v1-" + i, "127.0.1." + (10 + i), Map.of());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> nginx.liveServers("web").equals(addresses(1, port)));

        RolloutResult baseline = roll(nginx, kubelet, 1, 2, port, Duration.ZERO);
        RolloutResult withPreStop = roll(nginx, kubelet, 2, 3, port, PRE_STOP);

        System.out.printf("nginx rolling update of 5 pods: without preStop %d failed of %d requests (answers %s);"
                + " with a %ds preStop %d failed of %d%n", baseline.failed, baseline.ok + baseline.failed,
            new TreeSet<>(baseline.failures.stream().map(f -> f.substring(0, Math.min(3, f.length()))).toList()),
            PRE_STOP.toSeconds(), withPreStop.failed, withPreStop.ok + withPreStop.failed);
        assertTrue(withPreStop.ok > 500, "requests flowed during the rollout: " + withPreStop.ok);
        assertEquals(0, withPreStop.failed, "failed requests with the preStop: " + withPreStop.failures);
        assertTrue(nginx.alive());
      } finally {
        daemon.close();
      }
    }
  }

  private record RolloutResult(long ok, long failed, java.util.List<String> failures) {}

  /**
   * Replaces the 5 pods of version {@code from} by those of {@code to} as a Deployment with maxSurge 1
   * and maxUnavailable 0 would: each second a new pod turns Ready and an old one starts terminating;
   * the old one's server stops after {@code preStop}.
   */
  private RolloutResult roll(Nginx nginx, NginxKubelet kubelet, int from, int to, int port, Duration preStop) throws Exception {
    ScheduledExecutorService kubeletClock = Executors.newSingleThreadScheduledExecutor();
    AtomicInteger killed = new AtomicInteger();
    try (RequestLoop requests = RequestLoop.started(nginx.port(), nginx.path("web"), 4)) {
      await().atMost(Duration.ofSeconds(10)).until(() -> requests.ok() > 50);
      requests.reset();
      for (int i = 0; i < 5; i++) {
        int n = i;
        kubeletClock.schedule(() -> {
          kubelet.start("web-v" + to + "-" + n, "127.0.1." + (to * 10 + n), Map.of());
          kubelet.terminating("web-v" + from + "-" + n);
          kubeletClock.schedule(() -> {
            kubelet.killed("web-v" + from + "-" + n);
            killed.incrementAndGet();
          }, preStop.toMillis(), TimeUnit.MILLISECONDS);
        }, i * 1000L, TimeUnit.MILLISECONDS);
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> killed.get() == 5 && nginx.liveServers("web").equals(addresses(to, port)));
      return new RolloutResult(requests.ok(), requests.failed(), requests.failures());
    } finally {
      kubeletClock.shutdownNow();
    }
  }

  private static Set<String> addresses(int version, int port) {
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < 5; i++) {
      out.add("127.0.1." + (version * 10 + i) + ":" + port);
    }
    return out;
  }

}

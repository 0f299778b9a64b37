package io.k8ssync.daemon.nginx;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two daemons with leader election, each beside its own nginx (as on two nginx hosts): the standby
 * keeps its nginx in step as well as the leader does, since the nginx sink writes local files.
 */
@ExtendWith(KubeApiServerExtension.class)
class NginxOnEveryReplicaTest {

  @TempDir
  Path dir;

  @Test
  void theLeaderAndTheStandbyEachKeepTheirOwnNginxInStepWithThePods(KubeApi api) throws Exception {
    int port = TestBed.freePort();
    try (KubernetesClient client = api.client(); Nginx nginxA = Nginx.started(dir.resolve("a"));
         Nginx nginxB = Nginx.started(dir.resolve("b"))) {
      String ns = "every-" + UUID.randomUUID().toString().substring(0, 6);
      client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns)
          .endMetadata().build()).create();
      java.util.function.BiFunction<String, Nginx, String> yaml = (id, nginx) -> String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "leaderElection: {enabled: true, namespace: " + ns + ", identity: " + id
              + ", leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 300ms}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "sinks: [{name: nginx-" + ns + "-" + id + ", type: nginx, config: {" + nginx.sinkConfigYaml()
              + ", minWait: 200ms, maxWait: 1s, drainDelay: 1s}}]", "");
      Daemon a = Daemons.synced(yaml.apply("a", nginxA), api::client);
      Daemon b = null;
      try (NginxKubelet pods = new NginxKubelet(client, ns, port)) {
        await().atMost(Duration.ofSeconds(30)).until(a::leading);
        b = Daemons.synced(yaml.apply("b", nginxB), api::client);
        pods.start("web-1", "127.0.2.1", Map.of());
        pods.start("web-2", "127.0.2.2", Map.of("k8s-sync.io/weight", "3"));
        pods.start("web-3", "127.0.2.3", Map.of());
        Set<String> three = Set.of("127.0.2.1:" + port, "127.0.2.2:" + port, "127.0.2.3:" + port);
        await().atMost(Duration.ofSeconds(30)).until(() -> nginxA.liveServers("web").equals(three)
            && nginxB.liveServers("web").equals(three));
        assertFalse(b.leading(), "b stands by, and writes its nginx all the same");
        for (Nginx n : new Nginx[] {nginxA, nginxB}) {
          String text = Files.readString(n.upstreams().resolve("web.conf"));
          assertTrue(text.contains("server 127.0.2.2:" + port + " weight=3 "), "the weight annotation is written: " + text);
          Map<String, Integer> answers = new HashMap<>();
          for (int i = 0; i < 250; i++) {
            answers.merge(RequestLoop.get("127.0.0.1", n.port(), n.path("web")), 1, Integer::sum);
          }
          // Weights 1:3:1 of 5: web-2 answers 3 of every 5 requests.
          int heavy = answers.getOrDefault("200 web-2", 0);
          assertTrue(heavy >= 130 && heavy <= 170, "web-2 (weight 3 of 5) answered " + heavy + " of 250: " + answers);
        }

        pods.terminating("web-3");
        Set<String> two = Set.of("127.0.2.1:" + port, "127.0.2.2:" + port);
        await().atMost(Duration.ofSeconds(30)).until(() -> nginxA.liveServers("web").equals(two)
            && nginxB.liveServers("web").equals(two));
        double standbyReloads = Daemons.counter(b, "k8s_sync_nginx_reloads", Map.of("result", "ok"));
        assertTrue(standbyReloads >= 2, "the standby reloaded its own nginx: " + standbyReloads);
      } finally {
        a.close();
        if (b != null) {
          b.close();
        }
      }
    }
  }
}

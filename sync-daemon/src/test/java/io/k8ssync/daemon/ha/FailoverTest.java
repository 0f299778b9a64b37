package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Main;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.retry.RetryForever;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two daemon processes with leader election write one ZooKeeper upstream while hundreds of pods
 * churn on a real API server; the leader is killed with SIGKILL in the middle. The standby must
 * take over, the upstream must end equal to the ready pods, and a pod that stayed ready the whole
 * time must never have been drained or removed, before, during or after the takeover.
 */
@ExtendWith(KubeApiServerExtension.class)
class FailoverTest {

  private static final String ROOT = "/nginx/upstreams";
  private static final int STABLE = 60;
  private static final int CHURNING = 140;

  @Test
  void killingTheLeaderMidChurnLosesNothingAndNeverDrainsAStablePod(KubeApi api, @TempDir Path dir) throws Exception {
    String ns = "failover";
    try (TestingServer zk = new TestingServer(true);
         KubernetesClient client = api.client();
         CuratorFramework reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryForever(100))) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      reader.start();
      Path kubeconfig = dir.resolve("kubeconfig");
      Files.writeString(kubeconfig, api.kubeconfig());

      // Every pod ready from the start; "s-*" stay so, "c-*" churn.
      Map<String, String> ips = new HashMap<>();
      int[] nextIp = {0};
      for (int i = 0; i < STABLE + CHURNING; i++) {
        String name = (i < STABLE ? "s-" : "c-") + i;
        ips.put(name, ip(nextIp[0]++));
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, name)).create();
        TestPods.markReady(client, ns, name, ips.get(name), true);
      }
      Set<String> stable = ips.entrySet().stream().filter(e -> e.getKey().startsWith("s-"))
          .map(e -> e.getValue() + ":8080").collect(Collectors.toSet());

      // What nginx would see, change by change: a stable server drained or removed is a violation.
      List<String> violations = new ArrayList<>();
      CuratorCache view = CuratorCache.build(reader, ROOT + "/web");
      view.listenable().addListener(CuratorCacheListener.builder()
          .forChanges((before, after) -> {
            String server = name(after.getPath());
            if (stable.contains(server) && UpsyncEntry.parse(new String(after.getData(), StandardCharsets.UTF_8)).down()) {
              violations.add("drained " + server);
            }
          })
          .forDeletes(node -> {
            if (stable.contains(name(node.getPath()))) {
              violations.add("removed " + name(node.getPath()));
            }
          }).build());
      view.start();

      Replica a = Replica.start(dir, "replica-a", kubeconfig, ns, zk.getConnectString());
      Replica b = null;
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> a.log().contains("replica-a is now the leader"));
        b = Replica.start(dir, "replica-b", kubeconfig, ns, zk.getConnectString());
        Replica standby = b;
        await().atMost(Duration.ofSeconds(60)).until(() -> standby.log().contains("replica-b stands by"));
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertEquals(TestPods.readyAddresses(client, ns), served(reader)));

        Random random = new Random(42);
        for (int op = 0; op < 300; op++) {
          if (op == 150) {
            a.kill(); // SIGKILL: no drain, no Lease release; the standby waits for the Lease to expire
          }
          String pod = "c-" + (STABLE + random.nextInt(CHURNING));
          switch (random.nextInt(3)) {
            case 0 -> TestPods.markReady(client, ns, pod, ips.get(pod), false);
            case 1 -> TestPods.markReady(client, ns, pod, ips.get(pod), true);
            default -> { // a new incarnation at a new address, as a rolling update makes
              client.pods().inNamespace(ns).withName(pod).withGracePeriod(0).delete();
              await().atMost(Duration.ofSeconds(30)).until(() -> client.pods().inNamespace(ns).withName(pod).get() == null);
              ips.put(pod, ip(nextIp[0]++));
              client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, pod)).create();
              TestPods.markReady(client, ns, pod, ips.get(pod), true);
            }
          }
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> standby.log().contains("replica-b is now the leader"));
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> assertEquals(TestPods.readyAddresses(client, ns), served(reader),
            "the upstream serves exactly the ready pods; replica-b log tail:\n" + tail(standby.log())));
        assertEquals(List.of(), violations, "a pod ready throughout was never drained or removed");
      } finally {
        view.close();
        a.kill();
        if (b != null) {
          b.kill();
        }
      }
    }
  }

  private static String ip(int n) {
    return "10.246." + (n / 250) + "." + (n % 250 + 1);
  }

  private static String name(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** Every server of the upstream, which must all be up (drained ones are deleted after drainDelay). */
  private static Set<String> served(CuratorFramework zk) throws Exception {
    Set<String> out = new java.util.TreeSet<>();
    if (zk.checkExists().forPath(ROOT + "/web") == null) {
      return out;
    }
    for (String server : zk.getChildren().forPath(ROOT + "/web")) {
      byte[] data;
      try {
        data = zk.getData().forPath(ROOT + "/web/" + server);
      } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
        continue; // deleted since the listing: a drain completing
      }
      out.add(UpsyncEntry.parse(new String(data, StandardCharsets.UTF_8)).down() ? server + " (down)" : server);
    }
    return out;
  }

  private static String tail(String log) {
    return log.length() <= 4000 ? log : log.substring(log.length() - 4000);
  }

  /** One daemon process, as systemd or a Deployment would run it. */
  record Replica(Process process, Path logFile) {

    static Replica start(Path dir, String identity, Path kubeconfig, String ns, String zk) throws IOException {
      Path config = dir.resolve(identity + ".yaml");
      Files.writeString(config, String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
          "leaderElection: {enabled: true, namespace: " + ns + ", identity: " + identity
              + ", leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}",
          "clusters: [{name: real, kubeconfig: '" + kubeconfig + "', namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 10ms, maxDelay: 1s}}",
          "sinks: [{name: nginx-zk, type: zookeeper, config: {connect: '" + zk + "', drainDelay: 500ms, reconcileEvery: 2s}}]",
          ""));
      Path log = dir.resolve(identity + ".log");
      Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
          "-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      return new Replica(p, log);
    }

    String log() throws IOException {
      return Files.exists(logFile) ? Files.readString(logFile) : "";
    }

    void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }
}

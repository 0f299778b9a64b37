package io.k8ssync.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeProcesses;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestPods;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/**
 * A reconcile pass trusts the cache to say which registered servers are orphans. While a pod watch is
 * down the cache is complete but not current: a pod Ready since then is missing from it, though
 * another replica of the same cluster (the leader before a takeover) may have registered it. A pass
 * then would remove a live server. Passes wait for the watch, counted as skipped.
 */
class WatchDownReconcileTest {

  private static final String NS = "watchdown";

  @Test
  void noReconcilePassRemovesAServerWhileThePodWatchIsDown() throws Exception {
    try (KubeProcesses kube = new KubeProcesses().startEtcd(); TestingServer zk = new TestingServer(true);
         CuratorFramework reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50))) {
      reader.start();
      KubeProcesses.ApiServer watched = kube.startApiServer();
      try (KubernetesClient c = watched.client()) {
        c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
        c.pods().inNamespace(NS).resource(TestPods.scheduled(NS, "p1")).create();
        c.pods().inNamespace(NS).withName("p1").editStatus(x -> TestPods.withReadyStatus(x, "10.247.0.1", true));
      }
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: c1, namespaces: [" + NS + "]}]",
          "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms}}",
          "sinks:",
          "  - {name: zk, type: zookeeper, config: {connect: '" + zk.getConnectString() + "', connectionTimeout: 2s,"
              + " drainDelay: 100ms, reconcileEvery: 300ms, massRemovalShare: 1.0}}",
          "");
      Daemon daemon = Daemons.synced(yaml, watched::client);
      try {
        String root = "/nginx/upstreams";
        await().atMost(Duration.ofSeconds(30)).until(() -> reader.checkExists().forPath(root) != null
            && !reader.getChildren().forPath(root).isEmpty()
            && !reader.getChildren().forPath(root + "/" + reader.getChildren().forPath(root).get(0)).isEmpty());
        String upstream = reader.getChildren().forPath(root).get(0);
        String p1 = reader.getChildren().forPath(root + "/" + upstream).get(0);
        String p2 = "10.247.0.2" + p1.substring(p1.indexOf(':'));
        String ownerP1 = "/k8s-sync/owners/c1/" + upstream + "/" + p1;
        assertNotNull(reader.checkExists().forPath(ownerP1), "the daemon marks what it owns at " + ownerP1);

        // The watch goes down for good: the API server it watches stops. Another on the same etcd takes changes.
        watched.stop();
        await().atMost(Duration.ofSeconds(30)).until(() -> Daemons.gauge(daemon, "k8s_sync_informer_watching") == 0);
        KubeProcesses.ApiServer other = kube.startApiServer();
        try (KubernetesClient c = other.client()) {
          c.pods().inNamespace(NS).resource(TestPods.scheduled(NS, "p2")).create();
          c.pods().inNamespace(NS).withName("p2").editStatus(x -> TestPods.withReadyStatus(x, "10.247.0.2", true));
        }
        // What the other replica of cluster c1, watching that server, writes for p2: p1's entry and mark at p2's address.
        reader.create().forPath(root + "/" + upstream + "/" + p2, reader.getData().forPath(root + "/" + upstream + "/" + p1));
        reader.create().forPath("/k8s-sync/owners/c1/" + upstream + "/" + p2, reader.getData().forPath(ownerP1));

        Map<String, String> skipped = Map.of("sink", "zk", "outcome", "skipped");
        await().atMost(Duration.ofSeconds(30)).until(() -> reader.checkExists().forPath(root + "/" + upstream + "/" + p2) == null
            || Daemons.counter(daemon, "k8s_sync_reconcile_runs", skipped) >= 3);
        assertTrue(reader.checkExists().forPath(root + "/" + upstream + "/" + p2) != null,
            "p2 is Ready and registered by another replica; a pass over the stale cache removed it");
        assertTrue(List.of(reader.getChildren().forPath(root + "/" + upstream).toArray()).contains(p1));
      } finally {
        daemon.close();
      }
    }
  }
}

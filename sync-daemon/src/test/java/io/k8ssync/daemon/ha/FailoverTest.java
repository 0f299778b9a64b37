package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.sink.testbed.MariaDb;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryForever;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two daemon processes with leader election feed all five systems while hundreds of pods churn on
 * a real API server; the leader is killed with SIGKILL in the middle. The standby must take over;
 * afterwards every system must equal the ready pods, every readiness transition must be in Kafka
 * in order, and a pod that stayed ready the whole time must never have been drained or removed
 * from the nginx upstream (ZooKeeper, Consul), nor seen unready in MySQL, nor taken offline at the
 * gateway, before, during or after the takeover.
 */
@ExtendWith(KubeApiServerExtension.class)
class FailoverTest {

  private static final String ROOT = "/nginx/upstreams";
  private static final int STABLE = 60;
  private static final int CHURNING = 140;
  private static final String LEASE = "leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms";

  /**
   * @param stickyIps false: each new incarnation gets a new address and the gateway knows instances
   *                  by uid; true: it comes back at the same address, and the gateway knows them by
   *                  address, so an offline of an old incarnation could hit the new one
   */
  @ParameterizedTest(name = "sticky IPs: {0}")
  @ValueSource(booleans = {false, true})
  void killingTheLeaderMidChurnLosesNothingAndNeverDrainsAStablePod(boolean stickyIps, KubeApi api, @TempDir Path dir)
      throws Exception {
    try (AllSystems all = new AllSystems(api, stickyIps ? "failover-sticky" : "failover", dir, false, stickyIps);
         CuratorFramework reader = CuratorFrameworkFactory.newClient(all.zkConnect(), new RetryForever(100))) {
      reader.start();
      Path kubeconfig = dir.resolve("kubeconfig");
      Files.writeString(kubeconfig, api.kubeconfig());

      // Every pod ready from the start; "s-*" stay so, "c-*" churn.
      IntStream.range(0, STABLE).forEach(i -> all.create("s-" + i));
      IntStream.range(0, CHURNING).forEach(i -> all.create("c-" + i));
      Set<String> stable = IntStream.range(0, STABLE).mapToObj(i -> all.ip("s-" + i) + ":8080").collect(Collectors.toSet());

      Set<String> stableUids = IntStream.range(0, STABLE)
          .mapToObj(i -> all.client.pods().inNamespace(all.ns).withName("s-" + i).get().getMetadata().getUid())
          .collect(Collectors.toSet());

      // What nginx and a SQL reader would see: a stable server drained or removed in ZooKeeper or
      // Consul, or a stable pod's row no longer ready in MySQL, is a violation.
      StableWatch view = new StableWatch(reader, ROOT + "/web", all.consulUrl(), "upstreams/web", AllSystems.TABLE,
          stable, stableUids);
      List<String> violations = view.violations;

      Replica a = Replica.start(dir, "replica-a", kubeconfig, all, LEASE);
      Replica b = null;
      try {
        await().atMost(Duration.ofSeconds(60)).until(a::leads);
        b = Replica.start(dir, "replica-b", kubeconfig, all, LEASE);
        Replica standby = b;
        await().atMost(Duration.ofSeconds(60)).until(standby::standsBy);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(all::assertAgree);
        all.expectedEvents.clear(); // made before any daemon ran: the initial list reports them as "added"

        Random random = new Random(42);
        for (int op = 0; op < 300; op++) {
          if (op == 150) {
            a.kill(); // SIGKILL: no drain, no Lease release; the standby waits for the Lease to expire
          }
          all.churn("c-" + random.nextInt(CHURNING), random.nextInt(3));
        }
        await().atMost(Duration.ofSeconds(60)).until(standby::leads);
        // Every system equals the ready pods, the gateway included: it has no list API to repair
        // from, so every pod the dead leader put online and that left meanwhile, in however many
        // incarnations, must have got its offline from the replay.
        await().atMost(Duration.ofSeconds(90)).untilAsserted(all::assertAgree);
        // The takeover's offlines are repeated a second later (repeatOfflineAfter): they must not undo any of it.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(15)).untilAsserted(all::assertAgree);
        assertEquals(Set.of(), all.lostEvents(), "every readiness transition reached Kafka, across the kill");
        assertEquals(List.of(), all.outOfOrder(), "every pod's events in order");
        IntStream.range(0, STABLE).mapToObj(i -> all.client.pods().inNamespace(all.ns).withName("s-" + i).get())
            .map(p -> stickyIps ? p.getStatus().getPodIP() + ":8080" : p.getMetadata().getUid())
            .filter(id -> all.gatewayCalls(id).stream().anyMatch(c -> c.startsWith("/offline/")))
            .forEach(id -> violations.add("offline at the gateway " + id));
        assertEquals(List.of(), violations,
            "a pod ready throughout was never drained, removed or taken offline (ZooKeeper, Consul, MySQL, gateway)");

        // The watch itself: a removal in each system shows, or the check above proves nothing.
        String server = all.ip("s-0") + ":8080";
        String uid = all.client.pods().inNamespace(all.ns).withName("s-0").get().getMetadata().getUid();
        reader.delete().forPath(ROOT + "/web/" + server);
        HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(all.consulUrl() + "/v1/kv/upstreams/web/" + server))
            .DELETE().build(), HttpResponse.BodyHandlers.discarding());
        try (Connection db = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
             PreparedStatement unready = db.prepareStatement("UPDATE " + AllSystems.TABLE + " SET ready = 0 WHERE uid = ?")) {
          unready.setString(1, uid);
          unready.executeUpdate();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> violations.containsAll(
            List.of("zk: removed " + server, "consul: removed " + server, "mysql: not ready " + uid)));
      } finally {
        view.close();
        a.kill();
        if (b != null) {
          b.kill();
        }
      }
    }
  }

}

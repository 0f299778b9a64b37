package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two teams, one cluster: two daemons with the same cluster name, each watching its own namespace,
 * with their own {@code ownerId}, write the same upstream ({@code web}) into one ZooKeeper and one
 * Consul. Each daemon is restarted once while its own pods change: it removes its own stale server
 * and never one of the other team's, as readers watching every change of both registries see.
 */
@ExtendWith(KubeApiServerExtension.class)
class SharedClusterNameTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static Daemon daemon(String team, TestingServer zk, ConsulAgent consul, KubeApi api) throws Exception {
    String common = "drainDelay: 200ms, reconcileEvery: 500ms, massRemovalShare: 1.0, ownerId: " + team;
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: shared, namespaces: [" + team + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms}}",
        "sinks:",
        "  - {name: zk, type: zookeeper, config: {connect: '" + zk.getConnectString() + "', connectionTimeout: 2s, " + common + "}}",
        "  - {name: consul, type: consul, config: {url: '" + consul.url() + "', timeout: 2s, " + common + "}}",
        "");
    return Daemons.synced(yaml, () -> api.client());
  }

  @Test
  void twoDaemonsOfOneClusterNameNeverRemoveEachOthersServersThroughRestarts(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client(); ConsulAgent consul = ConsulAgent.started(); TestingServer zk = new TestingServer(true);
         CuratorFramework zkReader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50))) {
      zkReader.start();
      for (String ns : List.of("team-a", "team-b")) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      }
      pod(client, "team-a", "web-1", "10.246.1.1");
      pod(client, "team-a", "web-2", "10.246.1.2");
      pod(client, "team-b", "web-1", "10.246.2.1");
      pod(client, "team-b", "web-2", "10.246.2.2");

      List<Set<String>> seen = new CopyOnWriteArrayList<>(); // every snapshot of up servers, of either registry
      AtomicBoolean watching = new AtomicBoolean(true);
      Thread consulReader = new Thread(() -> watchConsul(consul, seen, watching), "upsync-consul-reader");
      Thread zkReaderThread = new Thread(() -> watchZooKeeper(zkReader, seen, watching), "upsync-zk-reader");
      Daemon a = daemon("team-a", zk, consul, api);
      Daemon b = daemon("team-b", zk, consul, api);
      try {
        Set<String> all = Set.of("10.246.1.1:8080", "10.246.1.2:8080", "10.246.2.1:8080", "10.246.2.2:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> up(consul).equals(all) && up(zkReader).equals(all));
        consulReader.start();
        zkReaderThread.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> seen.size() >= 2);

        // team-a is down while one of its pods goes away; back up, it removes that one only.
        a.close();
        client.pods().inNamespace("team-a").withName("web-2").withGracePeriod(0).delete();
        a = daemon("team-a", zk, consul, api);
        Set<String> aRestarted = Set.of("10.246.1.1:8080", "10.246.2.1:8080", "10.246.2.2:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> servers(consul).equals(aRestarted) && servers(zkReader).equals(aRestarted));
        int bothOfTeamB = seen.size();

        // The same for team-b, whose pod turns unready while it is down.
        b.close();
        TestPods.markReady(client, "team-b", "web-2", "10.246.2.2", false);
        b = daemon("team-b", zk, consul, api);
        Set<String> bRestarted = Set.of("10.246.1.1:8080", "10.246.2.1:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> servers(consul).equals(bRestarted) && servers(zkReader).equals(bRestarted));

        watching.set(false);
        consulReader.join(10_000);
        zkReaderThread.join(10_000);
        List<String> violations = new ArrayList<>();
        for (int i = 0; i < seen.size(); i++) {
          List<String> live = new ArrayList<>(List.of("10.246.1.1:8080", "10.246.2.1:8080"));
          if (i < bothOfTeamB) {
            live.add("10.246.2.2:8080"); // team-b's second pod, ready until team-b's own restart
          }
          for (String server : live) {
            if (!seen.get(i).contains(server)) {
              violations.add(server + " missing in " + seen.get(i));
            }
          }
        }
        assertEquals(List.of(), violations, "a server of a live pod never left either registry");
      } finally {
        watching.set(false);
        a.close();
        b.close();
      }
    }
  }

  private static void pod(KubernetesClient client, String ns, String name, String ip) {
    client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, name)).create();
    TestPods.markReady(client, ns, name, ip, true);
  }

  /** nginx-upsync's loop on Consul: a blocking query with the last index, one snapshot of up servers per answer. */
  private static void watchConsul(ConsulAgent consul, List<Set<String>> seen, AtomicBoolean watching) {
    HttpClient http = HttpClient.newHttpClient();
    String index = "0";
    while (watching.get()) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url()
            + "/v1/kv/upstreams/web/?recurse&wait=1s&index=" + index)).build(), HttpResponse.BodyHandlers.ofString());
        index = r.headers().firstValue("X-Consul-Index").orElse(index);
        if (r.statusCode() == 200) {
          seen.add(upOnly(consulEntries(r.body())));
        }
      } catch (Exception e) {
        if (!watching.get()) {
          return;
        }
      }
    }
  }

  /** A reader of ZooKeeper as the module reads it: a snapshot after every change of the upstream's children or data. */
  private static void watchZooKeeper(CuratorFramework zk, List<Set<String>> seen, AtomicBoolean watching) {
    while (watching.get()) {
      CountDownLatch changed = new CountDownLatch(1);
      Watcher w = e -> changed.countDown();
      try {
        Map<String, UpsyncEntry> servers = new TreeMap<>();
        for (String s : zk.getChildren().usingWatcher(w).forPath("/nginx/upstreams/web")) {
          try {
            servers.put(s, UpsyncEntry.parse(new String(zk.getData().usingWatcher(w).forPath("/nginx/upstreams/web/" + s),
                StandardCharsets.UTF_8)));
          } catch (KeeperException.NoNodeException e) {
            // deleted since the listing: the watch on the children says so
          }
        }
        seen.add(upOnly(servers));
        changed.await(1, TimeUnit.SECONDS);
      } catch (Exception e) {
        if (!watching.get()) {
          return;
        }
      }
    }
  }

  private static Set<String> upOnly(Map<String, UpsyncEntry> servers) {
    Set<String> out = new TreeSet<>();
    servers.forEach((a, e) -> {
      if (!e.down()) {
        out.add(a);
      }
    });
    return out;
  }

  private static Map<String, UpsyncEntry> consulEntries(String body) throws Exception {
    Map<String, UpsyncEntry> out = new TreeMap<>();
    for (JsonNode kv : JSON.readTree(body)) {
      String key = kv.get("Key").asText();
      if (!kv.get("Value").isNull()) {
        out.put(key.substring(key.lastIndexOf('/') + 1),
            UpsyncEntry.parse(new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8)));
      }
    }
    return out;
  }

  private static Map<String, UpsyncEntry> consul(ConsulAgent consul) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(consul.url()
        + "/v1/kv/upstreams/web/?recurse")).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode() == 200 ? consulEntries(r.body()) : Map.of();
  }

  private static Map<String, UpsyncEntry> zooKeeper(CuratorFramework zk) throws Exception {
    Map<String, UpsyncEntry> out = new TreeMap<>();
    if (zk.checkExists().forPath("/nginx/upstreams/web") == null) {
      return out;
    }
    for (String s : zk.getChildren().forPath("/nginx/upstreams/web")) {
      try {
        out.put(s, UpsyncEntry.parse(new String(zk.getData().forPath("/nginx/upstreams/web/" + s), StandardCharsets.UTF_8)));
      } catch (KeeperException.NoNodeException e) {
        // a drain completing
      }
    }
    return out;
  }

  private static Set<String> up(ConsulAgent c) throws Exception {
    return upOnly(consul(c));
  }

  private static Set<String> up(CuratorFramework zk) throws Exception {
    return upOnly(zooKeeper(zk));
  }

  /** Every server key, up or draining. */
  private static Set<String> servers(ConsulAgent c) throws Exception {
    return new TreeSet<>(consul(c).keySet());
  }

  private static Set<String> servers(CuratorFramework zk) throws Exception {
    return new TreeSet<>(zooKeeper(zk).keySet());
  }
}

package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.http.RecordingTarget;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.MariaDb;
import io.k8ssync.sink.testbed.TcpProxy;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * One daemon feeding all five external systems from a real API server while pods churn. Each
 * system in turn goes away (its connection cut, or the Kafka broker shut down) and comes back.
 * While it is away, a new pod still reaches every other system; afterwards every system agrees
 * with the API server, and the Kafka topic holds every readiness transition, in order per pod.
 */
@ExtendWith(KubeApiServerExtension.class)
class SinkOutagesTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String NS = "outages";
  private static final String TABLE = "pods_outages";
  private static final String TOPIC = "outage-events";
  private static final List<String> SINKS = List.of("zk", "consul", "mysql", "kafka", "gw");

  private final Map<String, String> ips = new HashMap<>();
  private final Map<String, Boolean> ready = new HashMap<>();
  /** uid:resourceVersion:type of every readiness transition the test made. */
  private final Set<String> expectedEvents = new TreeSet<>();
  private int nextIp;

  @Test
  void eachSystemDownInTurnDelaysNoOtherAndConvergesWithNothingLost(KubeApi api, @TempDir Path dir) throws Exception {
    MariaDb.requireRunning();
    try (Connection db = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         Statement s = db.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + TABLE);
      s.execute("DROP TABLE IF EXISTS " + TABLE + "_schema_version");
    }
    Path password = dir.resolve("db-password");
    Files.writeString(password, MariaDb.PASSWORD);
    KafkaClusterTestKit kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
        .setNumBrokerNodes(1).setNumControllerNodes(1).build()).build();
    kafka.format();
    kafka.startup();
    kafka.waitForReadyBrokers();
    try (kafka;
         KubernetesClient client = api.client();
         TestingServer zk = new TestingServer(true);
         ConsulAgent consul = ConsulAgent.started();
         RecordingTarget gw = new RecordingTarget();
         TcpProxy zkProxy = new TcpProxy("127.0.0.1", zk.getPort());
         TcpProxy consulProxy = new TcpProxy("127.0.0.1", consul.httpPort());
         TcpProxy dbProxy = new TcpProxy(MariaDb.HOST, MariaDb.PORT);
         TcpProxy gwProxy = new TcpProxy("127.0.0.1", URI.create(gw.url()).getPort());
         CuratorFramework zkReader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50))) {
      zkReader.start();
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
          "clusters: [{name: real, namespaces: [" + NS + "]}]",
          "dispatch: {retry: {baseDelay: 10ms, maxDelay: 500ms}}",
          "sinks:",
          "  - {name: zk, type: zookeeper, config: {connect: '127.0.0.1:" + zkProxy.port() + "', sessionTimeout: 60s,"
              + " connectionTimeout: 1s, drainDelay: 200ms, reconcileEvery: 1s}}",
          "  - {name: consul, type: consul, config: {url: 'http://127.0.0.1:" + consulProxy.port() + "', timeout: 1s,"
              + " drainDelay: 200ms, reconcileEvery: 1s}}",
          "  - {name: mysql, type: mysql, config: {jdbcUrl: 'jdbc:mariadb://127.0.0.1:" + dbProxy.port() + "/" + MariaDb.DATABASE
              + "', username: " + MariaDb.USER + ", password: '${file:" + password + "}', table: " + TABLE
              + ", connectTimeout: 1s, reconcileEvery: 1s}}",
          "  - {name: kafka, type: kafka, config: {bootstrapServers: '" + kafka.bootstrapServers() + "', topic: " + TOPIC
              + ", partitions: 3, replicationFactor: 1, deliveryTimeout: 3s, linger: 0ms}}",
          "  - {name: gw, type: http, config: {timeout: 1s, online: {url: 'http://127.0.0.1:" + gwProxy.port() + "/online/{uid}'},"
              + " offline: {url: 'http://127.0.0.1:" + gwProxy.port() + "/offline/{uid}'}}}",
          "");
      Daemon daemon = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
          spec -> api.client(), false);
      daemon.start();
      try {
        daemon.synced().get(60, TimeUnit.SECONDS);
        for (int i = 0; i < 20; i++) {
          create(client, "web-" + i);
        }
        Systems systems = new Systems(zkReader, consul, gw, kafka);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> systems.assertAgree(client));

        Random random = new Random(7);
        for (String down : SINKS) {
          Runnable restore = cut(down, zkProxy, consulProxy, dbProxy, gwProxy, kafka);
          for (int op = 0; op < 15; op++) {
            churn(client, "web-" + random.nextInt(20), random.nextInt(3));
          }
          // While one system is away, a new pod reaches every other one.
          String probe = "probe-" + down;
          create(client, probe);
          String uid = client.pods().inNamespace(NS).withName(probe).get().getMetadata().getUid();
          await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            for (String other : SINKS) {
              if (!other.equals(down)) {
                assertTrue(systems.has(other, ips.get(probe) + ":8080", uid), other + " has " + probe + " while " + down + " is down");
              }
            }
          });
          restore.run();
        }
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> systems.assertAgree(client));
        Map<String, List<JsonNode>> events = systems.eventsByPod();
        Set<String> ids = new TreeSet<>();
        events.values().forEach(l -> l.forEach(e -> ids.add(e.get("id").asText())));
        Set<String> lost = new TreeSet<>(expectedEvents);
        lost.removeAll(ids);
        assertEquals(Set.of(), lost, "every readiness transition reached Kafka");
        for (Map.Entry<String, List<JsonNode>> e : events.entrySet()) {
          long last = -1;
          for (JsonNode ev : e.getValue()) {
            long rv = Long.parseLong(ev.get("id").asText().split(":")[1]);
            assertTrue(rv >= last, "events of pod " + e.getKey() + " in order: " + e.getValue());
            last = rv;
          }
        }
      } finally {
        daemon.close();
      }
    }
  }

  private static Runnable cut(String sink, TcpProxy zk, TcpProxy consul, TcpProxy db, TcpProxy gw, KafkaClusterTestKit kafka)
      throws Exception {
    TcpProxy proxy = switch (sink) {
      case "zk" -> zk;
      case "consul" -> consul;
      case "mysql" -> db;
      case "gw" -> gw;
      default -> null;
    };
    if (proxy != null) {
      proxy.cut();
      return () -> {
        try {
          proxy.restore();
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      };
    }
    var broker = kafka.brokers().values().iterator().next();
    broker.shutdown();
    broker.awaitShutdown();
    return () -> {
      try {
        broker.startup();
        kafka.waitForReadyBrokers();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
  }

  private void create(KubernetesClient client, String name) {
    ips.put(name, "10.247." + (nextIp / 250) + "." + (nextIp % 250 + 1));
    nextIp++;
    client.pods().inNamespace(NS).resource(TestPods.scheduled(NS, name)).create();
    ready.put(name, false);
    setReady(client, name, true);
  }

  private void setReady(KubernetesClient client, String name, boolean value) {
    Pod p = client.pods().inNamespace(NS).withName(name).editStatus(x -> TestPods.withReadyStatus(x, ips.get(name), value));
    if (ready.get(name) != value) {
      expectedEvents.add(p.getMetadata().getUid() + ":" + p.getMetadata().getResourceVersion() + (value ? ":ready" : ":unready"));
    }
    ready.put(name, value);
  }

  private void churn(KubernetesClient client, String name, int what) {
    switch (what) {
      case 0 -> setReady(client, name, false);
      case 1 -> setReady(client, name, true);
      default -> { // a new incarnation at a new address
        client.pods().inNamespace(NS).withName(name).withGracePeriod(0).delete();
        await().atMost(Duration.ofSeconds(30)).until(() -> client.pods().inNamespace(NS).withName(name).get() == null);
        create(client, name);
      }
    }
  }

  /** Reads every system the way its own consumers do. */
  private record Systems(CuratorFramework zk, ConsulAgent consul, RecordingTarget gw, KafkaClusterTestKit kafka) {

    boolean has(String sink, String address, String uid) throws Exception {
      return switch (sink) {
        case "zk" -> upstreamZk().contains(address);
        case "consul" -> upstreamConsul().contains(address);
        case "mysql" -> readyRows().contains(uid);
        case "kafka" -> eventsByPod().getOrDefault(uid, List.of()).stream()
            .anyMatch(e -> e.get("type").asText().endsWith(".ready"));
        default -> online().contains(uid);
      };
    }

    void assertAgree(KubernetesClient client) throws Exception {
      Set<String> addresses = TestPods.readyAddresses(client, NS);
      Set<String> uids = new TreeSet<>();
      for (Pod p : client.pods().inNamespace(NS).list().getItems()) {
        if (TestPods.readyAndAlive(p)) {
          uids.add(p.getMetadata().getUid());
        }
      }
      assertEquals(addresses, upstreamZk(), "zookeeper upstream");
      assertEquals(addresses, upstreamConsul(), "consul upstream");
      assertEquals(uids, readyRows(), "mysql: ready, not deleted rows");
      assertEquals(uids, online(), "gateway: pods whose last call was online");
      Set<String> lastReady = new TreeSet<>();
      eventsByPod().forEach((uid, l) -> {
        if (l.get(l.size() - 1).get("type").asText().endsWith(".ready")) {
          lastReady.add(uid);
        }
      });
      assertEquals(uids, lastReady, "kafka: pods whose last event is ready");
    }

    /** Servers that are up (a drained one, down:1, does not count). */
    Set<String> upstreamZk() throws Exception {
      Set<String> out = new TreeSet<>();
      if (zk.checkExists().forPath("/nginx/upstreams/web") != null) {
        for (String server : zk.getChildren().forPath("/nginx/upstreams/web")) {
          byte[] data;
          try {
            data = zk.getData().forPath("/nginx/upstreams/web/" + server);
          } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
            continue; // deleted since the listing: a drain completing
          }
          if (!UpsyncEntry.parse(new String(data, StandardCharsets.UTF_8)).down()) {
            out.add(server);
          }
        }
      }
      return out;
    }

    Set<String> upstreamConsul() throws Exception {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create(consul.url() + "/v1/kv/upstreams/web?recurse")).build(), HttpResponse.BodyHandlers.ofString());
      Set<String> out = new TreeSet<>();
      if (r.statusCode() == 404) {
        return out;
      }
      for (JsonNode kv : JSON.readTree(r.body())) {
        String value = new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
        if (!UpsyncEntry.parse(value).down()) {
          String key = kv.get("Key").asText();
          out.add(key.substring(key.lastIndexOf('/') + 1));
        }
      }
      return out;
    }

    Set<String> readyRows() throws Exception {
      Set<String> out = new TreeSet<>();
      try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
           Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT uid FROM " + TABLE + " WHERE ready AND NOT terminating AND deleted_at IS NULL")) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      } catch (java.sql.SQLSyntaxErrorException e) {
        // not created yet
      }
      return out;
    }

    Set<String> online() {
      Map<String, String> last = new HashMap<>();
      for (RecordingTarget.Call call : gw.calls) {
        String[] parts = call.path().split("/");
        last.put(parts[2], parts[1]);
      }
      Set<String> out = new TreeSet<>();
      last.forEach((uid, kind) -> {
        if (kind.equals("online")) {
          out.add(uid);
        }
      });
      return out;
    }

    /** Every event of the topic by pod uid, in partition order, each id once. */
    Map<String, List<JsonNode>> eventsByPod() throws Exception {
      Properties p = new Properties();
      p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      Map<String, List<JsonNode>> out = new LinkedHashMap<>();
      Set<String> seen = new java.util.HashSet<>();
      try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
        var partitions = consumer.partitionsFor(TOPIC, Duration.ofSeconds(10)).stream()
            .map(i -> new org.apache.kafka.common.TopicPartition(TOPIC, i.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<org.apache.kafka.common.TopicPartition, Long> end = consumer.endOffsets(partitions);
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
          consumer.poll(Duration.ofMillis(200)).forEach(records::add);
        }
        for (ConsumerRecord<String, String> r : records) {
          JsonNode e = JSON.readTree(r.value());
          if (seen.add(e.get("id").asText())) {
            out.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(e);
          }
        }
      }
      return out;
    }
  }
}

package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestKafka;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
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
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.zookeeper.KeeperException;

/**
 * The whole system for fault and soak tests: a real API server (given), ZooKeeper, Consul,
 * MariaDB, a Kafka broker and an HTTP gateway, each but Kafka behind a {@link TcpProxy} that can
 * cut it off; one daemon feeding all five; pods that churn; and readers that look at each system
 * the way its own consumers do (nginx-upsync, a SQL query, a Kafka consumer, the gateway's calls).
 */
final class AllSystems implements AutoCloseable {

  static final List<String> SINKS = List.of("zk", "consul", "mysql", "kafka", "gw");

  private static final ObjectMapper JSON = new ObjectMapper();
  /** One client for every read of Consul: a new one per read leaves connections open until Consul refuses more. */
  private final HttpClient http = HttpClient.newHttpClient();
  static final String TABLE = "pods_all_systems";
  private static final String TOPIC = "all-systems-events";

  final String ns;
  final KubernetesClient client;
  /** The in-process daemon; null when the test runs its own (processes, replicas). */
  final Daemon daemon;
  /** The {@code sinks:} block of a daemon config feeding all five systems. */
  final String sinksYaml;
  private final TestingServer zk;
  private final ConsulAgent consul;
  private final KafkaClusterTestKit kafka;
  private final RecordingTarget gw;
  private final Map<String, TcpProxy> proxies = new LinkedHashMap<>();
  private final CuratorFramework zkReader;

  // Concurrent: TakeoverBench creates its pods from several threads.
  private final Map<String, String> ips = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Boolean> ready = new java.util.concurrent.ConcurrentHashMap<>();
  /** uid:resourceVersion:type of every readiness transition made: each must reach Kafka. */
  final Set<String> expectedEvents = java.util.Collections.synchronizedSet(new TreeSet<>());
  private int nextIp;
  private final boolean stickyIps;
  int operations;

  AllSystems(KubeApi api, String ns, Path dir) throws Exception {
    this(api, ns, dir, true, false);
  }

  AllSystems(KubeApi api, String ns, Path dir, boolean runDaemon) throws Exception {
    this(api, ns, dir, runDaemon, false);
  }

  /**
   * @param runDaemon   false: start the systems only; the test starts daemons with {@link #sinksYaml}
   * @param stickyIps   true: a replaced pod comes back at its old address (hostNetwork, sticky-IP CNIs),
   *                    and the gateway knows instances by address ({@code /online/{ip}:{port}}), as most
   *                    gateways do; false: a new address each time, and the gateway knows them by uid
   */
  AllSystems(KubeApi api, String ns, Path dir, boolean runDaemon, boolean stickyIps) throws Exception {
    this.ns = ns;
    this.stickyIps = stickyIps;
    MariaDb.requireRunning();
    try (Connection db = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         Statement s = db.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + TABLE);
      s.execute("DROP TABLE IF EXISTS " + TABLE + "_schema_version");
    }
    Path password = dir.resolve("db-password");
    Files.writeString(password, MariaDb.PASSWORD);
    kafka = TestKafka.started();
    zk = new TestingServer(true);
    consul = ConsulAgent.started();
    gw = new RecordingTarget();
    proxies.put("zk", new TcpProxy("127.0.0.1", zk.getPort()));
    proxies.put("consul", new TcpProxy("127.0.0.1", consul.httpPort()));
    proxies.put("mysql", new TcpProxy(MariaDb.HOST, MariaDb.PORT));
    proxies.put("gw", new TcpProxy("127.0.0.1", URI.create(gw.url()).getPort()));
    zkReader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    zkReader.start();
    client = api.client();
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    sinksYaml = String.join("\n",
        "sinks:",
        "  - {name: zk, type: zookeeper, config: {connect: '127.0.0.1:" + port("zk") + "', sessionTimeout: 60s,"
            + " connectionTimeout: 1s, drainDelay: 200ms, reconcileEvery: 1s}}",
        "  - {name: consul, type: consul, config: {url: 'http://127.0.0.1:" + port("consul") + "', timeout: 1s,"
            + " drainDelay: 200ms, reconcileEvery: 1s}}",
        "  - {name: mysql, type: mysql, config: {jdbcUrl: 'jdbc:mariadb://127.0.0.1:" + port("mysql") + "/" + MariaDb.DATABASE
            + "', username: " + MariaDb.USER + ", password: '${file:" + password + "}', table: " + TABLE
            + ", connectTimeout: 1s, reconcileEvery: 1s}}",
        "  - {name: kafka, type: kafka, config: {bootstrapServers: '" + kafka.bootstrapServers() + "', topic: " + TOPIC
            + ", partitions: 3, replicationFactor: 1, deliveryTimeout: 3s, linger: 0ms}}",
        "  - {name: gw, type: http, config: {timeout: 1s, repeatOfflineAfter: 1s, online: {url: 'http://127.0.0.1:" + port("gw")
            + "/online/" + gwId() + "'}, offline: {url: 'http://127.0.0.1:" + port("gw") + "/offline/" + gwId() + "'}}}",
        "");
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters: [{name: real, namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 500ms}}",
        sinksYaml);
    daemon = runDaemon ? Daemons.synced(yaml, () -> api.client()) : null;
  }

  /** Where Consul itself listens (no proxy): for readers that watch it. */
  String consulUrl() {
    return consul.url();
  }

  /** Where ZooKeeper itself listens (no proxy): for readers that watch it change by change. */
  String zkConnect() {
    return zk.getConnectString();
  }

  private int port(String sink) {
    return proxies.get(sink).port();
  }

  /** Cuts one system off (the Kafka broker is shut down); the returned action brings it back. */
  Runnable cut(String sink) throws Exception {
    TcpProxy proxy = proxies.get(sink);
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

  /** How the gateway knows an instance: its address with sticky IPs, else its uid. */
  private String gwId() {
    return stickyIps ? "{ip}:{port}" : "{uid}";
  }

  /** A new pod of service web, made ready as its kubelet would: at a new address, or its old one with sticky IPs. */
  void create(String name) {
    synchronized (ips) {
      if (!stickyIps || !ips.containsKey(name)) {
        ips.put(name, "10.247." + (nextIp / 250 % 250) + "." + (nextIp % 250 + 1));
        nextIp++;
      }
    }
    client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, name)).create();
    ready.put(name, false);
    setReady(name, true);
  }

  String ip(String name) {
    return ips.get(name);
  }

  void setReady(String name, boolean value) {
    Pod p = client.pods().inNamespace(ns).withName(name).editStatus(x -> TestPods.withReadyStatus(x, ips.get(name), value));
    if (ready.get(name) != value) {
      expectedEvents.add(p.getMetadata().getUid() + ":" + p.getMetadata().getResourceVersion() + (value ? ":ready" : ":unready"));
    }
    ready.put(name, value);
    operations++;
  }

  /** 0: unready, 1: ready, 2: replaced by a new incarnation (a rolling update), at a new address unless IPs are sticky. */
  void churn(String name, int what) {
    switch (what) {
      case 0 -> setReady(name, false);
      case 1 -> setReady(name, true);
      default -> {
        client.pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
        await().atMost(Duration.ofSeconds(30)).until(() -> client.pods().inNamespace(ns).withName(name).get() == null);
        create(name);
      }
    }
  }

  boolean has(String sink, String address, String uid) throws Exception {
    return switch (sink) {
      case "zk" -> upstreamZk().contains(address);
      case "consul" -> upstreamConsul().contains(address);
      case "mysql" -> readyRows().contains(uid);
      case "kafka" -> eventsByPod().getOrDefault(uid, List.of()).stream()
          .anyMatch(e -> e.get("type").asText().endsWith(".ready"));
      default -> online().contains(stickyIps ? address : uid);
    };
  }

  /**
   * As {@link #has}, read for this one pod only: its own znode, its own Consul key, its own row, the
   * gateway's calls from the newest back, and the events {@code tail} has read since it was opened.
   * For timing a takeover at 10,000 pods: {@link #has} lists every entry (10,000 ZooKeeper reads, a
   * whole topic) on each poll, which then times the reader rather than the daemon.
   */
  boolean hasPod(String sink, String address, String uid, EventTail tail) throws Exception {
    switch (sink) {
      case "zk": {
        try {
          byte[] data = zkReader.getData().forPath("/nginx/upstreams/web/" + address);
          return !UpsyncEntry.parse(new String(data, StandardCharsets.UTF_8)).down();
        } catch (KeeperException.NoNodeException e) {
          return false;
        }
      }
      case "consul": {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
            URI.create(consul.url() + "/v1/kv/upstreams/web/" + address)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 404) {
          return false;
        }
        String value = new String(Base64.getDecoder().decode(JSON.readTree(r.body()).get(0).get("Value").asText()), StandardCharsets.UTF_8);
        return !UpsyncEntry.parse(value).down();
      }
      case "mysql": {
        try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
             java.sql.PreparedStatement s = c.prepareStatement("SELECT 1 FROM " + TABLE
                 + " WHERE uid = ? AND ready AND NOT terminating AND deleted_at IS NULL")) {
          s.setString(1, uid);
          try (ResultSet rs = s.executeQuery()) {
            return rs.next();
          }
        } catch (java.sql.SQLSyntaxErrorException e) {
          return false; // the sink has not created its table yet
        }
      }
      case "kafka":
        return tail.ready(uid);
      default: {
        String id = "/" + (stickyIps ? address : uid);
        Object[] calls = gw.calls.toArray();
        for (int i = calls.length - 1; i >= 0; i--) {
          String path = ((RecordingTarget.Call) calls[i]).path();
          if (path.endsWith(id)) {
            return path.startsWith("/online/");
          }
        }
        return false;
      }
    }
  }

  /** Each system's own time for writes from now on (TakeoverBench); the daemons' table and topic must exist. */
  WriteStamps stampWrites() throws Exception {
    return WriteStamps.start(kafka.bootstrapServers(), TOPIC, TABLE, gw);
  }

  /**
   * When the write that {@link #hasPod} saw reached its system, by the system's own clock (epoch millis);
   * for Kafka the pod's first event ({@code first}) or its ready event. Empty where the system keeps no
   * time (Consul) or the write came before {@link #stampWrites}.
   */
  java.util.OptionalLong stampOf(String sink, String address, String uid, EventTail tail, WriteStamps stamps, boolean first)
      throws Exception {
    return switch (sink) {
      case "zk" -> WriteStamps.zooKeeper(zkReader, "/nginx/upstreams/web/" + address);
      case "mysql" -> stamps.mysql(uid);
      case "kafka" -> tail.appended(uid, first);
      case "gw" -> stamps.gateway("/online/" + (stickyIps ? address : uid));
      default -> java.util.OptionalLong.empty();
    };
  }

  /**
   * When Consul's key of {@code address} first holds an up server, as a blocking query learns it (the
   * way nginx-upsync reads Consul): epoch millis, on a thread of its own. Consul keeps no time on a key;
   * a blocking query returns as soon as the key's index moves, so this is the nearest to one.
   */
  java.util.concurrent.CompletableFuture<Long> consulUp(String address) {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      String url = consul.url() + "/v1/kv/upstreams/web/" + address;
      long index = 0;
      try {
        while (true) {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "?index=" + index + "&wait=60s")).build(),
              HttpResponse.BodyHandlers.ofString());
          long at = System.currentTimeMillis();
          if (r.statusCode() == 200) {
            String value = new String(Base64.getDecoder().decode(JSON.readTree(r.body()).get(0).get("Value").asText()), StandardCharsets.UTF_8);
            if (!UpsyncEntry.parse(value).down()) {
              return at;
            }
          }
          long next = Long.parseLong(r.headers().firstValue("X-Consul-Index").orElse("0"));
          index = next < index ? 0 : next; // an index that went back starts over, as Consul's docs say
        }
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    }, task -> {
      Thread t = new Thread(task, "consul-blocking-query");
      t.setDaemon(true);
      t.start();
    });
  }

  /** Reads the event topic from its end as it was when opened: the events written since, ready ones by pod uid. */
  EventTail tailEvents() {
    return new EventTail();
  }

  /** A consumer of the event topic from its end at opening; use from one thread at a time. */
  final class EventTail implements AutoCloseable {
    private final KafkaConsumer<String, String> consumer;
    private final Set<String> ready = new HashSet<>();
    /** The broker's append time of each pod's first event and of its first ready one, when the topic stamps it. */
    private final Map<String, Long> firstAppended = new HashMap<>();
    private final Map<String, Long> readyAppended = new HashMap<>();

    private EventTail() {
      Properties p = new Properties();
      p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
      List<TopicPartition> partitions = consumer.partitionsFor(TOPIC, Duration.ofSeconds(10)).stream()
          .map(i -> new TopicPartition(TOPIC, i.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToEnd(partitions);
      partitions.forEach(consumer::position); // the end now, not at the first poll
    }

    /** True once a ready event of pod {@code uid} was read; reads what came since the last call. */
    boolean ready(String uid) throws Exception {
      for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(5))) {
        boolean appendTime = r.timestampType() == org.apache.kafka.common.record.TimestampType.LOG_APPEND_TIME;
        if (appendTime) {
          firstAppended.putIfAbsent(r.key(), r.timestamp());
        }
        if (JSON.readTree(r.value()).get("type").asText().endsWith(".ready")) {
          ready.add(r.key());
          if (appendTime) {
            readyAppended.putIfAbsent(r.key(), r.timestamp());
          }
        }
      }
      return ready.contains(uid);
    }

    /** The broker's append time of pod {@code uid}'s first event read, or of its first ready one. */
    java.util.OptionalLong appended(String uid, boolean first) {
      Long at = (first ? firstAppended : readyAppended).get(uid);
      return at == null ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(at);
    }

    @Override
    public void close() {
      consumer.close();
    }
  }

  /** What each system should hold now: the ready pods' addresses, and their uids. */
  private Set<String> readyUids() {
    Set<String> uids = new TreeSet<>();
    for (Pod p : client.pods().inNamespace(ns).list().getItems()) {
      if (TestPods.readyAndAlive(p)) {
        uids.add(p.getMetadata().getUid());
      }
    }
    return uids;
  }

  /** Per system, the entries that differ from the API server (both ways); all empty when in step. */
  Map<String, Set<String>> drift() throws Exception {
    Set<String> addresses = TestPods.readyAddresses(client, ns);
    Set<String> uids = readyUids();
    Set<String> lastReady = new TreeSet<>();
    eventsByPod().forEach((uid, l) -> {
      // The newest event's "after" state: ready and alive (a pod listed ready at start has only "added").
      JsonNode after = l.get(l.size() - 1).get("data").get("after");
      if (after != null && !after.isNull() && after.get("ready").asBoolean() && !after.get("terminating").asBoolean()) {
        lastReady.add(uid);
      }
    });
    Map<String, Set<String>> out = new LinkedHashMap<>();
    out.put("zk", difference(addresses, upstreamZk()));
    out.put("consul", difference(addresses, upstreamConsul()));
    out.put("mysql", difference(uids, readyRows()));
    out.put("kafka", difference(uids, lastReady));
    out.put("gw", difference(stickyIps ? addresses : uids, online()));
    return out;
  }

  void assertAgree() throws Exception {
    Map<String, Set<String>> none = new LinkedHashMap<>();
    SINKS.forEach(s -> none.put(s, Set.of()));
    assertEquals(none, drift(), "entries that differ from the API server, per system");
  }

  private static Set<String> difference(Set<String> want, Set<String> have) {
    Set<String> out = new TreeSet<>();
    want.stream().filter(x -> !have.contains(x)).forEach(x -> out.add("missing " + x));
    have.stream().filter(x -> !want.contains(x)).forEach(x -> out.add("extra " + x));
    return out;
  }

  /** Readiness transitions made but absent from Kafka. */
  Set<String> lostEvents() throws Exception {
    Set<String> ids = new HashSet<>();
    eventsByPod().values().forEach(l -> l.forEach(e -> ids.add(e.get("id").asText())));
    Set<String> lost = new TreeSet<>(expectedEvents);
    lost.removeAll(ids);
    return lost;
  }

  /** Pods whose events, first occurrence of each id, are not in resourceVersion order. */
  List<String> outOfOrder() throws Exception {
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, List<JsonNode>> e : eventsByPod().entrySet()) {
      long last = -1;
      for (JsonNode ev : e.getValue()) {
        long rv = Long.parseLong(ev.get("id").asText().split(":")[1]);
        if (rv < last) {
          out.add(e.getKey() + ": " + e.getValue().stream().map(x -> x.get("id").asText()).toList());
          break;
        }
        last = rv;
      }
    }
    return out;
  }

  /** Servers that are up (a drained one, down:1, does not count). */
  Set<String> upstreamZk() throws Exception {
    Set<String> out = new TreeSet<>();
    if (zkReader.checkExists().forPath("/nginx/upstreams/web") == null) {
      return out;
    }
    for (String server : zkReader.getChildren().forPath("/nginx/upstreams/web")) {
      byte[] data;
      try {
        data = zkReader.getData().forPath("/nginx/upstreams/web/" + server);
      } catch (KeeperException.NoNodeException e) {
        continue; // deleted since the listing: a drain completing
      }
      if (!UpsyncEntry.parse(new String(data, StandardCharsets.UTF_8)).down()) {
        out.add(server);
      }
    }
    return out;
  }

  Set<String> upstreamConsul() throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
        URI.create(consul.url() + "/v1/kv/upstreams/web/?recurse")).build(), HttpResponse.BodyHandlers.ofString());
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
      // the sink has not created its table yet
    }
    return out;
  }

  /** Every gateway call of one instance (uid, or address with sticky IPs), in order. */
  List<String> gatewayCalls(String id) {
    return gw.calls.stream().filter(c -> c.path().endsWith("/" + id)).map(RecordingTarget.Call::path).toList();
  }

  /** Instances (uids, or addresses with sticky IPs) whose last gateway call was an online. */
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

  /** Every event of the topic by pod uid, in partition order, each id once (as a deduplicating consumer keeps it). */
  Map<String, List<JsonNode>> eventsByPod() throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    Map<String, List<JsonNode>> out = new LinkedHashMap<>();
    Set<String> seen = new HashSet<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
      List<TopicPartition> partitions = consumer.partitionsFor(TOPIC, Duration.ofSeconds(10)).stream()
          .map(i -> new TopicPartition(TOPIC, i.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
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

  @Override
  public void close() throws Exception {
    if (daemon != null) {
      daemon.close();
    }
    client.close();
    zkReader.close();
    for (TcpProxy proxy : proxies.values()) {
      proxy.close();
    }
    gw.close();
    consul.close();
    zk.close();
    kafka.close();
  }
}

package io.k8ssync.daemon.footprint;

import io.k8ssync.daemon.testing.TestKafka;
import io.k8ssync.sink.http.RecordingTarget;
import io.k8ssync.sink.testbed.MariaDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.test.KafkaClusterTestKit;

/**
 * The four sinks beside Consul for {@code -Dfootprint.sinks=all}: ZooKeeper, MySQL (the test bed's MariaDB), Kafka
 * and an HTTP gateway, each a real server, each with the sink's defaults but what a config must name (and a Kafka
 * topic of 3 partitions on the one broker), so a start loads and runs every sink's client as a production start with
 * all of them does (its CPU, its RSS, its class list).
 */
final class OtherSinks implements AutoCloseable {

  private static final String TABLE = "footprint_pods";
  private static final String TOPIC = "footprint-events";
  private static final String UPSTREAM = "/nginx/upstreams/web";

  private final KafkaClusterTestKit kafka;
  private TestingServer zk;
  private CuratorFramework zkReader;
  private RecordingTarget gw;
  private Admin admin;
  private final Path password;

  OtherSinks(Path dir) throws Exception {
    MariaDb.requireRunning();
    password = dir.resolve("db-password");
    Files.writeString(password, MariaDb.PASSWORD);
    kafka = TestKafka.started();
    try {
      Properties p = new Properties();
      p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      admin = Admin.create(p);
      zk = new TestingServer(true);
      zkReader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
      zkReader.start();
      gw = new RecordingTarget();
      db = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
    } catch (Exception e) {
      close(); // what started so far: a broker left running would keep the test JVM alive
      throw e;
    }
  }

  private Connection db;

  /** The sinks' lines for the daemon's config. */
  List<String> sinksYaml() {
    return List.of(
        "  - {name: zk, type: zookeeper, config: {connect: '" + zk.getConnectString() + "'}}",
        "  - {name: mysql, type: mysql, config: {jdbcUrl: '" + MariaDb.jdbcUrl() + "', username: " + MariaDb.USER
            + ", password: '${file:" + password + "}', table: " + TABLE + "}}",
        "  - {name: kafka, type: kafka, config: {bootstrapServers: '" + kafka.bootstrapServers() + "', topic: " + TOPIC
            + ", partitions: 3, replicationFactor: 1}}",
        "  - {name: gw, type: http, config: {online: {url: '" + gw.url() + "/online/{uid}'}, offline: {url: '" + gw.url()
            + "/offline/{uid}'}}}");
  }

  /**
   * Each set starts on empty systems, as the Consul sink's does: no upstreams and no ownership markers in ZooKeeper, no
   * table (the topic keeps its events: the sink only appends, and they are counted from here).
   */
  void wipe() throws Exception {
    for (String root : List.of("/nginx", "/k8s-sync")) {
      if (zkReader.checkExists().forPath(root) != null) {
        zkReader.delete().deletingChildrenIfNeeded().forPath(root);
      }
    }
    try (Statement s = db.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + TABLE);
      s.execute("DROP TABLE IF EXISTS " + TABLE + "_schema_version");
    }
    gw.calls.clear();
    eventsAtWipe = events();
  }

  private long eventsAtWipe;

  /** True once every sink wrote each of {@code pods} ready pods once: registered, a row, an event, an online call. */
  boolean allWritten(int pods) throws Exception {
    if (zkReader.checkExists().forPath(UPSTREAM) == null || zkReader.getChildren().forPath(UPSTREAM).size() < pods) {
      return false;
    }
    try (Statement s = db.createStatement();
         ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + TABLE + " WHERE ready")) {
      if (!rs.next() || rs.getInt(1) < pods) {
        return false;
      }
    } catch (java.sql.SQLSyntaxErrorException e) {
      return false; // the sink has not created its table yet
    }
    return gw.calls.stream().filter(c -> c.path().startsWith("/online/")).map(RecordingTarget.Call::path).distinct().count() >= pods
        && events() - eventsAtWipe >= pods;
  }

  /** Events in the topic, all partitions (0 before the sink created it). */
  private long events() throws Exception {
    if (!admin.listTopics().names().get().contains(TOPIC)) {
      return 0;
    }
    Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
    admin.describeTopics(List.of(TOPIC)).allTopicNames().get().get(TOPIC).partitions()
        .forEach(p -> latest.put(new TopicPartition(TOPIC, p.partition()), OffsetSpec.latest()));
    return admin.listOffsets(latest).all().get().values().stream().mapToLong(o -> o.offset()).sum();
  }

  @Override
  public void close() throws Exception {
    // Each in turn, whatever the one before did: a broker or server left running keeps the test JVM alive.
    List<AutoCloseable> all = new java.util.ArrayList<>();
    java.util.Collections.addAll(all, db, admin, gw, zkReader, zk, kafka);
    Exception first = null;
    for (AutoCloseable c : all) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }
}

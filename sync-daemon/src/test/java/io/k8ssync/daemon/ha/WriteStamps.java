package io.k8ssync.daemon.ha;

import io.k8ssync.sink.http.RecordingTarget;
import io.k8ssync.sink.testbed.MariaDb;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.zookeeper.data.Stat;

/**
 * When a write reached its system, by that system's own clock (epoch millis, same host): for timing a
 * takeover (TakeoverBench, issue 19 target 7), where the bench's 10 ms polls run on the same two cores as
 * every server and both daemons and so read a write later than it landed. ZooKeeper stamps each node
 * itself (its mtime); from {@link #start} on, the event topic carries the broker's append time instead of
 * the producer's, a trigger notes when a MySQL row first became ready ({@code SYSDATE(6)}, the moment the
 * statement ran), and the gateway notes when each call arrived. Consul keeps no time on a key: a
 * blocking query on it stands in ({@link AllSystems#consulUp}).
 */
final class WriteStamps {

  private final String readyAt;
  private final Map<String, Long> arrivals = new ConcurrentHashMap<>();

  private WriteStamps(String table) {
    this.readyAt = table + "_ready_at";
  }

  /** Starts stamping; the daemons' MySQL table and the event topic must exist by now. */
  static WriteStamps start(String kafkaBootstrap, String topic, String table, RecordingTarget gw) throws Exception {
    WriteStamps stamps = new WriteStamps(table);
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap))) {
      admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.TOPIC, topic), List.of(new AlterConfigOp(
          new ConfigEntry(TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "LogAppendTime"), AlterConfigOp.OpType.SET))))
          .all().get(30, TimeUnit.SECONDS);
    }
    try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + stamps.readyAt);
      s.execute("CREATE TABLE " + stamps.readyAt + " (uid VARCHAR(64) PRIMARY KEY, at DECIMAL(17, 6) NOT NULL)");
      for (String event : List.of("INSERT", "UPDATE")) {
        s.execute("CREATE OR REPLACE TRIGGER " + stamps.readyAt + "_" + event.toLowerCase() + " AFTER " + event + " ON " + table
            + " FOR EACH ROW IF NEW.ready AND NOT NEW.terminating AND NEW.deleted_at IS NULL THEN"
            + " INSERT IGNORE INTO " + stamps.readyAt + " VALUES (NEW.uid, UNIX_TIMESTAMP(SYSDATE(6))); END IF");
      }
    }
    gw.onCall = call -> stamps.arrivals.putIfAbsent(call.path(), System.currentTimeMillis());
    return stamps;
  }

  /** ZooKeeper's own time of the node's last change, or empty without the node. */
  static OptionalLong zooKeeper(CuratorFramework zk, String path) throws Exception {
    Stat stat = zk.checkExists().forPath(path);
    return stat == null ? OptionalLong.empty() : OptionalLong.of(stat.getMtime());
  }

  /** When MariaDB first made the pod's row ready and alive since {@link #start}. */
  OptionalLong mysql(String uid) throws Exception {
    try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         PreparedStatement s = c.prepareStatement("SELECT at FROM " + readyAt + " WHERE uid = ?")) {
      s.setString(1, uid);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? OptionalLong.of(rs.getBigDecimal(1).movePointRight(3).longValue()) : OptionalLong.empty();
      }
    }
  }

  /** When the gateway first received a call to {@code path} since {@link #start}. */
  OptionalLong gateway(String path) {
    Long at = arrivals.get(path);
    return at == null ? OptionalLong.empty() : OptionalLong.of(at);
  }
}

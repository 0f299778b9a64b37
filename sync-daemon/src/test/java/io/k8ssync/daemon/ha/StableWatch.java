package io.k8ssync.daemon.ha;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.testbed.MariaDb;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;

/**
 * Watches ZooKeeper, Consul and MySQL the way their readers see them for any moment at which a pod
 * that stayed ready throughout was drained or removed: ZooKeeper change by change (a CuratorCache,
 * as nginx-upsync's watch), Consul through blocking queries on the upstream's prefix (as
 * nginx-upsync polls it: a removal undone before the next answer goes unseen, as it would by
 * nginx), MySQL by querying the stable pods' rows over and over (as people query it). Each
 * violation is recorded once per system and server.
 */
final class StableWatch implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper();

  final List<String> violations = new CopyOnWriteArrayList<>();
  private final Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final CuratorCache zk;
  private final ScheduledExecutorService pollers = Executors.newScheduledThreadPool(2, r -> {
    Thread t = new Thread(r, "stable-watch");
    t.setDaemon(true);
    return t;
  });
  private volatile boolean closed;

  /**
   * @param addresses the stable pods' ip:port, as ZooKeeper and Consul name servers
   * @param uids      the stable pods' uids, as the MySQL table keys rows
   */
  StableWatch(CuratorFramework zkReader, String zkPath, String consulUrl, String consulPrefix, String table,
              Set<String> addresses, Set<String> uids) {
    zk = CuratorCache.build(zkReader, zkPath);
    zk.listenable().addListener(CuratorCacheListener.builder()
        .forChanges((before, after) -> {
          String server = name(after.getPath());
          if (addresses.contains(server) && UpsyncEntry.parse(new String(after.getData(), StandardCharsets.UTF_8)).down()) {
            violation("zk: drained " + server);
          }
        })
        .forDeletes(node -> {
          if (addresses.contains(name(node.getPath()))) {
            violation("zk: removed " + name(node.getPath()));
          }
        }).build());
    zk.start();
    pollers.execute(() -> watchConsul(consulUrl, consulPrefix, addresses));
    pollers.scheduleWithFixedDelay(() -> pollMySql(table, uids), 0, 50, TimeUnit.MILLISECONDS);
  }

  private void violation(String what) {
    if (reported.add(what)) {
      violations.add(what);
    }
  }

  /** Stable servers seen up in Consul; each blocking answer is a whole snapshot of the upstream. */
  private void watchConsul(String url, String prefix, Set<String> addresses) {
    HttpClient http = HttpClient.newHttpClient();
    Set<String> seenUp = new HashSet<>();
    String index = "0";
    while (!closed) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/kv/" + prefix + "?recurse&wait=5s&index=" + index))
            .timeout(Duration.ofSeconds(15)).build(), HttpResponse.BodyHandlers.ofString());
        index = r.headers().firstValue("X-Consul-Index").orElse("0");
        Set<String> up = new HashSet<>();
        Set<String> down = new HashSet<>();
        if (r.statusCode() == 200) {
          for (JsonNode kv : JSON.readTree(r.body())) {
            String key = kv.get("Key").asText();
            String server = key.substring(key.lastIndexOf('/') + 1);
            String value = kv.get("Value").isNull() ? "" : new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
            (UpsyncEntry.parse(value).down() ? down : up).add(server);
          }
        }
        for (String server : seenUp) {
          if (down.contains(server)) {
            violation("consul: drained " + server);
          } else if (!up.contains(server)) {
            violation("consul: removed " + server);
          }
        }
        up.stream().filter(addresses::contains).forEach(seenUp::add);
      } catch (java.io.IOException e) {
        // Consul restarting or busy: the next query looks again.
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  private final Set<String> seenReady = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** A stable pod's row, once seen ready, must stay ready, not terminating, not deleted. */
  private void pollMySql(String table, Set<String> uids) {
    try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         PreparedStatement s = c.prepareStatement("SELECT uid FROM " + table + " WHERE ready AND NOT terminating AND deleted_at IS NULL");
         ResultSet rs = s.executeQuery()) {
      Set<String> ready = new HashSet<>();
      while (rs.next()) {
        ready.add(rs.getString(1));
      }
      for (String uid : seenReady) {
        if (!ready.contains(uid)) {
          violation("mysql: not ready " + uid);
        }
      }
      ready.stream().filter(uids::contains).forEach(seenReady::add);
    } catch (java.sql.SQLException e) {
      // the sink has not created its table yet, or MariaDB is busy: the next poll looks again
    }
  }

  private static String name(String path) {
    return path.substring(path.lastIndexOf('/') + 1);
  }

  @Override
  public void close() {
    closed = true;
    zk.close();
    pollers.shutdownNow();
  }
}

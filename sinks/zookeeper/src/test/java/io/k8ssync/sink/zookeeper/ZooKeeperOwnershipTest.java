package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.upstream.UpstreamOwnershipContract;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' ownership contract on a real ZooKeeper server: owner ids in the marker nodes' paths. */
class ZooKeeperOwnershipTest extends UpstreamOwnershipContract {

  private final TestingServer zk;
  private final CuratorFramework reader;

  ZooKeeperOwnershipTest() throws Exception {
    zk = new TestingServer(true);
    reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    reader.start();
  }

  @AfterEach
  void stopServer() throws Exception {
    reader.close();
    zk.close();
  }

  @Override
  protected SinkFactory factory() {
    return new ZooKeeperSinkFactory();
  }

  @Override
  protected Map<String, Object> connection() {
    return Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s");
  }

  @Override
  protected Map<String, UpsyncEntry> upstream(String name) throws Exception {
    Map<String, UpsyncEntry> out = new TreeMap<>();
    String path = "/nginx/upstreams/" + name;
    if (reader.checkExists().forPath(path) == null) {
      return out;
    }
    for (String child : reader.getChildren().forPath(path)) {
      try {
        out.put(child, UpsyncEntry.parse(new String(reader.getData().forPath(path + "/" + child), StandardCharsets.UTF_8)));
      } catch (KeeperException.NoNodeException e) {
        // deleted between listing and reading
      }
    }
    return out;
  }

  @Override
  protected long createdAt(String upstream, String address) throws Exception {
    return reader.checkExists().forPath("/nginx/upstreams/" + upstream + "/" + address).getCzxid();
  }
}

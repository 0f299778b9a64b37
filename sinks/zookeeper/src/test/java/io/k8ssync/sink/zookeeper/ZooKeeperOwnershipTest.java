package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.upstream.UpstreamOwnershipContract;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
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
    return ZooKeeperUpstreams.read(reader, name);
  }

  @Override
  protected long createdAt(String upstream, String address) throws Exception {
    return reader.checkExists().forPath("/nginx/upstreams/" + upstream + "/" + address).getCzxid();
  }
}

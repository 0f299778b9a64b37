package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamLeadershipContract;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' leadership contract on a real ZooKeeper server. */
class ZooKeeperLeadershipTest extends UpstreamLeadershipContract {

  private final TestingServer zk;
  private final CuratorFramework reader;

  ZooKeeperLeadershipTest() throws Exception {
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
}

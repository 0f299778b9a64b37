package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.testbed.TcpProxy;
import io.k8ssync.sink.upstream.UpstreamProgressContract;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' progress reports on a real ZooKeeper server, read as nginx-upsync reads it; the sinks connect through a proxy that a test can cut. */
class ZooKeeperProgressTest extends UpstreamProgressContract {

  private final TestingServer zk;
  private final TcpProxy proxy;
  private final CuratorFramework reader;

  ZooKeeperProgressTest() throws Exception {
    zk = new TestingServer(true);
    proxy = new TcpProxy("127.0.0.1", zk.getPort());
    reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    reader.start();
  }

  @AfterEach
  void stopServer() throws Exception {
    reader.close();
    proxy.close();
    zk.close();
  }

  @Override
  protected SinkFactory factory() {
    return new ZooKeeperSinkFactory();
  }

  @Override
  protected Map<String, Object> connection() {
    return Map.of("connect", "127.0.0.1:" + proxy.port(), "connectionTimeout", "2s");
  }

  @Override
  protected Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return ZooKeeperUpstreams.read(reader, name);
  }

  @Override
  protected void cut() {
    proxy.cut();
  }

  @Override
  protected void restore() throws Exception {
    proxy.restore();
  }
}

package io.k8ssync.sink.consul;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.TcpProxy;
import io.k8ssync.sink.upstream.UpstreamProgressContract;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' progress reports on a real Consul agent, read as nginx-upsync reads it; the sinks connect through a proxy that a test can cut. */
class ConsulProgressTest extends UpstreamProgressContract {

  private final ConsulAgent consul = ConsulAgent.started();
  private final TcpProxy proxy;

  ConsulProgressTest() throws Exception {
    proxy = new TcpProxy("127.0.0.1", consul.httpPort());
  }

  @AfterEach
  void stopAgent() {
    proxy.close();
    consul.close();
  }

  @Override
  protected SinkFactory factory() {
    return new ConsulSinkFactory();
  }

  @Override
  protected Map<String, Object> connection() {
    return Map.of("url", "http://127.0.0.1:" + proxy.port(), "timeout", "2s");
  }

  @Override
  protected Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
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

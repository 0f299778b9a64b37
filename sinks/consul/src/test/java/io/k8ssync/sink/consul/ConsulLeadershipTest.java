package io.k8ssync.sink.consul;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamLeadershipContract;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' leadership contract on a real Consul agent, read as nginx-upsync reads it. */
class ConsulLeadershipTest extends UpstreamLeadershipContract {

  private final ConsulAgent consul = ConsulAgent.started();

  @AfterEach
  void stopAgent() {
    consul.close();
  }

  @Override
  protected SinkFactory factory() {
    return new ConsulSinkFactory();
  }

  @Override
  protected Map<String, Object> connection() {
    return Map.of("url", consul.url(), "timeout", "2s");
  }

  @Override
  protected Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
  }
}

package io.k8ssync.sink.consul;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ser.DefaultSerializerProvider;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.kiwiproject.consul.Consul;
import org.kiwiproject.consul.util.Jackson;

/**
 * A standby's first transaction after a takeover built the client's codecs for the transaction body
 * and its answer first (TakeoverBench: ~80 of the ~140 classes that write loaded). The warm-up builds
 * them ahead, in the mapper the client sends with, and sends nothing (the answers' decoding is run too,
 * not asserted: Jackson keeps no public count of its deserializers).
 */
class ConsulWarmUpTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private final ConsulProxy proxy;

  ConsulWarmUpTest() throws Exception {
    proxy = new ConsulProxy(consul.url());
  }

  @AfterEach
  void close() {
    proxy.close();
    consul.close();
  }

  @Test
  void theWarmUpBuildsTheTransactionCodecsAndSendsNothing() throws Exception {
    Consul client = Consul.builder().withUrl(proxy.url()).withPing(false).build();
    try {
      TestSinkContext context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), Map.of("url", proxy.url()),
          Selector.ALL);
      ConsulRegistry registry = new ConsulRegistry(client.keyValueClient(), "upstreams", Duration.ofSeconds(2), client::destroy,
          context.metrics());
      ObjectMapper mapper = Jackson.MAPPER;
      int serializers = cachedSerializers(mapper);
      proxy.requests.clear();

      registry.warmUp();

      assertTrue(cachedSerializers(mapper) > serializers, "the transaction body's serializers are built");
      assertEquals(List.of(), List.copyOf(proxy.requests), "nothing reaches Consul");
    } finally {
      client.destroy();
    }
  }

  private static int cachedSerializers(ObjectMapper mapper) {
    return ((DefaultSerializerProvider) mapper.getSerializerProvider()).cachedSerializersCount();
  }
}

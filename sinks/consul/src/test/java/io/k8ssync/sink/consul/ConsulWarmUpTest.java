package io.k8ssync.sink.consul;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * them ahead, in the mapper the client sends with (the answers' decoding is run too, not asserted:
 * Jackson keeps no public count of its deserializers). Then the client's transaction call itself
 * (its Retrofit method, parsed on first use, and OkHttp's path with a body): the first write still
 * took 220–470 ms at 10,000 pods, mostly loading and linking classes. It sends read-only
 * transactions only, which Consul serves as reads, outside Raft: a standby writes nothing.
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
  void theWarmUpBuildsTheCodecsAndRunsTheTransactionCallWithReadsOnly() throws Exception {
    Consul client = Consul.builder().withUrl(proxy.url()).withPing(false).build();
    try {
      TestSinkContext context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), Map.of("url", proxy.url()),
          Selector.ALL);
      ConsulRegistry registry = new ConsulRegistry(client.keyValueClient(), "upstreams", Duration.ofSeconds(2), client::destroy,
          context.metrics());
      ObjectMapper mapper = Jackson.MAPPER;
      int serializers = cachedSerializers(mapper);
      proxy.requests.clear();
      proxy.bodies.clear();

      long index = raftIndex();
      registry.warmUp();

      assertTrue(cachedSerializers(mapper) > serializers, "the transaction body's serializers are built");
      List<String> requests = List.copyOf(proxy.requests);
      assertFalse(requests.isEmpty(), "the transaction call runs");
      for (int i = 0; i < requests.size(); i++) {
        assertEquals("PUT /v1/txn", requests.get(i), "transactions only");
        String body = proxy.bodies.get(i);
        assertTrue(body.contains("\"Verb\""), body);
        assertFalse(body.matches("(?s).*\"Verb\"\\s*:\\s*\"(set|cas|delete|delete-tree|delete-cas|lock|unlock)\".*"),
            "a read-only transaction: " + body);
      }
      assertEquals(index, raftIndex(), "nothing written");
    } finally {
      client.destroy();
    }
  }

  /** The KV store's index, raised by every write; read from the agent itself, not through the proxy. */
  private long raftIndex() throws Exception {
    var response = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create(consul.url() + "/v1/kv/?keys")).build(),
        java.net.http.HttpResponse.BodyHandlers.discarding());
    return Long.parseLong(response.headers().firstValue("X-Consul-Index").orElseThrow());
  }

  private static int cachedSerializers(ObjectMapper mapper) {
    return ((DefaultSerializerProvider) mapper.getSerializerProvider()).cachedSerializersCount();
  }
}

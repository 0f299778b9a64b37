package io.k8ssync.sink.consul;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.upstream.UpstreamOwnershipContract;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;

/** The registry sinks' ownership contract on a real Consul agent: owner ids in the keys' flags. */
class ConsulOwnershipTest extends UpstreamOwnershipContract {

  private final ConsulAgent consul = ConsulAgent.started();
  private final HttpClient http = HttpClient.newHttpClient();

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

  @Override
  protected long createdAt(String upstream, String address) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/" + upstream + "/" + address))
        .build(), HttpResponse.BodyHandlers.ofString());
    return new ObjectMapper().readTree(r.body()).get(0).get("CreateIndex").asLong();
  }
}

package io.k8ssync.sink.consul;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.kiwiproject.consul.Consul;
import org.kiwiproject.consul.model.kv.Value;

/**
 * Issue 19: the registry's recursive read of its prefix is parsed key by key from Consul's answer
 * instead of held whole as the Consul client's values; against a real Consul it finds what the
 * client's {@code getValues} finds, key for key.
 */
class ConsulListingTest {

  private static ConsulAgent consul;
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    consul = ConsulAgent.started();
  }

  @AfterAll
  static void stop() {
    consul.close();
  }

  record Seen(long flags, long index, String value) { }

  private static Map<String, Seen> streamed(String prefix, String token) throws SinkException {
    OkHttpClient.Builder http = new OkHttpClient.Builder();
    if (token != null) {
      http.addInterceptor(ConsulListing.tokenHeader(token));
    }
    Map<String, Seen> out = new TreeMap<>();
    new ConsulListing(http.build(), HttpUrl.get(consul.url()), (amount, labels) -> { })
        .each(prefix, (key, flags, index, value) -> out.put(key, new Seen(flags, index, value)));
    return out;
  }

  private static void put(String key, String query, String body) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/" + key + query))
        .PUT(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
  }

  @Test
  void findsWhatTheClientsListingFindsKeyForKey() throws Exception {
    put("listing/web/10.0.0.1:8080", "?flags=" + ConsulRegistry.ownerFlags("east"),
        "{\"weight\":1,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}");
    put("listing/web/10.0.0.2:8080", "?flags=" + Long.MAX_VALUE, "{\"down\":1}");
    put("listing/web/", "", ""); // a folder key, empty value
    put("listing/api/10.0.1.1:80", "", "ünïcödé \"quoted\" and\nnewline");
    put("listing/api/nested/deeper", "?flags=7", "x".repeat(70_000)); // longer than one read buffer
    put("listingx/web/10.9.9.9:80", "", "not under listing/");

    Map<String, Seen> client = new TreeMap<>();
    Consul c = Consul.builder().withUrl(consul.url()).withPing(false).build();
    try {
      for (Value v : c.keyValueClient().getValues("listing/")) {
        client.put(v.getKey(), new Seen(v.getFlags(), v.getModifyIndex(), v.getValueAsString(StandardCharsets.UTF_8).orElse("")));
      }
    } finally {
      c.destroy();
    }
    assertEquals(5, client.size(), client.keySet().toString());
    assertEquals(client, streamed("listing/", null));
    assertEquals(Map.of(), streamed("nothing-here/", null), "404: no keys");
  }

  @Test
  void flagsAboveLongMaxReadAsANegativeMarkThatIsNobodysOwner() throws Exception {
    put("bigflags/web/10.0.0.1:8080", "?flags=18446744073709551615", "{}");
    Seen s = streamed("bigflags/", null).get("bigflags/web/10.0.0.1:8080");
    assertEquals(-1L, s.flags());
    assertTrue(s.flags() != ConsulRegistry.ownerFlags("east"));
  }

  @Test
  void anAnswerCutShortFailsTheWholeListing() throws Exception {
    List<String> keys = new ArrayList<>();
    String cut = "[{\"Key\":\"a/b\",\"Flags\":0,\"Value\":null,\"ModifyIndex\":3},{\"Key\":\"a/c\",\"Fla";
    var p = new com.fasterxml.jackson.core.JsonFactory().createParser(cut);
    assertThrows(java.io.IOException.class, () -> ConsulListing.parse(p, (key, flags, index, value) -> keys.add(key)));
    assertEquals(List.of("a/b"), keys, "handed over before the cut; the registry applies a listing only once it returned");
  }
}

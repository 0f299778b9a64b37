package io.k8ssync.sink.consul;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Reads an upstream from Consul the way nginx-upsync does, configured as the README says: a blocking
 * query {@code GET /v1/kv/<prefix>/<upstream>/?recurse&index=N} (with the trailing slash: Consul's
 * recurse matches by prefix, so without it upstream {@code web} would also read every server of
 * {@code webx}) that returns when something changed (or the wait ends), keys whose last segment
 * must be {@code IPv4:port}, base64 JSON values. Like upsync, it does not check the upstream name.
 */
final class UpsyncReader {

  private static final Pattern SERVER = Pattern.compile("(\\d{1,3}\\.){3}\\d{1,3}:\\d{1,5}");
  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper json = new ObjectMapper();
  private final String url;
  private long index;

  UpsyncReader(String consulUrl, String prefix, String upstream) {
    this.url = consulUrl + "/v1/kv/" + prefix + "/" + upstream + "/?recurse";
  }

  /** The servers as nginx would see them after the next change (or after {@code wait}). */
  Map<String, UpsyncEntry> next(Duration wait) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "&index=" + index + "&wait=" + wait.toMillis() + "ms"))
        .timeout(wait.plusSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    index = r.headers().firstValueAsLong("X-Consul-Index").orElse(index);
    Map<String, UpsyncEntry> servers = new TreeMap<>();
    if (r.statusCode() == 404) {
      return servers;
    }
    if (r.statusCode() != 200) {
      throw new IllegalStateException("consul answered " + r.statusCode() + ": " + r.body());
    }
    for (JsonNode kv : json.readTree(r.body())) {
      String key = kv.get("Key").asText();
      String last = key.substring(key.lastIndexOf('/') + 1);
      if (!SERVER.matcher(last).matches() || kv.get("Value").isNull()) {
        continue; // upsync skips keys that are not ip:port
      }
      String value = new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
      json.readTree(value); // upsync needs valid JSON
      servers.put(last, UpsyncEntry.parse(value));
    }
    return servers;
  }

  Map<String, UpsyncEntry> now() throws Exception {
    index = 0;
    return next(Duration.ofMillis(1));
  }
}

package io.k8ssync.benchmarks;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.retry.RetryOneTime;

/**
 * The first readers of {@link RegistryLatencyBenchmark} ({@code -Dregistry.reader=old}), in the
 * benchmark's own JVM: a CuratorCache for ZooKeeper, and for Consul upsync's blocking recurse query
 * with every answer parsed into a Jackson tree and every value decoded. Kept to compare with the
 * reader in its own process ({@link NginxStandIn}): their CPU and GC are the measured process's.
 */
final class InProcessReaders {

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private InProcessReaders() {}

  static RegistryLatencyBenchmark.Reader zookeeper(String connect) {
    return seen -> {
      CuratorFramework c = CuratorFrameworkFactory.newClient(connect, new RetryOneTime(100));
      c.start();
      CuratorCache cache = CuratorCache.build(c, "/nginx/upstreams");
      cache.listenable().addListener(CuratorCacheListener.builder().forCreatesAndChanges((old, node) -> {
        String path = node.getPath();
        byte[] data = node.getData();
        if (data != null && new String(data, StandardCharsets.UTF_8).contains("\"down\":0")) {
          seen.seen(path.substring(path.lastIndexOf('/') + 1), System.nanoTime());
        }
      }).build());
      cache.start();
      return () -> {
        cache.close();
        c.close();
      };
    };
  }

  static RegistryLatencyBenchmark.Reader consul(String url) {
    return seen -> {
      AtomicBoolean running = new AtomicBoolean(true);
      Thread t = new Thread(() -> {
        HttpClient http = HttpClient.newHttpClient();
        long index = 0;
        Map<String, String> last = new ConcurrentHashMap<>();
        while (running.get()) {
          try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/kv/upstreams/bench/?recurse&index=" + index + "&wait=2s"))
                .build(), HttpResponse.BodyHandlers.ofString());
            index = r.headers().firstValueAsLong("X-Consul-Index").orElse(index);
            if (r.statusCode() != 200) {
              continue;
            }
            for (com.fasterxml.jackson.databind.JsonNode kv : JSON.readTree(r.body())) {
              String key = kv.get("Key").asText();
              String addr = key.substring(key.lastIndexOf('/') + 1);
              String value = kv.get("Value").isNull() ? "" : new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
              if (!value.equals(last.put(addr, value)) && value.contains("\"down\":0")) {
                seen.seen(addr, System.nanoTime());
              }
            }
          } catch (Exception e) {
            // keep polling; a benchmark reader should not die on one bad response
          }
        }
      }, "consul-reader");
      t.start();
      return () -> {
        running.set(false);
        t.join();
      };
    };
  }
}

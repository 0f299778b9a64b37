package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two clusters (two daemons, each with its own cluster name and namespace) register the same
 * service into one Consul upstream. Each daemon is stopped, its cluster changes meanwhile, and it
 * starts again: its reconcile removes its own stale entry and never one of the other cluster's,
 * as an nginx-upsync reader watching every change of the upstream sees.
 */
@ExtendWith(KubeApiServerExtension.class)
class SharedRegistryTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  static Daemon daemon(String cluster, ConsulAgent consul, KubeApi api) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: " + cluster + ", namespaces: [" + cluster + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms}}",
        "sinks: [{name: nginx, type: consul, config: {url: '" + consul.url() + "', drainDelay: 200ms, reconcileEvery: 500ms,"
            + " massRemovalShare: 1.0}}]", "");
    Daemon d = Daemons.synced(yaml, () -> api.client());
    return d;
  }

  @Test
  void neitherClusterRemovesTheOthersEntriesThroughRestartsOfBoth(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client(); ConsulAgent consul = ConsulAgent.started()) {
      for (String ns : List.of("east", "west")) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
      }
      pod(client, "east", "e-1", "10.248.1.1");
      pod(client, "east", "e-2", "10.248.1.2");
      pod(client, "west", "w-1", "10.248.2.1");
      pod(client, "west", "w-2", "10.248.2.2");

      List<Set<String>> seen = new CopyOnWriteArrayList<>();
      AtomicBoolean watching = new AtomicBoolean(true);
      Thread reader = new Thread(() -> watch(consul, seen, watching), "upsync-reader");
      reader.start();
      Daemon east = daemon("east", consul, api);
      Daemon west = daemon("west", consul, api);
      try {
        Set<String> all = Set.of("10.248.1.1:8080", "10.248.1.2:8080", "10.248.2.1:8080", "10.248.2.2:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> up(consul).equals(all));
        int before = seen.size();

        // east is down while one of its pods goes away; back up, it removes that one only.
        east.close();
        client.pods().inNamespace("east").withName("e-2").withGracePeriod(0).delete();
        east = daemon("east", consul, api);
        Set<String> eastRestarted = Set.of("10.248.1.1:8080", "10.248.2.1:8080", "10.248.2.2:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> keys(consul).equals(eastRestarted));

        // The same for west, whose pod turns unready while it is down.
        west.close();
        TestPods.markReady(client, "west", "w-2", "10.248.2.2", false);
        west = daemon("west", consul, api);
        Set<String> westRestarted = Set.of("10.248.1.1:8080", "10.248.2.1:8080");
        await().atMost(Duration.ofSeconds(30)).until(() -> keys(consul).equals(westRestarted));

        watching.set(false);
        reader.join(10_000);
        List<String> violations = new ArrayList<>();
        for (Set<String> snapshot : seen.subList(before, seen.size())) {
          for (String live : List.of("10.248.1.1:8080", "10.248.2.1:8080")) {
            if (!snapshot.contains(live)) {
              violations.add(live + " missing in " + snapshot);
            }
          }
        }
        assertEquals(List.of(), violations, "a server of a live pod never left the upstream");
      } finally {
        watching.set(false);
        east.close();
        west.close();
      }
    }
  }

  private static void pod(KubernetesClient client, String ns, String name, String ip) {
    client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, name)).create();
    TestPods.markReady(client, ns, name, ip, true);
  }

  /** nginx-upsync's loop: a blocking query with the last index, one snapshot of up servers per answer. */
  private static void watch(ConsulAgent consul, List<Set<String>> seen, AtomicBoolean watching) {
    HttpClient http = HttpClient.newHttpClient();
    String index = "0";
    while (watching.get()) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url()
            + "/v1/kv/upstreams/web/?recurse&wait=1s&index=" + index)).build(), HttpResponse.BodyHandlers.ofString());
        index = r.headers().firstValue("X-Consul-Index").orElse(index);
        if (r.statusCode() == 200) {
          seen.add(servers(r.body(), true));
        }
      } catch (Exception e) {
        if (!watching.get()) {
          return;
        }
      }
    }
  }

  private static Set<String> up(ConsulAgent consul) throws Exception {
    return servers(get(consul), true);
  }

  private static Set<String> keys(ConsulAgent consul) throws Exception {
    return servers(get(consul), false);
  }

  private static String get(ConsulAgent consul) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(consul.url()
        + "/v1/kv/upstreams/web/?recurse")).build(), HttpResponse.BodyHandlers.ofString());
    return r.statusCode() == 200 ? r.body() : "[]";
  }

  private static Set<String> servers(String body, boolean upOnly) throws Exception {
    Set<String> out = new TreeSet<>();
    for (JsonNode kv : JSON.readTree(body)) {
      String value = new String(java.util.Base64.getDecoder().decode(kv.get("Value").asText()));
      if (!upOnly || value.contains("\"down\":0")) {
        String key = kv.get("Key").asText();
        out.add(key.substring(key.lastIndexOf('/') + 1));
      }
    }
    return out;
  }
}

package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.TestKubelet;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A rolling update (maxSurge 1, maxUnavailable 0) of 5 gated pods with a preStop offline wait,
 * against the real API server, a real Consul and a real HTTP gateway. The test plays the Deployment
 * controller (a new pod, wait until it is Ready, then delete an old one) and the kubelet (Ready =
 * containers ready and every gate True; preStop, then kill). It checks, at each step, what each
 * system holds: no old pod goes before its replacement is online in both, and no pod is killed
 * before both have it offline. A gateway answering 503 holds the new pod's gate, and the rollout waits.
 */
@ExtendWith(KubeApiServerExtension.class)
class RollingUpdateTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newHttpClient();

  /** A gateway: online/offline calls by address, answered with {@code status}. */
  static final class Gateway implements AutoCloseable {
    final HttpServer server;
    final Set<String> online = ConcurrentHashMap.newKeySet();
    final Set<String> wentOffline = ConcurrentHashMap.newKeySet();
    volatile int status = 200;

    Gateway() throws java.io.IOException {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50);
      server.createContext("/", ex -> {
        ex.getRequestBody().readAllBytes();
        String[] parts = ex.getRequestURI().getPath().split("/");
        int s = status;
        if (s / 100 == 2 && parts.length == 3) {
          if (parts[1].equals("online")) {
            online.add(parts[2]);
            wentOffline.remove(parts[2]);
          } else {
            online.remove(parts[2]);
            wentOffline.add(parts[2]);
          }
        }
        ex.sendResponseHeaders(s, -1);
        ex.close();
      });
      server.start();
    }

    int port() {
      return server.getAddress().getPort();
    }

    @Override public void close() {
      server.stop(0);
    }
  }

  /** Addresses Consul has up under the upstream web, as nginx-upsync reads it. */
  Set<String> consulUp(ConsulAgent consul) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/?recurse")).build(),
        HttpResponse.BodyHandlers.ofString());
    Set<String> out = new java.util.TreeSet<>();
    if (r.statusCode() == 404) {
      return out;
    }
    for (JsonNode kv : JSON.readTree(r.body())) {
      String value = new String(Base64.getDecoder().decode(kv.get("Value").asText()), StandardCharsets.UTF_8);
      if (!UpsyncEntry.parse(value).down()) {
        String key = kv.get("Key").asText();
        out.add(key.substring(key.lastIndexOf('/') + 1));
      }
    }
    return out;
  }

  @Test
  void noOldPodGoesBeforeItsReplacementIsOnlineInBothAndAFailingGatewayHoldsTheRollout(KubeApi api) throws Exception {
    Map<String, String> ips = new ConcurrentHashMap<>();
    AtomicInteger next = new AtomicInteger(10);
    List<String> violations = new CopyOnWriteArrayList<>();
    try (KubernetesClient client = api.client(); ConsulAgent consul = ConsulAgent.started(); Gateway gw = new Gateway()) {
      String ns = ReadinessGateTest.namespace(client, "roll");
      Daemon d = ReadinessGateTest.daemon(api, ns, String.join(",",
          "{name: consul, type: consul, propagationDelay: 300ms, config: {url: '" + consul.url() + "', timeout: 1s,"
              + " drainDelay: 300ms, reconcileEvery: 2s}}",
          "{name: gw, type: http, config: {timeout: 1s, online: {url: 'http://127.0.0.1:" + gw.port() + "/online/{ip}:{port}'},"
              + " offline: {url: 'http://127.0.0.1:" + gw.port() + "/offline/{ip}:{port}'}}}"),
          "readinessGate: {enabled: true}");
      TestKubelet.PreStop preStop = p -> {
        String name = p.getMetadata().getName();
        String address = ips.get(name) + ":8080";
        OfflineWaitTest.Answer a = OfflineWaitTest.get(d.httpPort(), "namespace=" + ns + "&pod=" + name + "&timeout=30s");
        if (a.status() != 200) {
          violations.add("preStop of " + name + " answered " + a.status() + " " + a.body());
        }
        if (consulUp(consul).contains(address) || gw.online.contains(address) || !gw.wentOffline.contains(address)) {
          violations.add(name + " killed while still online: consul=" + consulUp(consul).contains(address)
              + " gateway online=" + gw.online.contains(address));
        }
      };
      try (TestKubelet kubelet = new TestKubelet(client, ns, n -> ips.computeIfAbsent(n, x -> "10.78.0." + next.getAndIncrement()),
          preStop)) {
        List<String> old = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
          old.add("v1-" + i);
          client.pods().inNamespace(ns).resource(ReadinessGateTest.gated(ns, "v1-" + i)).create();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> old.stream().allMatch(n -> ReadinessGateTest.ready(client, ns, n)));

        for (int i = 0; i < 5; i++) {
          String fresh = "v2-" + i;
          if (i == 2) {
            gw.status = 503;
          }
          client.pods().inNamespace(ns).resource(ReadinessGateTest.gated(ns, fresh)).create();
          if (i == 2) {
            // Consul has it online (it leaves the message); the gateway fails, and the message says so.
            await().atMost(Duration.ofSeconds(30)).until(() -> {
              PodCondition c = ReadinessGateTest.gate(client, ns, fresh);
              return c != null && "SinkFailing".equals(c.getReason()) && !c.getMessage().contains("consul");
            });
            String message = ReadinessGateTest.gate(client, ns, fresh).getMessage();
            assertTrue(message.contains("gw (failing: ") && message.contains("503"), message);
            // The rollout waits: the new pod is not Ready, so no old pod goes.
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6))
                .until(() -> !ReadinessGateTest.ready(client, ns, fresh));
            gw.status = 200;
          }
          await().atMost(Duration.ofSeconds(60)).until(() -> ReadinessGateTest.ready(client, ns, fresh));
          String address = ips.get(fresh) + ":8080";
          if (!consulUp(consul).contains(address) || !gw.online.contains(address)) {
            violations.add(fresh + " Ready before online in both: consul=" + consulUp(consul).contains(address)
                + " gateway=" + gw.online.contains(address));
          }
          client.pods().inNamespace(ns).withName(old.get(i)).withGracePeriod(30).delete();
        }
        await().atMost(Duration.ofSeconds(90)).until(() -> client.pods().inNamespace(ns).list().getItems().stream()
            .map(p -> p.getMetadata().getName()).noneMatch(n -> n.startsWith("v1-")));
        assertEquals(List.of(), violations);
        assertEquals(List.of(), kubelet.hookErrors);
        Set<String> expected = new java.util.TreeSet<>();
        for (int i = 0; i < 5; i++) {
          expected.add(ips.get("v2-" + i) + ":8080");
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> consulUp(consul).equals(expected) && gw.online.equals(expected));
        assertTrue(Daemons.counter(d, "k8s_sync_readiness_gate_patches", Map.of("status", "False", "result", "ok")) >= 1);
        assertEquals(5.0, Daemons.counter(d, "k8s_sync_offline_waits", Map.of("outcome", "offline")));
      } finally {
        d.close();
      }
    }
  }
}

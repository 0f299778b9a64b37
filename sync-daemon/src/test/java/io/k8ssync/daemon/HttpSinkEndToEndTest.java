package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.markReady;
import static io.k8ssync.daemon.testing.TestPods.pending;
import static io.k8ssync.daemon.testing.TestPods.withReadyStatus;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.sink.http.RecordingTarget;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The http sink inside the daemon: per-target queues, per-pod order under flapping and retries. */
@EnableKubernetesMockClient(crud = true)
class HttpSinkEndToEndTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private final String ns = "h" + UUID.randomUUID().toString().substring(0, 8);
  private final RecordingTarget gateway;
  private final RecordingTarget rpc;
  private Daemon daemon;

  HttpSinkEndToEndTest() throws Exception {
    gateway = new RecordingTarget();
    rpc = new RecordingTarget();
  }

  @AfterEach
  void stop() {
    gateway.gate = null;
    if (daemon != null) {
      daemon.close();
    }
    gateway.close();
    rpc.close();
  }

  private void start() throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: mock, namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 1ms, maxDelay: 10ms, jitter: 0}}",
        "sinks:",
        sink("gateway", gateway),
        sink("rpc", rpc),
        "");
    daemon = Daemons.synced(yaml, () -> server.createClient());
  }

  private static String sink(String name, RecordingTarget t) {
    return "  - {name: " + name + ", type: http, config: {timeout: 5s,"
        + " online: {url: '" + t.url() + "/online/{service}?ip={ip}&pod={pod}'},"
        + " offline: {url: '" + t.url() + "/offline/{service}?ip={ip}&pod={pod}'}}}";
  }

  private static List<String> kindsFor(RecordingTarget t, String pod) {
    return t.calls.stream().filter(c -> c.rawQuery().endsWith("pod=" + pod))
        .map(c -> c.path().startsWith("/online") ? "online" : "offline").toList();
  }

  @Test
  void aSlowGatewayDoesNotDelayTheRpcRegistry() throws Exception {
    start();
    gateway.gate = new Semaphore(0);
    for (int i = 0; i < 5; i++) {
      client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "p" + i, "web"), "10.0.1." + (i + 1), true)).create();
    }
    await().until(() -> rpc.calls.size() == 5);
    assertTrue(gateway.calls.isEmpty(), "the gateway has answered nothing yet");
    gateway.gate.release(100);
    await().until(() -> gateway.calls.size() == 5);
  }

  @Test
  void rapidFlappingKeepsOnlineAndOfflineAlternatingAndEndsRight() throws Exception {
    start();
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "flap", "web"), "10.0.2.1", true)).create();
    for (int i = 0; i < 15; i++) {
      markReady(client, ns, "flap", "10.0.2.1", i % 2 == 1);
    }
    // 15 flips from ready end unready; one more makes it ready.
    markReady(client, ns, "flap", "10.0.2.1", true);
    await().until(() -> daemon.dispatcher().runner("gateway").queue().unfinished() == 0
        && !kindsFor(gateway, "flap").isEmpty() && kindsFor(gateway, "flap").get(kindsFor(gateway, "flap").size() - 1).equals("online")
        && daemon.cache().get("mock/" + ns + "/flap").ready());
    for (RecordingTarget t : List.of(gateway, rpc)) {
      List<String> kinds = kindsFor(t, "flap");
      for (int i = 0; i < kinds.size(); i++) {
        assertEquals(i % 2 == 0 ? "online" : "offline", kinds.get(i), "alternating: " + kinds);
      }
    }
  }

  @Test
  void anOnlineThatFailsThenSucceedsLandsBeforeTheOfflineQueuedBehindIt() throws Exception {
    start();
    CountDownLatch hold = new CountDownLatch(1);
    gateway.reply("/online", new RecordingTarget.Reply(503, "busy"), new RecordingTarget.Reply(200, "", hold));
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "r", "web"), "10.0.3.1", true)).create();
    await().until(() -> kindsFor(gateway, "r").size() == 2);
    markReady(client, ns, "r", "10.0.3.1", false);
    await().until(() -> daemon.dispatcher().runner("gateway").queue().depth() == 1);
    assertEquals(List.of("online", "online"), kindsFor(gateway, "r"), "the offline waits for the online in flight");
    hold.countDown();
    await().until(() -> kindsFor(gateway, "r").equals(List.of("online", "online", "offline")));
    assertEquals(List.of("online", "offline"), kindsFor(rpc, "r"));
  }
}

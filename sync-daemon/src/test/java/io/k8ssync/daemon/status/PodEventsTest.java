package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.StatusFixtures.events;
import static io.k8ssync.daemon.status.StatusFixtures.namespace;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.http.RecordingTarget;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Kubernetes Events on pods, read back from a real kube-apiserver as {@code kubectl describe pod}
 * would: a gateway (the http sink against a real HTTP server) putting a pod online, taking it
 * offline, and answering 503, each leaves its Event; a thousand failures leave a bounded number.
 */
@ExtendWith(KubeApiServerExtension.class)
class PodEventsTest {

  private static final String SECRET = "s3cr3t-token-value";

  private final RecordingTarget gateway;
  private Daemon daemon;

  PodEventsTest() throws Exception {
    gateway = new RecordingTarget();
  }

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
    gateway.close();
  }

  private Daemon gatewayDaemon(KubeApi api, String ns, String extra) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: real, namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 5ms, maxDelay: 20ms, jitter: 0}}",
        extra,
        "sinks:",
        "  - {name: gateway, type: http, config: {timeout: 5s,",
        "     online: {url: '" + gateway.url() + "/online/{service}?ip={ip}&token=" + SECRET + "'},",
        "     offline: {url: '" + gateway.url() + "/offline/{service}?ip={ip}&token=" + SECRET + "'}}}",
        "");
    daemon = Daemons.synced(yaml, api::client);
    return daemon;
  }

  /** Creates the pod, then plays its kubelet: Running, with an IP, Ready (the API server drops a status sent with create). */
  static Pod readyPod(KubernetesClient client, String ns, String name, String ip) {
    client.pods().inNamespace(ns).resource(TestPods.pending(ns, name, "web")).create();
    return client.pods().inNamespace(ns).withName(name).editStatus(p -> TestPods.withReadyStatus(p, ip, true));
  }

  @Test
  void aGatewayPuttingThePodOnlineLeavesANormalOnlineEvent(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-on");
      gatewayDaemon(api, ns, "");
      Pod pod = readyPod(client, ns, "web-1", "10.9.0.1");

      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Online").isEmpty());
      Event e = events(client, ns, "web-1", "Online").get(0);
      assertEquals("Normal", e.getType());
      assertEquals("Online in sink gateway (http) at 10.9.0.1:8080", e.getMessage());
      assertEquals(pod.getMetadata().getUid(), e.getInvolvedObject().getUid(), "on this incarnation of the pod");
      assertEquals("k8s-sync", e.getSource().getComponent());
      assertEquals(1, e.getCount());
      assertTrue(events(client, ns, "web-1").stream().noneMatch(x -> "Warning".equals(x.getType())), "nothing went wrong");
    }
  }

  /**
   * A restart (or a takeover) is not news for a pod: one Ready since before the daemon started gets
   * no "Online" Event when the gateway is told again at start (135,000 at once filled the Events
   * queue and crowded out real ones), while its next transitions, offline and online again, do.
   */
  @Test
  void aPodAlreadyOnlineWhenTheDaemonStartsGetsNoOnlineEventButItsNextTransitionsDo(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-start");
      client.pods().inNamespace(ns).resource(TestPods.pending(ns, "web-1", "web")).create();
      String readyAt = java.time.Instant.now().minus(Duration.ofMinutes(10)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
      client.pods().inNamespace(ns).withName("web-1").editStatus(p -> new PodBuilder(p).withNewStatus().withPhase("Running")
          .withPodIP("10.9.5.1").withHostIP("192.168.0.1")
          .addNewCondition().withType("Ready").withStatus("True").withLastTransitionTime(readyAt).endCondition()
          .endStatus().build());
      gatewayDaemon(api, ns, "");
      await().atMost(Duration.ofSeconds(30)).until(() -> gateway.kinds().contains("online"));

      // The writer is one thread taking Events in order: once the Offline is there, an Online of the start would be too.
      TestPods.markReady(client, ns, "web-1", "10.9.5.1", false);
      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Offline").isEmpty());
      assertTrue(events(client, ns, "web-1", "Online").isEmpty(), "no Online for a pod online before the daemon started: "
          + events(client, ns, "web-1"));
      assertEquals(1.0, Daemons.counter(daemon, "k8s_sync_pod_events_dropped", Map.of("reason", "ready_before_leading")),
          "the Event not written is counted");

      TestPods.markReady(client, ns, "web-1", "10.9.5.1", true);
      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Online").isEmpty());
      assertEquals("Online in sink gateway (http) at 10.9.5.1:8080", events(client, ns, "web-1", "Online").get(0).getMessage());
    }
  }

  @Test
  void aGatewayTakingThePodOfflineLeavesANormalOfflineEvent(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-off");
      gatewayDaemon(api, ns, "");
      readyPod(client, ns, "web-1", "10.9.1.1");
      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Online").isEmpty());

      TestPods.markReady(client, ns, "web-1", "10.9.1.1", false);
      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Offline").isEmpty());
      Event e = events(client, ns, "web-1", "Offline").get(0);
      assertEquals("Normal", e.getType());
      assertEquals("Offline in sink gateway (http): it sends the pod no traffic", e.getMessage());
      assertTrue(gateway.kinds().contains("offline"), "the gateway was really called: " + gateway.kinds());
    }
  }

  @Test
  void aFailingGatewayLeavesAWarningNamingTheSinkAndTheErrorButNoSecret(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-fail");
      for (int i = 0; i < 6; i++) {
        gateway.reply("/online", new RecordingTarget.Reply(503, "busy"));
      }
      gatewayDaemon(api, ns, "status: {events: {failingAfter: 3}}");
      readyPod(client, ns, "web-1", "10.9.2.1");

      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "SyncFailing").isEmpty());
      Event warning = events(client, ns, "web-1", "SyncFailing").get(0);
      assertEquals("Warning", warning.getType());
      assertTrue(warning.getMessage().startsWith("Sink gateway (http) keeps failing for this pod, retrying: "), warning.getMessage());
      assertTrue(warning.getMessage().contains("503"), "the error: " + warning.getMessage());
      assertFalse(warning.getMessage().contains(SECRET), "no URL query (a token) in an Event: " + warning.getMessage());
      // Six 503s, then the gateway answers 200: the same pod goes online, and says so.
      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-1", "Online").isEmpty());
      await().atMost(Duration.ofSeconds(10)).until(() -> events(client, ns, "web-1", "SyncFailing").get(0).getCount() == 4);
      assertEquals(1, events(client, ns, "web-1", "SyncFailing").size(), "repeats raise the count of one Event");
      assertTrue(events(client, ns, "web-1").stream().allMatch(x -> !x.getMessage().contains(SECRET)));
    }
  }

  @Test
  void aThousandFailuresOfOnePodLeaveABoundedNumberOfEvents(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-storm");
      String sink = "storm-" + ns;
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 1ms, maxDelay: 1ms, jitter: 0, ratePerSecond: 100000, burst: 100000}}",
          "sinks: [{name: " + sink + ", type: recording}]", "");
      daemon = Daemons.synced(yaml, api::client);
      RecordingSinkFactory.Recording rec = RecordingSinkFactory.get(sink);
      rec.failNext.set(1000);
      readyPod(client, ns, "web-1", "10.9.3.1");

      await().atMost(Duration.ofSeconds(60)).until(() -> !events(client, ns, "web-1", "Online").isEmpty());
      assertTrue(rec.attempts.get() > 1000, "1000 failures, then success: " + rec.attempts.get());
      PodEvents recorder = daemon.status().events();
      await().atMost(Duration.ofSeconds(10)).until(() -> recorder.waiting() == 0);

      List<Event> all = events(client, ns, "web-1");
      List<Event> failing = events(client, ns, "web-1", "SyncFailing");
      assertEquals(1, failing.size(), "one Event for one repeated failure: " + all);
      assertEquals(2, all.size(), "SyncFailing and Online, nothing else: " + all);
      int writes = (int) Daemons.counter(daemon, "k8s_sync_pod_events_recorded", Map.of("reason", "SyncFailing"));
      assertEquals(StatusSettings.Events.DEFAULTS.perPodBurst(), writes, "the pod's burst of writes, then one per 5 minutes");
      assertEquals(writes, failing.get(0).getCount(), "each write carried the count so far");
      assertTrue(Daemons.counter(daemon, "k8s_sync_pod_events_dropped", Map.of("reason", "rate_limited_pod")) > 900,
          "the rest was counted, not written");
    }
  }

  @Test
  void aRejectedPodGetsAWarningNamingTheFieldButNotTheValue(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "ev-rej");
      gatewayDaemon(api, ns, "");
      Pod bad = new PodBuilder(TestPods.pending(ns, "web-bad", "web"))
          .editMetadata().addToAnnotations("k8s-sync.io/weight", "987654321").endMetadata().build();
      client.pods().inNamespace(ns).resource(bad).create();

      await().atMost(Duration.ofSeconds(30)).until(() -> !events(client, ns, "web-bad", "PodRejected").isEmpty());
      Event e = events(client, ns, "web-bad", "PodRejected").get(0);
      assertEquals("Warning", e.getType());
      assertTrue(e.getMessage().startsWith("k8s-sync registers this pod in no sink: k8s-sync.io/weight "), e.getMessage());
      assertFalse(e.getMessage().contains("987654321"), "never the rejected value: " + e.getMessage());
    }
  }
}

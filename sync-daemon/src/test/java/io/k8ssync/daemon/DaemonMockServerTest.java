package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.markReady;
import static io.k8ssync.daemon.testing.TestPods.pending;
import static io.k8ssync.daemon.testing.TestPods.withFinalizer;
import static io.k8ssync.daemon.testing.TestPods.withReadyStatus;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Transition;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon end to end on fabric8's mock API server in CRUD mode: informer list and watch, the
 * cache, one queue per sink, retries, the HTTP endpoints. The real API server version of these
 * checks lives in the test bed tests.
 */
@EnableKubernetesMockClient(crud = true)
class DaemonMockServerTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private final String ns = "t" + UUID.randomUUID().toString().substring(0, 8);
  private final String a = "a-" + ns;
  private final String b = "b-" + ns;
  private Daemon daemon;

  private Daemon start(String extraSinkConfig) throws Exception {
    return start(extraSinkConfig, false);
  }

  private Daemon start(String extraSinkConfig, boolean dryRun) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters: [{name: mock, namespaces: [" + ns + "]}]",
        "dispatch: {failingThreshold: 3, retry: {baseDelay: 1ms, maxDelay: 20ms, jitter: 0}}",
        "sinks:",
        "  - {name: " + a + ", type: recording" + extraSinkConfig + "}",
        "  - {name: " + b + ", type: recording}",
        "");
    daemon = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
        spec -> server.createClient(), dryRun);
    daemon.start();
    return daemon;
  }

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static List<Transition> transitionsOf(Recording r, String name) {
    return r.applied.stream().filter(c -> c.key().endsWith("/" + name)).map(PodChange::transition).toList();
  }

  @Test
  void listThenWatchDeliverEachTransitionInOrder() throws Exception {
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "listed", "web"), "10.0.0.1", true)).create();
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording sink = RecordingSinkFactory.get(a);
    await().until(() -> transitionsOf(sink, "listed").equals(List.of(Transition.ADDED)));
    assertTrue(Registration.desiredOnline(sink.applied.get(0).after()), "a pod ready at list time goes online");

    client.pods().inNamespace(ns).resource(withFinalizer(pending(ns, "p", "web"))).create();
    await().until(() -> transitionsOf(sink, "p").equals(List.of(Transition.ADDED)));
    markReady(client, ns, "p", "10.0.0.2", true);
    await().until(() -> transitionsOf(sink, "p").size() == 2);
    client.pods().inNamespace(ns).withName("p").delete();
    await().until(() -> transitionsOf(sink, "p").size() == 3);
    client.pods().inNamespace(ns).withName("p")
        .edit(p -> new PodBuilder(p).editMetadata().withFinalizers(List.of()).endMetadata().build());
    await().until(() -> transitionsOf(sink, "p").size() == 4);

    assertEquals(List.of(Transition.ADDED, Transition.BECAME_READY, Transition.TERMINATING, Transition.DELETED),
        transitionsOf(sink, "p"));
    assertEquals(transitionsOf(sink, "p"), transitionsOf(RecordingSinkFactory.get(b), "p"), "every sink sees the same");
    PodChange terminating = sink.applied.stream().filter(c -> c.transition() == Transition.TERMINATING).findFirst().orElseThrow();
    assertFalse(Registration.desiredOnline(terminating.after()), "terminating is offline");
  }

  @Test
  void aFailingSinkIsRetriedAndDoesNotDelayAnother() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording failing = RecordingSinkFactory.get(a);
    Recording healthy = RecordingSinkFactory.get(b);
    failing.failNext.set(4);
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "r", "web"), "10.0.0.3", true)).create();
    await().until(() -> transitionsOf(healthy, "r").size() == 1);
    await().until(() -> transitionsOf(failing, "r").size() == 1);
    assertEquals(5, failing.attempts.get(), "four failures, then success");
    assertEquals(4.0, counter("k8s_sync_sink_retries_total", a));
    assertEquals(0.0, counter("k8s_sync_sink_retries_total", b));
  }

  @Test
  void aSinkThatThrowsAnErrorIsRetriedAndItsWorkerSurvives() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording sink = RecordingSinkFactory.get(a);
    sink.errorNext.set(2);
    client.pods().inNamespace(ns).resource(pending(ns, "e1", "web")).create();
    await().until(() -> transitionsOf(sink, "e1").size() == 1);
    assertEquals(3, sink.attempts.get());
    client.pods().inNamespace(ns).resource(pending(ns, "e2", "web")).create();
    await().until(() -> transitionsOf(sink, "e2").size() == 1);
  }

  @Test
  void aBlockedSinkDoesNotStallTheOtherSinkOrTheInformer() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording blocked = RecordingSinkFactory.get(a);
    Recording healthy = RecordingSinkFactory.get(b);
    blocked.gate = new Semaphore(0);
    for (int i = 0; i < 20; i++) {
      client.pods().inNamespace(ns).resource(pending(ns, "s" + i, "web")).create();
    }
    await().until(() -> healthy.applied.size() == 20);
    assertEquals(20, daemon.cache().size());
    assertTrue(blocked.applied.isEmpty());
    blocked.gate.release(1000);
    blocked.gate = null;
    await().until(() -> blocked.applied.size() == 20);
  }

  @Test
  void aFatalFailureIsCountedAndDroppedNotRetried() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording sink = RecordingSinkFactory.get(a);
    sink.fatal = true;
    client.pods().inNamespace(ns).resource(pending(ns, "f", "web")).create();
    await().until(() -> counter("k8s_sync_queue_dropped_total", a, "reason", "fatal") == 1.0);
    assertEquals(1, sink.attempts.get());
    assertEquals(0, daemon.dispatcher().runner(a).queue().unfinished());
  }

  @Test
  void hostilePodIsCountedAndNeverOnline() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "evil", "../../etc/passwd"), "10.0.0.6", true)).create();
    Recording sink = RecordingSinkFactory.get(a);
    await().until(() -> transitionsOf(sink, "evil").size() == 1);
    PodChange c = sink.applied.stream().filter(x -> x.key().endsWith("/evil")).findFirst().orElseThrow();
    assertEquals(null, c.after().service());
    assertFalse(Registration.desiredOnline(c.after()));
    String metrics = get("/metrics").body();
    assertTrue(metrics.contains("k8s_sync_pods_rejected_total{cluster=\"mock\",reason=\"service\"} 1.0"), metrics);
  }

  @Test
  void readyzReflectsSyncAndFailingSinksAndMetricsAreExported() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    await().until(() -> get("/readyz").statusCode() == 200);
    assertEquals(200, get("/healthz").statusCode());

    Recording sink = RecordingSinkFactory.get(a);
    sink.failNext.set(1_000_000);
    client.pods().inNamespace(ns).resource(pending(ns, "x", "web")).create();
    await().until(() -> get("/readyz").statusCode() == 503);
    assertTrue(get("/readyz").body().contains("\"failingSinks\":[\"" + a + "\"]"));

    String metrics = get("/metrics").body();
    for (String name : List.of("k8s_sync_informer_events_total", "k8s_sync_pod_changes_total", "k8s_sync_cache_pods",
        "k8s_sync_queue_depth", "k8s_sync_sink_apply_seconds", "k8s_sync_sink_failures_total",
        "k8s_sync_sink_retries_total", "k8s_sync_sink_oldest_pending_seconds", "k8s_sync_sink_last_success_timestamp_seconds",
        "k8s_sync_informer_synced", "k8s_sync_sink_healthy", "k8s_sync_build_info")) {
      assertTrue(metrics.contains(name), name + " missing from /metrics");
    }
    sink.failNext.set(0);
    await().until(() -> get("/readyz").statusCode() == 200);
  }

  @Test
  void closeDrainsQueuesAndClosesSinks() throws Exception {
    start("");
    daemon.synced().get(30, TimeUnit.SECONDS);
    Recording sink = RecordingSinkFactory.get(a);
    sink.gate = new Semaphore(0);
    for (int i = 0; i < 5; i++) {
      client.pods().inNamespace(ns).resource(pending(ns, "d" + i, "web")).create();
    }
    await().until(() -> daemon.dispatcher().runner(a).queue().unfinished() == 5);
    Thread releaser = new Thread(() -> sink.gate.release(100));
    releaser.start();
    daemon.close();
    assertEquals(5, sink.applied.size(), "everything queued before shutdown was applied");
    assertTrue(sink.closed);
  }

  @Test
  void dryRunPlansEveryChangeAndAppliesNone() throws Exception {
    start("", true);
    daemon.synced().get(30, TimeUnit.SECONDS);
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "dry", "web"), "10.0.0.7", true)).create();
    await().until(() -> daemon.dispatcher().runner(a).applied() == 1 && daemon.dispatcher().runner(b).applied() == 1);
    assertEquals(0, RecordingSinkFactory.get(a).attempts.get(), "apply is never called in dry-run");
    assertEquals(0, RecordingSinkFactory.get(b).attempts.get());
  }

  private HttpResponse<String> get(String path) throws Exception {
    return HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + daemon.httpPort() + path)).timeout(Duration.ofSeconds(5)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private double counter(String name, String sink) {
    return counter(name, sink, null, null);
  }

  private double counter(String name, String sink, String label, String value) {
    return daemon.metrics().registry().scrape().stream()
        .filter(m -> name.startsWith(m.getMetadata().getPrometheusName()))
        .flatMap(m -> m.getDataPoints().stream())
        .filter(d -> sink.equals(d.getLabels().get("sink")) && (label == null || value.equals(d.getLabels().get(label))))
        .mapToDouble(d -> ((io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot) d).getValue())
        .sum();
  }
}

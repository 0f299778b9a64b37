package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RoutingSinkFactory;
import io.k8ssync.daemon.testing.RoutingSinkFactory.Routing;
import io.k8ssync.daemon.testing.TestKubelet;
import io.k8ssync.daemon.testing.TestPods;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The preStop offline wait against a real API server: it returns once every sink has the pod
 * offline and the sinks' consumers had their propagation delay, at once for a pod no sink manages,
 * with clear answers for unknown pods and bad requests, and from whichever replica it reaches.
 */
@ExtendWith(KubeApiServerExtension.class)
class OfflineWaitTest {

  static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  /** One answer of the offline wait, with when it came. */
  record Answer(int status, String body, Instant at) {}

  static Answer get(int port, String query) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/offline-wait?" + query))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body(), Instant.now());
  }

  /**
   * What the README's preStop does: ask, and on 503 or no answer ask again (any replica) until the
   * deadline; 200 and 504 are final.
   */
  static Answer preStop(List<Integer> ports, String query, Duration deadline) throws Exception {
    long end = System.nanoTime() + deadline.toNanos();
    Answer last = null;
    int i = 0;
    while (System.nanoTime() < end) {
      try {
        last = get(ports.get(i++ % ports.size()), query);
        if (last.status() == 200 || last.status() == 504) {
          return last;
        }
      } catch (java.io.IOException e) {
        last = new Answer(-1, e.toString(), Instant.now());
      }
      await().pollDelay(Duration.ofMillis(200)).until(() -> true);
    }
    return last;
  }

  static Daemon daemon(KubeApi api, String ns, String extra, String sinks) throws Exception {
    return Daemons.synced(String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: real, namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms, jitter: 0}}",
        extra,
        "sinks: [" + sinks + "]", ""), api::client);
  }

  @Test
  void theWaitReturnsOnlyOnceTheSinkHasThePodOfflineAndItsConsumersHadThePropagationDelay(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "wait");
      Daemon d = daemon(api, ns, "", "{name: reg-" + ns + ", type: routing, propagationDelay: 800ms, config: {drain: 1s}}");
      Map<String, Answer> answers = new ConcurrentHashMap<>();
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip,
          p -> answers.put(p.getMetadata().getName(), get(d.httpPort(), "namespace=" + ns + "&pod=" + p.getMetadata().getName()
              + "&timeout=20s")))) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-1")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> reg.online.contains("web-1"));

        client.pods().inNamespace(ns).withName("web-1").withGracePeriod(30).delete();
        await().atMost(Duration.ofSeconds(30)).until(() -> kubelet.killed.contains("web-1"));
        Answer a = answers.get("web-1");
        assertEquals(200, a.status(), a.body());
        // The drain's end: the first offline after draining (the deletion, after the hook, reports offline again).
        Instant draining = reg.last("draining", "web-1");
        Instant offline = reg.reports.stream().filter(r -> r.what().equals("offline") && r.pod().equals("web-1")
            && draining != null && r.at().isAfter(draining)).map(RoutingSinkFactory.Report::at).findFirst().orElse(null);
        assertTrue(draining != null && offline != null && !offline.isBefore(draining.plusMillis(1000)), reg.reports.toString());
        assertFalse(a.at().isBefore(offline.plusMillis(800)), "the answer waits out the propagation delay after offline: "
            + a.at() + " vs offline at " + offline + " " + a.body() + " " + reg.reports);
        assertTrue(a.body().contains("\"offline\":true"), a.body());
        assertTrue(kubelet.hookErrors.isEmpty(), kubelet.hookErrors.toString());
      } finally {
        d.close();
      }
    }
  }

  @Test
  void unmanagedPodsReturnAtOnceAndUnknownPodsAndBadRequestsGetClearAnswers(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "wait2");
      Daemon d = daemon(api, ns, "rollout: {offlineWait: {maxTimeout: 1m, maxWaiters: 1}}",
          "{name: reg-" + ns + ", type: routing, selector: {services: [api]}}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-1")).create(); // service web: not selected
        await().atMost(Duration.ofSeconds(30)).until(() -> d.cache().size() == 1);
        int port = d.httpPort();

        Answer unmanaged = get(port, "namespace=" + ns + "&pod=web-1&timeout=30s");
        assertEquals(200, unmanaged.status(), unmanaged.body());
        assertTrue(unmanaged.body().contains("no sink the rollout waits for manages this pod"), unmanaged.body());

        Answer unknown = get(port, "namespace=" + ns + "&pod=nope");
        assertEquals(404, unknown.status());
        assertTrue(unknown.body().contains("is not in cluster real"), unknown.body());

        assertEquals(400, get(port, "namespace=Bad_NS&pod=web-1").status());
        assertEquals(400, get(port, "namespace=" + ns).status());
        Answer badTimeout = get(port, "namespace=" + ns + "&pod=web-1&timeout=soon");
        assertEquals(400, badTimeout.status());
        assertTrue(badTimeout.body().contains("parameter timeout"), badTimeout.body());
        assertEquals(400, get(port, "namespace=" + ns + "&pod=web-1&timeout=2m").status(), "above maxTimeout");
        Answer badCluster = get(port, "namespace=" + ns + "&pod=web-1&cluster=other");
        assertEquals(400, badCluster.status());
        assertTrue(badCluster.body().contains("expected one of real"), badCluster.body());
      } finally {
        d.close();
      }
    }
  }

  @Test
  void aWaitThatCannotFinishTimesOutNamingWhatIsOwedAndTooManyWaitersAreRefused(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "wait3");
      Daemon d = daemon(api, ns, "rollout: {offlineWait: {maxWaiters: 1}}", "{name: reg-" + ns + ", type: routing}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-1")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> reg.online.contains("web-1"));
        reg.failWith = "HTTP 503 from the registry";
        int port = d.httpPort();

        CompletableFuture<Answer> first = CompletableFuture.supplyAsync(() -> {
          try {
            return get(port, "namespace=" + ns + "&pod=web-1&timeout=3s");
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> Daemons.gauge(d, "k8s_sync_offline_waiters") == 1);
        Answer second = get(port, "namespace=" + ns + "&pod=web-1&timeout=3s");
        assertEquals(429, second.status(), second.body());

        Answer timedOut = first.get();
        assertEquals(504, timedOut.status(), timedOut.body());
        assertTrue(timedOut.body().contains("reg-" + ns + " (online)"), "the pod is still online there: " + timedOut.body());
        assertEquals(1.0, Daemons.counter(d, "k8s_sync_offline_waits", Map.of("outcome", "timeout")));
        assertEquals(1.0, Daemons.counter(d, "k8s_sync_offline_waits", Map.of("outcome", "too_many")));
      } finally {
        d.close();
      }
    }
  }

  /** The preStop script of the README, as a pod would run it, with the daemon's address put in. */
  static String readmePreStop(int port) throws java.io.IOException {
    List<String> lines = java.nio.file.Files.readAllLines(java.nio.file.Path.of("../README.md"));
    int start = lines.indexOf("              - |") + 1;
    assertTrue(start > 0, "the README has the preStop script");
    StringBuilder script = new StringBuilder();
    for (int i = start; i < lines.size() && lines.get(i).startsWith("                "); i++) {
      script.append(lines.get(i).substring(16)).append('\n');
    }
    return script.toString().replace("k8s-sync.k8s-sync.svc:9464", "127.0.0.1:" + port);
  }

  static Process runPreStop(String script, String ns, String pod) throws java.io.IOException {
    ProcessBuilder pb = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true);
    pb.environment().put("POD_NAMESPACE", ns);
    pb.environment().put("POD_NAME", pod);
    return pb.start();
  }

  @Test
  void theReadmePreStopReturnsOnceThePodIsOfflineAndFallsBackWhenTheDaemonIsAway(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "wait5");
      Daemon d = daemon(api, ns, "", "{name: reg-" + ns + ", type: routing, config: {drain: 1s}}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        client.pods().inNamespace(ns).resource(TestPods.withFinalizer(TestPods.scheduled(ns, "web-1"))).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> reg.online.contains("web-1"));
        client.pods().inNamespace(ns).withName("web-1").withGracePeriod(30).delete();
        Process hook = runPreStop(readmePreStop(d.httpPort()), ns, "web-1");
        assertTrue(hook.waitFor(40, java.util.concurrent.TimeUnit.SECONDS), "the hook ends");
        Instant ended = Instant.now();
        assertEquals(0, hook.exitValue(), new String(hook.getInputStream().readAllBytes()));
        Instant offline = reg.last("offline", "web-1");
        assertTrue(offline != null && !ended.isBefore(offline), "the hook ended after the pod was offline: " + reg.reports);
        assertEquals(1.0, Daemons.counter(d, "k8s_sync_offline_waits", Map.of("outcome", "offline")));
      } finally {
        d.close();
      }
      // Nobody answers: the hook asks again until its deadline, then sleeps as a hook without k8s-sync
      // would (timings shortened here; the logic is the README's).
      String away = readmePreStop(freePort()).replace("+ 45 ))", "+ 3 ))").replace("sleep 15", "sleep 1");
      long t0 = System.nanoTime();
      Process hook = runPreStop(away, ns, "web-1");
      assertTrue(hook.waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "the hook ends");
      assertEquals(0, hook.exitValue());
      assertTrue(System.nanoTime() - t0 >= Duration.ofSeconds(4).toNanos(), "it retried until its deadline, then slept");
    }
  }

  static int freePort() throws java.io.IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void aStandbyForwardsToTheLeaderAndAWaitCutByARestartIsAskedAgainAndAnswered(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "wait4");
      int portA = freePort();
      int portB = freePort();
      java.util.function.BiFunction<String, Integer, String> yaml = (id, port) -> String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: " + port + "}, shutdownTimeout: 2s}",
          "leaderElection: {enabled: true, namespace: " + ns + ", identity: " + id + ", leaseDuration: 3s, renewDeadline: 2s,"
              + " retryPeriod: 300ms}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms, jitter: 0}}",
          "rollout: {offlineWait: {advertiseUrl: 'http://127.0.0.1:" + port + "'}}",
          "sinks: [{name: reg-" + ns + "-" + id + ", type: routing, config: {drain: 500ms}}]", "");
      Daemon a = Daemons.synced(yaml.apply("a", portA), api::client);
      Daemon b = null;
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        await().atMost(Duration.ofSeconds(30)).until(a::leading);
        b = Daemons.synced(yaml.apply("b", portB), api::client);
        Routing regA = RoutingSinkFactory.get("reg-" + ns + "-a");
        Routing regB = RoutingSinkFactory.get("reg-" + ns + "-b");
        client.pods().inNamespace(ns).resource(TestPods.withFinalizer(TestPods.scheduled(ns, "web-1"))).create();
        client.pods().inNamespace(ns).resource(TestPods.withFinalizer(TestPods.scheduled(ns, "web-2"))).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> regA.online.containsAll(List.of("web-1", "web-2")));

        // Asked at the standby, answered by the leader once the leader's sink has the pod offline.
        client.pods().inNamespace(ns).withName("web-1").withGracePeriod(30).delete();
        Answer forwarded = get(portB, "namespace=" + ns + "&pod=web-1&timeout=20s");
        assertEquals(200, forwarded.status(), forwarded.body());
        assertTrue(regA.last("offline", "web-1") != null && !forwarded.at().isBefore(regA.last("offline", "web-1")));
        assertTrue(regB.reports.isEmpty(), "the standby's sink did nothing: " + regB.reports);
        assertTrue(Daemons.counter(b, "k8s_sync_offline_waits", Map.of("outcome", "forwarded")) >= 1);

        // The leader stops while a wait is open (its sink cannot take the pod offline): the wait gets
        // 503, the hook asks again, and the new leader answers once its own sink has the pod offline.
        regA.failWith = "registry unreachable";
        client.pods().inNamespace(ns).withName("web-2").withGracePeriod(30).delete();
        CompletableFuture<Answer> hook = CompletableFuture.supplyAsync(() -> {
          try {
            return preStop(List.of(portA, portB), "namespace=" + ns + "&pod=web-2&timeout=20s", Duration.ofSeconds(40));
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> Daemons.gauge(a, "k8s_sync_offline_waiters") == 1);
        a.close();
        Answer answer = hook.get();
        assertEquals(200, answer.status(), answer.body());
        assertTrue(regB.last("offline", "web-2") != null, "the new leader's sink took web-2 offline: " + regB.reports);
        assertFalse(answer.at().isBefore(regB.last("offline", "web-2")));
      } finally {
        a.close();
        if (b != null) {
          b.close();
        }
      }
    }
  }
}

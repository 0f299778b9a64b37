package io.k8ssync.sink.nginx;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.PodStates;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.testbed.HttpBackend;
import io.k8ssync.sink.testbed.Nginx;
import io.k8ssync.sink.testbed.RequestLoop;
import io.k8ssync.sink.testbed.TestBed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The nginx sink against a real nginx of the test's own, with backends on loopback addresses. */
class NginxSinkTest {

  @TempDir
  Path dir;

  private Nginx nginx;
  private NginxContext context;
  private NginxSink sink;
  private final List<HttpBackend> backends = new ArrayList<>();
  private final Map<String, PodState> pods = new LinkedHashMap<>();
  private final int port = TestBed.freePort();

  private NginxSink start(Map<String, Object> overrides) throws Exception {
    nginx = Nginx.started(dir.resolve("nginx"));
    Map<String, Object> o = new HashMap<>(Map.of("minWait", "100ms", "maxWait", "500ms", "minReloadInterval", "200ms",
        "drainDelay", "1s"));
    o.putAll(overrides);
    context = new NginxContext(nginx, o);
    sink = context.sink();
    sink.start();
    sink.podsSynced();
    return sink;
  }

  @AfterEach
  void stop() {
    if (sink != null) {
      sink.close();
    }
    backends.forEach(HttpBackend::stop);
    if (nginx != null) {
      nginx.close();
    }
  }

  private PodState pod(String name, int n) {
    return new PodState("c1", "ns", name, "uid-" + name, "web", "127.0.0." + n, "192.168.0.1", port, "node-1",
        PodState.Phase.RUNNING, true, false, 1, Map.of(), Map.of(), Map.of(), "1", 0, 0, null);
  }

  private HttpBackend backend(String name, int n) {
    HttpBackend b = HttpBackend.started(name, "127.0.0." + n, port);
    backends.add(b);
    return b;
  }

  /** Plays the daemon: the cache holds {@code after} (or loses the pod), then the sink gets the change. */
  private void change(String name, PodState after) throws SinkException {
    if (after == null && !pods.containsKey(name)) {
      return;
    }
    PodState before = after == null ? pods.remove(name) : pods.put(name, after);
    context.base.pods.clear();
    context.base.pods.addAll(pods.values());
    sink.apply(List.of(PodChange.of(PodState.key("c1", "ns", name), before, after)));
  }

  private Path file(String upstream) {
    return nginx.upstreams().resolve(upstream + ".conf");
  }

  private String text(String upstream) throws Exception {
    Path f = file(upstream);
    return Files.exists(f) ? Files.readString(f) : "";
  }

  /** The server lines of an upstream file, without the fixed parameters. */
  private Set<String> servers(String upstream) throws Exception {
    Set<String> out = new TreeSet<>();
    for (String line : text(upstream).split("\n")) {
      ServerLine s = ServerLine.parse(line);
      if (s != null) {
        out.add(s.address() + (s.down() ? " down" : ""));
      }
    }
    return out;
  }

  private String get(String upstream) {
    return RequestLoop.get("127.0.0.1", nginx.port(), nginx.path(upstream));
  }

  @Test
  void readyPodsAreWrittenAsAnUpstreamThatNginxRoutesToOnceTheReloadIsConfirmed() throws Exception {
    start(Map.of("header", "managed by the platform team"));
    backend("web-1", 11);
    backend("web-2", 12);
    change("web-1", pod("web-1", 11));
    change("web-2", PodStates.withWeight(pod("web-2", 12), 3));

    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1") && context.saw("online web-2"));
    String text = text("web");
    assertTrue(text.startsWith("# k8s-sync nginx sink \"nginx-test\""), text);
    assertTrue(text.contains("# managed by the platform team\n"), text);
    assertTrue(text.contains("upstream web {\n    zone web 64k;\n"), text);
    assertTrue(text.contains("server 127.0.0.11:" + port + " weight=1 max_fails=2 fail_timeout=10s;"), text);
    assertTrue(text.contains("server 127.0.0.12:" + port + " weight=3 max_fails=2 fail_timeout=10s;"), text);
    assertTrue(Set.of("200 web-1", "200 web-2").contains(get("web")), "nginx routes to the pods");
    assertTrue(context.metric("nginx_reloads_total", "ok") >= 1);
    assertTrue(context.metric("nginx_last_reload_success_timestamp_seconds") > 0);
    assertEquals(0, context.metric("nginx_holding"));

    change("web-1", PodStates.withWeight(pod("web-1", 11), 2));
    await().atMost(Duration.ofSeconds(10)).until(() -> text("web").contains("127.0.0.11:" + port + " weight=2 "));
    assertEquals(text, Files.readString(nginx.upstreams().resolve(".web.conf.bak")), "the previous text is kept as a backup");
    try (var names = Files.list(nginx.upstreams())) {
      assertEquals(List.of(".web.conf.bak", "web.conf"), names.map(p -> p.getFileName().toString()).sorted().toList(),
          "no temp file left; the backup is hidden from include *.conf");
    }
  }

  @Test
  void weightsSplitTheTrafficInTheWrittenProportion() throws Exception {
    start(Map.of());
    backend("light", 21);
    backend("heavy", 22);
    change("light", pod("light", 21));
    change("heavy", PodStates.withWeight(pod("heavy", 22), 3));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online light") && context.saw("online heavy"));

    Map<String, Integer> answers = new HashMap<>();
    for (int i = 0; i < 400; i++) {
      answers.merge(get("web"), 1, Integer::sum);
    }
    // Weighted round robin is exact per cycle of 4 for each worker: 1 of 4 to light, 3 of 4 to heavy.
    int light = answers.getOrDefault("200 light", 0);
    int heavy = answers.getOrDefault("200 heavy", 0);
    assertEquals(400, light + heavy, "every request answered: " + answers);
    assertTrue(light >= 80 && light <= 120, "light (weight 1) got " + light + " of 400, expected about 100: " + answers);
  }

  @Test
  void aDrainingPodIsWrittenDownForTheDrainDelayAndThenRemoved() throws Exception {
    start(Map.of("drainDelay", "2s"));
    backend("web-1", 31);
    backend("web-2", 32);
    change("web-1", pod("web-1", 31));
    change("web-2", pod("web-2", 32));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1") && context.saw("online web-2"));

    change("web-2", PodStates.withTerminating(pod("web-2", 32)));
    String a1 = "127.0.0.31:" + port;
    String a2 = "127.0.0.32:" + port;
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("draining web-2"));
    assertEquals(Set.of(a1, a2 + " down"), servers("web"), "written down while it drains");
    assertFalse(context.saw("offline web-2"));
    for (int i = 0; i < 20; i++) {
      assertEquals("200 web-1", get("web"), "a down server gets no new request");
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("offline web-2"));
    assertEquals(Set.of(a1), servers("web"), "removed after the drain delay");
  }

  @Test
  void aBurstOf500ChangesIn2SecondsCausesAHandfulOfReloadsAndEndsEqualToTheReadyPods() throws Exception {
    start(Map.of("minWait", "1s", "maxWait", "3s", "minReloadInterval", "2s"));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_renders_total") >= 1);
    double reloadsBefore = context.metric("nginx_reloads_total", "ok");
    long t0 = System.nanoTime();
    java.util.Random random = new java.util.Random(17);
    for (int i = 0; i < 500; i++) {
      int n = 100 + random.nextInt(60);
      String name = "burst-" + n;
      PodState p = pod(name, n);
      change(name, switch (random.nextInt(3)) {
        case 0 -> p;
        case 1 -> PodStates.withReady(p, false);
        default -> null;
      });
      if (i % 50 == 49) {
        Thread.sleep(Math.max(0, (i + 1) * 4L - Duration.ofNanos(System.nanoTime() - t0).toMillis()));
      }
    }
    assertTrue(Duration.ofNanos(System.nanoTime() - t0).toMillis() < 2500, "the burst took under 2.5 s");
    Set<String> ready = new TreeSet<>();
    pods.values().stream().filter(p -> p.ready()).forEach(p -> ready.add(p.ip() + ":" + port));

    await().atMost(Duration.ofSeconds(20)).until(() -> live(servers("web")).equals(ready) && context.metric("nginx_holding") == 0
        && context.metric("nginx_pending_since_timestamp_seconds") == 0);
    double reloads = context.metric("nginx_reloads_total", "ok") - reloadsBefore;
    assertTrue(reloads >= 1 && reloads <= 4, "500 changes in 2 s took " + reloads + " reloads");
    assertTrue(context.metric("nginx_renders_unchanged_total") + context.metric("nginx_renders_total") > 0);
  }

  private static Set<String> live(Set<String> servers) {
    Set<String> out = new TreeSet<>();
    servers.stream().filter(s -> !s.endsWith(" down")).forEach(out::add);
    return out;
  }

  @Test
  void anUnchangedRenderWritesNothingAndDoesNotReload() throws Exception {
    start(Map.of());
    backend("web-1", 41);
    change("web-1", pod("web-1", 41));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));
    double reloads = context.metric("nginx_reloads_total", "ok");
    Set<Long> workers = nginx.workers();
    // A change nginx does not see (a label not kept in the file).
    change("web-1", PodStates.withLabels(pod("web-1", 41), Map.of("team", "a")));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_renders_unchanged_total") >= 1);
    assertEquals(reloads, context.metric("nginx_reloads_total", "ok"));
    assertTrue(workers.containsAll(nginx.workers()), "no new worker generation: " + workers + " then " + nginx.workers());
  }

  @Test
  void aBrokenIncludeElsewhereHoldsTheLiveFileAndTheRunningNginxThenRecoversByItself() throws Exception {
    start(Map.of("retryMaxDelay", "1s"));
    backend("web-1", 51);
    backend("web-2", 52);
    change("web-1", pod("web-1", 51));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));
    String liveText = text("web");
    Set<Long> workers = nginx.workers();

    Files.writeString(nginx.confD().resolve("broken.conf"), "this is not nginx config\n");
    change("web-2", pod("web-2", 52));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_reloads_total", "test_failed") >= 1);
    assertEquals(1, context.metric("nginx_holding"), "held");
    assertTrue(context.metric("nginx_pending_since_timestamp_seconds") > 0, "the file-stale alert has its series");
    assertEquals(liveText, text("web"), "the live file is as it was");
    assertTrue(nginx.alive());
    assertTrue(workers.containsAll(nginx.workers()), "the running nginx was not reloaded: " + workers + " then " + nginx.workers());
    assertEquals("200 web-1", get("web"));
    assertTrue(context.reported.stream().anyMatch(r -> r.startsWith("failing web-2: nginx -t failed")), context.reported.toString());
    SinkException held = assertThrows(SinkException.class, () -> change("web-1", pod("web-1", 51)));
    assertTrue(held.retriable(), "a change while held fails, retriable: the daemon shows the sink failing");
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_retries_total") >= 1);
    // Retries test the config as it runs first and hold: the live file is never replaced, not even for a test.
    await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(5))
        .until(() -> liveText.equals(text("web")));

    Files.delete(nginx.confD().resolve("broken.conf"));
    await().atMost(Duration.ofSeconds(15)).until(() -> context.saw("online web-2"));
    assertEquals(0, context.metric("nginx_holding"));
    assertEquals(Set.of("127.0.0.51:" + port, "127.0.0.52:" + port), servers("web"));
  }

  @Test
  void theLastPodGoingAwayLeavesTheUpstreamWithItsServerDownAndNginxRunning() throws Exception {
    start(Map.of("drainDelay", "500ms"));
    backend("web-1", 61);
    change("web-1", pod("web-1", 61));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));

    change("web-1", null);
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("offline web-1"));
    assertEquals(Set.of("127.0.0.61:" + port + " down"), servers("web"), "the last server stays, down");
    assertTrue(text("web").contains("no pod is ready"));
    assertEquals(1, context.metric("nginx_upstreams_without_live_server"));
    assertTrue(context.metric("nginx_upstreams_emptied_total") >= 1);
    assertTrue(nginx.alive());
    assertTrue(new NginxProcess(NginxSinkConfig.from("t", context.config())).test().ok(), "nginx -t still passes");
    assertTrue(get("web").startsWith("502"), "no server takes the request, nginx answers it");
  }

  @Test
  void withAFallbackServerAnUpstreamWithoutReadyPodsSendsTrafficThere() throws Exception {
    HttpBackend fb = backend("fallback", 79);
    start(Map.of("drainDelay", "500ms", "fallbackServer", "127.0.0.79:" + port));
    backend("web-1", 71);
    change("web-1", pod("web-1", 71));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));
    assertFalse(servers("web").contains("127.0.0.79:" + port), "no fallback while a pod is ready");

    change("web-1", null);
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("offline web-1"));
    assertEquals(Set.of("127.0.0.79:" + port), servers("web"));
    assertEquals("200 fallback", get("web"));
    assertTrue(fb.served() > 0);
  }

  @Test
  void aReloadThatFailsPutsTheBackupBack() throws Exception {
    start(Map.of("reloadCommand", List.of("false"), "retryMaxDelay", "1s"));
    change("web-1", pod("web-1", 81));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.reported.stream()
        .anyMatch(r -> r.startsWith("failing web-1: reload failed")));
    assertTrue(context.metric("nginx_reloads_total", "reload_failed") >= 1);
    assertFalse(Files.exists(file("web")), "a file that did not exist before is removed again");
    assertEquals(1, context.metric("nginx_holding"));
  }

  @Test
  void aReloadThatStartsNoNewWorkersIsNotConfirmedAndIsRolledBack() throws Exception {
    start(Map.of("reloadCommand", List.of("true"), "reloadTimeout", "500ms", "retryMaxDelay", "1s"));
    change("web-1", pod("web-1", 91));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.reported.stream()
        .anyMatch(r -> r.startsWith("failing web-1: reload failed: no new worker processes")));
    assertTrue(context.metric("nginx_reloads_total", "timeout") >= 1);
    assertFalse(Files.exists(file("web")));
    assertFalse(context.saw("online web-1"), "never reported online");
  }

  @Test
  void aFileOfTheSameNameNotWrittenByThisSinkIsLeftAlone() throws Exception {
    nginx = Nginx.started(dir.resolve("nginx"));
    String theirs = "upstream web { server 127.0.0.1:1; }\n";
    Files.writeString(nginx.upstreams().resolve("web.conf"), theirs);
    nginx.stop();
    nginx = null;
    start(Map.of());
    try {
      change("web-1", pod("web-1", 95));
    } catch (SinkException e) {
      // The start-up render may have found the foreign file first: the sink already holds, and says so.
      assertTrue(e.retriable() && e.getMessage().contains("not written by this sink"), e.getMessage());
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_reloads_total", "foreign_file") >= 1);
    assertEquals(theirs, text("web"));
  }

  @Test
  void anUpstreamOfManyServersGetsAZoneTheyFitIn() throws Exception {
    start(Map.of());
    for (int i = 0; i < 300; i++) {
      change("big-" + i, new PodState("c1", "ns", "big-" + i, "uid-big-" + i, "web",
          "127.0." + (10 + i / 250) + "." + (i % 250 + 1), null, port, "node-1", PodState.Phase.RUNNING, true, false, 1, Map.of(),
          Map.of(), Map.of(), "1", 0, 0, null));
    }
    await().atMost(Duration.ofSeconds(15)).until(() -> context.metric("nginx_pending_since_timestamp_seconds") == 0
        || context.metric("nginx_reloads_total", "test_failed") > 0);
    assertEquals(0, context.metric("nginx_reloads_total", "test_failed"), "nginx -t accepted it at once");
    assertEquals(300, live(servers("web")).size());
    assertTrue(text("web").contains("    zone web 512k;\n"), "300 servers need more than the 64k default");
  }

  @Test
  void changesBeforeTheInitialListWaitForItWithoutRenderingOrSpinning() throws Exception {
    nginx = Nginx.started(dir.resolve("nginx"));
    context = new NginxContext(nginx, Map.of("minWait", "10ms", "maxWait", "50ms"));
    context.base.synced = false;
    sink = context.sink();
    sink.start();
    change("web-1", pod("web-1", 99));
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long id = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("nginx-nginx-test")).findFirst()
        .orElseThrow().getId();
    long cpu0 = threads.getThreadCpuTime(id);
    await().pollDelay(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> true);
    long cpuMillis = (threads.getThreadCpuTime(id) - cpu0) / 1_000_000;
    assertTrue(cpuMillis < 100, "the render thread idles until the list is complete; it used " + cpuMillis + " ms of CPU in 1 s");
    assertEquals(0, context.metric("nginx_renders_total"), "no render from an incomplete cache");

    context.base.synced = true;
    sink.podsSynced();
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));
  }

  @Test
  void itChecksAtStartThatNginxSetsWorkerShutdownTimeout() throws Exception {
    start(Map.of());
    assertEquals(1, context.metric("nginx_worker_shutdown_timeout_set"), "the test bed's nginx sets it");
    sink.close();
    String main = Files.readString(nginx.mainConfig());
    Files.writeString(nginx.mainConfig(), main.replace("worker_shutdown_timeout 10s;\n", ""));
    sink = context.sink();
    sink.start();
    assertEquals(0, context.metric("nginx_worker_shutdown_timeout_set"), "warned: old workers would live as long as their connections");
  }

  @Test
  void theSingleLayoutWritesEveryUpstreamInOneFile() throws Exception {
    start(Map.of("layout", "single", "upstream", "{service}-{namespace}"));
    change("web-1", pod("web-1", 96));
    change("api-1", PodStates.withService(pod("api-1", 97), "api"));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1") && context.saw("online api-1"));
    String text = Files.readString(nginx.upstreams().resolve("k8s-sync-upstreams.conf"));
    assertTrue(text.indexOf("upstream api-ns {") < text.indexOf("upstream web-ns {"), text);
    try (var files = Files.list(nginx.upstreams())) {
      assertEquals(List.of("k8s-sync-upstreams.conf"), files.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
          .toList());
    }
  }

  @Test
  void aRestartedSinkKeepsTheServersItWroteWhenNoPodIsThereAnyMore() throws Exception {
    start(Map.of());
    change("web-1", pod("web-1", 98));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.saw("online web-1"));
    sink.close();
    pods.clear();
    context.base.pods.clear();
    sink = context.sink();
    sink.start();
    sink.podsSynced();
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("nginx_renders_total") >= 2
        && context.metric("nginx_upstreams_without_live_server") == 1);
    assertEquals(Set.of("127.0.0.98:" + port + " down"), servers("web"), "read back from the file: kept, down");
    assertNotNull(nginx.workers());
  }
}

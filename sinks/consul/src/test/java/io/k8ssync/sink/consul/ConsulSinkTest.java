package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.upstream.UpstreamTestAccess;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The consul sink against a real Consul agent, read back exactly as nginx-upsync reads it. */
class ConsulSinkTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<Sink> sinks = new ArrayList<>();
  private TestSinkContext context;

  @AfterEach
  void close() {
    sinks.forEach(Sink::close);
    consul.close();
  }

  private Sink sink(Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("url", consul.url(), "drainDelay", "200ms", "reconcileEvery", "0", "timeout", "2s"));
    c.putAll(extra);
    context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), c, Selector.ALL);
    Sink s = new ConsulSinkFactory().create(context);
    s.start();
    sinks.add(s);
    return s;
  }

  private static void apply(Sink s, PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    s.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
  }

  private void putForeign(String key, String value, long flags) throws Exception {
    http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/" + key + "?flags=" + flags))
        .PUT(HttpRequest.BodyPublishers.ofString(value)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void readyPodIsAKeyInUpsyncFormatMarkedByFlags() throws Exception {
    Sink s = sink(Map.of());
    apply(s, null, ready("web-1", "10.0.0.1"));
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/10.0.0.1:8080")).build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode kv = new ObjectMapper().readTree(r.body()).get(0);
    assertEquals("{\"weight\":1,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}",
        new String(java.util.Base64.getDecoder().decode(kv.get("Value").asText())));
    assertEquals(ConsulRegistry.ownerFlags("c1"), kv.get("Flags").asLong());
    assertEquals(Map.of("10.0.0.1:8080", new UpsyncEntry(1, 2, 10, false, false)), upstream("web"));
  }

  @Test
  void rollingUpdateSeenThroughBlockingQueriesNeverServesATerminatingPodNorEmpties() throws Exception {
    Sink s = sink(Map.of("drainDelay", "50ms"));
    List<PodState> live = new ArrayList<>(List.of(ready("web-a", "10.0.1.1"), ready("web-b", "10.0.1.2"), ready("web-c", "10.0.1.3")));
    for (PodState p : live) {
      apply(s, null, p);
    }
    context.pods.addAll(live);
    List<String> terminated = new CopyOnWriteArrayList<>();
    List<String> violations = new CopyOnWriteArrayList<>();
    List<Map<String, UpsyncEntry>> views = new CopyOnWriteArrayList<>();
    AtomicBoolean reading = new AtomicBoolean(true);
    UpsyncReader reader = new UpsyncReader(consul.url(), "upstreams", "web");
    Thread nginx = new Thread(() -> {
      while (reading.get()) {
        try {
          List<String> goneBefore = List.copyOf(terminated);
          Map<String, UpsyncEntry> view = reader.next(Duration.ofMillis(300));
          views.add(view);
          // Every pod was ready before the first read: from then on some server must take traffic.
          if (view.isEmpty()) {
            violations.add("empty upstream");
          } else if (view.values().stream().allMatch(UpsyncEntry::down)) {
            violations.add("no server with down:0 " + view);
          }
          view.forEach((addr, e) -> {
            if (!e.down() && goneBefore.contains(addr)) {
              violations.add("served terminating " + addr);
            }
          });
        } catch (Exception e) {
          violations.add(e.toString());
        }
      }
    });
    nginx.start();
    for (int i = 0; i < 3; i++) {
      PodState old = live.get(i);
      PodState fresh = ready("web-new-" + i, "10.0.2." + (i + 1));
      context.pods.add(fresh);
      apply(s, null, fresh);
      context.pods.remove(old);
      context.pods.add(withTerminating(old));
      apply(s, old, withTerminating(old));
      terminated.add(old.address());
    }
    await().until(() -> upstream("web").keySet().equals(Set.of("10.0.2.1:8080", "10.0.2.2:8080", "10.0.2.3:8080")));
    reading.set(false);
    nginx.join();
    assertEquals(List.of(), violations);
    // Blocking queries answer each change, but changes that land while the reader is between two
    // queries arrive in one answer: how many views it gets depends on the machine's load.
    assertTrue(views.size() > 1, "the blocking reader saw changes after its first read: " + views.size());
  }

  @Test
  void aRestartedDaemonMidChurnRemovesNoLiveServer() throws Exception {
    Sink first = sink(Map.of("drainDelay", "2s"));
    List<PodState> live = List.of(ready("web-1", "10.0.0.1"), ready("web-2", "10.0.0.2"), ready("web-3", "10.0.0.3"));
    for (PodState p : live) {
      apply(first, null, p);
    }
    // Mid-churn: web-3 was draining when the daemon stopped.
    apply(first, live.get(2), withReady(live.get(2), false));
    first.close();
    sinks.remove(first);

    Sink second = sink(Map.of("reconcileEvery", "50ms", "drainDelay", "2s"));
    context.pods.addAll(List.of(live.get(0), live.get(1), withReady(live.get(2), false)));
    await().until(() -> context.metric("reconcile_runs_total", "ok") >= 2);
    Map<String, UpsyncEntry> view = upstream("web");
    assertTrue(view.containsKey("10.0.0.3:8080") && view.get("10.0.0.3:8080").down(),
        "the one that was draining gets its whole drain delay again, not deleted at the first pass: " + view);
    await().until(() -> !upstream("web").containsKey("10.0.0.3:8080"));
    view = upstream("web");
    assertFalse(view.get("10.0.0.1:8080").down());
    assertFalse(view.get("10.0.0.2:8080").down());
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"), "the one that was draining is finished");
  }

  @Test
  void consulDownThenBackConverges() throws Exception {
    Sink s = sink(Map.of("reconcileEvery", "100ms"));
    PodState a = ready("web-1", "10.0.0.1");
    apply(s, null, a);
    context.pods.add(a);
    consul.stop();
    PodState b = ready("web-2", "10.0.0.2");
    context.pods.add(b);
    SinkException e = assertThrows(SinkException.class, () -> apply(s, null, b));
    assertTrue(e.retriable(), "an outage is retried, not dropped");
    consul.start(); // dev mode: it comes back empty
    await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> upstream("web").keySet().equals(Set.of("10.0.0.1:8080", "10.0.0.2:8080")));
  }

  @Test
  void foreignKeysUnderThePrefixSurviveReconcile() throws Exception {
    putForeign("upstreams/web/10.9.9.9:80", "{\"weight\":5}", 0);
    putForeign("upstreams/web/10.0.0.2:8080", "{\"weight\":7}", 42);
    putForeign("upstreams/api/10.8.8.8:80", "{\"weight\":3}", ConsulRegistry.ownerFlags("other-cluster"));
    Sink s = sink(Map.of("reconcileEvery", "50ms"));
    context.pods.addAll(List.of(ready("web-1", "10.0.0.1"), ready("web-2", "10.0.0.2")));
    await().until(() -> upstream("web").containsKey("10.0.0.1:8080") && context.metric("reconcile_runs_total", "ok") >= 2);
    assertEquals(5, upstream("web").get("10.9.9.9:80").weight());
    assertEquals(7, upstream("web").get("10.0.0.2:8080").weight(), "a key at our address written by someone else is not overwritten");
    assertEquals(3, upstream("api").get("10.8.8.8:80").weight(), "another cluster's entries are not ours");
    assertTrue(context.metric("upstream_foreign_entries_total") >= 1);
  }

  @Test
  void reconcileRepairsInTransactionsOf64() throws Exception {
    Sink s = sink(Map.of());
    for (int i = 0; i < 150; i++) {
      context.pods.add(ready("web-" + i, "10.0." + (i / 200) + "." + (i % 200 + 1)));
    }
    UpstreamTestAccess.reconcile(s);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/?recurse")).build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode all = new ObjectMapper().readTree(r.body());
    assertEquals(150, all.size());
    Set<Long> indexes = new java.util.HashSet<>();
    all.forEach(kv -> indexes.add(kv.get("ModifyIndex").asLong()));
    assertEquals(3, indexes.size(), "150 repairs in 3 transactions (64 + 64 + 22): " + indexes);
  }

  @Test
  void massRemovalIsHeldUntilASecondPassAgrees() throws Exception {
    Sink s = sink(Map.of());
    for (int i = 1; i <= 4; i++) {
      apply(s, null, ready("web-" + i, "10.0.0." + i));
    }
    UpstreamTestAccess.reconcile(s);
    assertEquals(1.0, context.metric("upstream_removals_held_total", "mass_removal"));
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down));
    UpstreamTestAccess.reconcile(s);
    assertTrue(upstream("web").values().stream().allMatch(UpsyncEntry::down));
  }

  @Test
  void httpsWithAPrivateCaIsTrustedOnlyThroughCaFile() throws Exception {
    Path dir = Files.createTempDirectory("consul-tls");
    run(dir, "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem");
    run(dir, "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr");
    Files.writeString(dir.resolve("san.ext"), "subjectAltName=IP:127.0.0.1\n");
    run(dir, "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.pem");
    int httpsPort = io.k8ssync.sink.testbed.TestBed.freePort();
    consul.close();
    try (ConsulAgent tls = ConsulAgent.started("-https-port=" + httpsPort, "-hcl",
        "tls { defaults { ca_file = \"" + dir.resolve("ca.pem") + "\" cert_file = \"" + dir.resolve("server.pem")
            + "\" key_file = \"" + dir.resolve("server.key") + "\" verify_incoming = false } }")) {
      String url = "https://127.0.0.1:" + httpsPort;
      TestSinkContext trusting = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", url, "caFile", dir.resolve("ca.pem").toString(), "reconcileEvery", "0"), Selector.ALL);
      Sink ok = new ConsulSinkFactory().create(trusting);
      sinks.add(ok);
      apply(ok, null, ready("web-1", "10.0.0.1"));
      assertEquals(Set.of("10.0.0.1:8080"), new UpsyncReader(tls.url(), "upstreams", "web").now().keySet());

      TestSinkContext untrusting = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", url, "reconcileEvery", "0"), Selector.ALL);
      Sink refused = new ConsulSinkFactory().create(untrusting);
      sinks.add(refused);
      SinkException e = assertThrows(SinkException.class, () -> apply(refused, null, ready("web-2", "10.0.0.2")));
      assertTrue(e.retriable());
      Throwable cause = e;
      while (cause != null && !(cause instanceof javax.net.ssl.SSLException)) {
        cause = cause.getCause();
      }
      assertTrue(cause != null, "refused by TLS, not by something else: " + e);
    }
  }

  private static void run(Path dir, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + "\n" + out);
  }

  @Test
  void aclTokenTravelsInAHeaderNeverInTheUrl() throws Exception {
    consul.close();
    List<String> uris = new CopyOnWriteArrayList<>();
    List<String> tokens = new CopyOnWriteArrayList<>();
    // A stand-in for Consul that records what reaches it (and what a proxy's access log would keep).
    com.sun.net.httpserver.HttpServer fake = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    fake.createContext("/", exchange -> {
      uris.add(exchange.getRequestURI().toString());
      tokens.add(String.valueOf(exchange.getRequestHeaders().getFirst("X-Consul-Token")));
      boolean get = "GET".equals(exchange.getRequestMethod());
      byte[] body = "true".getBytes(java.nio.charset.StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(get ? 404 : 200, get ? -1 : body.length);
      if (!get) {
        exchange.getResponseBody().write(body);
      }
      exchange.close();
    });
    fake.start();
    try {
      Path token = Files.createTempFile("consul", ".token");
      Files.writeString(token, "header-token-7\n");
      TestSinkContext ctx = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", "http://127.0.0.1:" + fake.getAddress().getPort(), "aclToken", "${file:" + token + "}",
              "reconcileEvery", "0", "timeout", "2s"), Selector.ALL);
      Sink s = new ConsulSinkFactory().create(ctx);
      sinks.add(s);
      try {
        apply(s, null, ready("web-1", "10.0.0.1"));
      } catch (SinkException e) {
        // only what was sent matters here, not how the stand-in's answers were read
      }
      assertFalse(uris.isEmpty(), "the sink called the stand-in");
      for (String uri : uris) {
        assertFalse(uri.contains("header-token-7") || uri.contains("token="), "token in the URL: " + uri);
      }
      assertEquals(List.of("header-token-7"), tokens.stream().distinct().toList(), "every request carries X-Consul-Token");
    } finally {
      fake.stop(0);
    }
  }

  @Test
  void aclTokenFromAFileIsUsedAndRequired() throws Exception {
    consul.close();
    try (ConsulAgent secured = ConsulAgent.started("-hcl",
        "acl { enabled = true default_policy = \"deny\" tokens { initial_management = \"root-token-1\" } }")) {
      Path token = Files.createTempFile("consul", ".token");
      Files.writeString(token, "root-token-1\n");
      TestSinkContext ctx = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", secured.url(), "aclToken", "${file:" + token + "}", "reconcileEvery", "0"), Selector.ALL);
      Sink withToken = new ConsulSinkFactory().create(ctx);
      sinks.add(withToken);
      apply(withToken, null, ready("web-1", "10.0.0.1"));
      assertFalse(ctx.config().toString().contains("root-token-1"));

      TestSinkContext anon = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", secured.url(), "reconcileEvery", "0"), Selector.ALL);
      Sink without = new ConsulSinkFactory().create(anon);
      sinks.add(without);
      SinkException e = assertThrows(SinkException.class, () -> apply(without, null, ready("web-2", "10.0.0.2")));
      assertTrue(e.retriable(), "a refused token is retried until an operator fixes it: " + e.getMessage());
    }
  }
}

package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Redirects with {@code followRedirects: true}: a gateway that answers 307 or 302 to another origin
 * (another port on loopback) must not hand that origin our custom headers or credentials.
 */
class HttpSinkRedirectTest {

  /** Another origin: same host, another port. */
  private final RecordingTarget elsewhere;
  private final HttpServer gateway;
  private final List<RecordingTarget.Call> gatewayCalls = new CopyOnWriteArrayList<>();
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkRedirectTest() throws IOException {
    elsewhere = new RecordingTarget();
    gateway = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50);
    gateway.createContext("/", this::answer);
  }

  @BeforeEach
  void startGateway() {
    gateway.start();
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    gateway.stop(0);
    elsewhere.close();
  }

  /** /away/... answers 307 and /found/... 302, both to the other origin; /here/... 307 to /v2/here/... on itself. */
  private void answer(HttpExchange ex) throws IOException {
    ex.getRequestBody().readAllBytes();
    String path = ex.getRequestURI().getRawPath();
    String query = ex.getRequestURI().getRawQuery();
    gatewayCalls.add(new RecordingTarget.Call(ex.getRequestMethod(), path, query, Map.copyOf(ex.getRequestHeaders()), ""));
    String rest = path + (query == null ? "" : "?" + query);
    if (path.startsWith("/away/")) {
      ex.getResponseHeaders().add("Location", elsewhere.url() + rest);
      ex.sendResponseHeaders(307, -1);
    } else if (path.startsWith("/found/")) {
      ex.getResponseHeaders().add("Location", elsewhere.url() + rest);
      ex.sendResponseHeaders(302, -1);
    } else if (path.startsWith("/here/")) {
      ex.getResponseHeaders().add("Location", "/v2" + rest);
      ex.sendResponseHeaders(307, -1);
    } else {
      ex.sendResponseHeaders(200, -1);
    }
    ex.close();
  }

  private String gatewayUrl() {
    return "http://127.0.0.1:" + gateway.getAddress().getPort();
  }

  private void sink(Path dir, String onlinePath, String offlinePath) throws Exception {
    Path token = dir.resolve("token");
    Files.writeString(token, "tok-123\n");
    Map<String, Object> c = new HashMap<>();
    c.put("online", Map.of("url", gatewayUrl() + onlinePath + "?ip={ip}", "headers", Map.of("X-Pod", "{namespace}/{pod}")));
    c.put("offline", Map.of("method", "DELETE", "url", gatewayUrl() + offlinePath + "?ip={ip}",
        "headers", Map.of("X-Pod", "{namespace}/{pod}")));
    c.put("followRedirects", true);
    c.put("auth", Map.of("bearerToken", "${file:" + token + "}"));
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    sink = new HttpSink(context, HttpTarget.from(context), System::nanoTime);
    sink.leadershipChanged("c1", 0, true);
    sink.start();
    sink.podsSynced();
  }

  private SinkException applyCatching(PodState before, PodState after) {
    PodState any = after != null ? after : before;
    try {
      sink.apply(List.of(PodChange.of(any.key(), before, after)));
      return null;
    } catch (SinkException e) {
      return e;
    }
  }

  private boolean elsewhereGotHeadersOrCredentials() {
    return elsewhere.calls.stream().anyMatch(c -> c.headers().containsKey("Authorization") || c.headers().containsKey("X-pod"));
  }

  @Test
  void aTemporaryRedirectToAnotherOriginIsNotFollowed(@TempDir Path dir) throws Exception {
    sink(dir, "/away/online", "/v2/offline");
    PodState p = ready("web-1", "10.0.0.1");
    SinkException e = applyCatching(null, p);
    assertTrue(!elsewhereGotHeadersOrCredentials(), "the other origin got our headers: " + elsewhere.calls);
    assertTrue(elsewhere.calls.isEmpty(), "nothing goes to the other origin: " + elsewhere.calls);
    assertNotNull(e, "a refused redirect is a failure");
    assertTrue(e.retriable(), "retried: the gateway may be moving, and the online must not be lost");
    assertEquals(1.0, context.metric("http_calls_total", "online", "redirect_refused"));
    assertTrue(!e.getMessage().contains("tok-123"), e.getMessage());
  }

  @Test
  void aFoundRedirectOfAnOfflineToAnotherOriginIsNotFollowed(@TempDir Path dir) throws Exception {
    sink(dir, "/v2/online", "/found/offline");
    PodState p = ready("web-1", "10.0.0.1");
    assertEquals(null, applyCatching(null, p));
    SinkException e = applyCatching(p, null);
    assertTrue(!elsewhereGotHeadersOrCredentials(), "the other origin got our headers: " + elsewhere.calls);
    assertTrue(elsewhere.calls.isEmpty(), "nothing goes to the other origin: " + elsewhere.calls);
    assertNotNull(e, "an offline redirected elsewhere is not done");
    assertTrue(e.retriable());
    assertEquals(1.0, context.metric("http_calls_total", "offline", "redirect_refused"));
  }

  @Test
  void aRedirectWithinTheSameOriginIsFollowedWithItsHeaders(@TempDir Path dir) throws Exception {
    sink(dir, "/here/online", "/v2/offline");
    PodState p = ready("web-1", "10.0.0.1");
    assertEquals(null, applyCatching(null, p));
    assertEquals(List.of("/here/online", "/v2/here/online"), gatewayCalls.stream().map(RecordingTarget.Call::path).toList());
    RecordingTarget.Call followed = gatewayCalls.get(1);
    assertEquals("POST", followed.method(), "307 keeps the method");
    assertEquals("ip=10.0.0.1", followed.rawQuery());
    assertEquals("Bearer tok-123", followed.header("Authorization"));
    assertEquals("ns/web-1", followed.header("X-pod"));
    assertEquals(1.0, context.metric("http_calls_total", "online", "ok"));
  }
}

package io.k8ssync.daemon.status;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Debian's Chromium, headless, driven over the DevTools protocol with the JDK's own WebSocket
 * client: load a page, type into it, press keys, read the DOM and take a screenshot, as a person's
 * browser would. Started with the flags this machine's closed network needs (no background
 * networking, no component updates) and a fresh profile.
 */
final class HeadlessChromium implements AutoCloseable {

  private static final Path BINARY = Path.of("/usr/bin/chromium");

  private final Path profile;
  private final Process process;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
  /** Page.loadEventFired events so far. */
  private final AtomicInteger loads = new AtomicInteger();

  HeadlessChromium(int width, int height) throws Exception {
    if (!Files.isExecutable(BINARY)) {
      throw new IllegalStateException(BINARY + " is missing: run scripts/testbed/chromium.sh (Debian's chromium package)");
    }
    profile = Files.createTempDirectory("k8s-sync-chromium");
    process = new ProcessBuilder(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "--remote-allow-origins=*", "--user-data-dir=" + profile, "--window-size=" + width + "," + height, "about:blank")
        .redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile()).start();
    Path portFile = profile.resolve("DevToolsActivePort");
    await("chromium's DevTools port").atMost(Duration.ofSeconds(60)).until(() -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("chromium exited: " + Files.readString(profile.resolve("chromium.log")));
      }
      return Files.exists(portFile) && Files.readAllLines(portFile).size() >= 2;
    });
    int port = Integer.parseInt(Files.readAllLines(portFile).get(0).strip());
    HttpClient http = HttpClient.newHttpClient();
    JsonNode targets = StatusFixtures.JSON.readTree(http.send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + port + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body());
    String pageSocket = null;
    for (JsonNode t : targets) {
      if ("page".equals(t.path("type").asText())) {
        pageSocket = t.get("webSocketDebuggerUrl").asText();
      }
    }
    if (pageSocket == null) {
      throw new IllegalStateException("chromium has no page target: " + targets);
    }
    socket = http.newWebSocketBuilder().buildAsync(URI.create(pageSocket), new Listener()).get(30, TimeUnit.SECONDS);
    call("Page.enable", Map.of());
    call("Runtime.enable", Map.of());
  }

  private final class Listener implements WebSocket.Listener {
    private final StringBuilder text = new StringBuilder();

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      text.append(data);
      if (last) {
        String message = text.toString();
        text.setLength(0);
        try {
          JsonNode m = StatusFixtures.JSON.readTree(message);
          if (m.has("id")) {
            CompletableFuture<JsonNode> f = pending.remove(m.get("id").asInt());
            if (f != null) {
              f.complete(m);
            }
          } else if ("Page.loadEventFired".equals(m.path("method").asText())) {
            loads.incrementAndGet();
          }
        } catch (IOException e) {
          // not JSON: nothing to match
        }
      }
      ws.request(1);
      return null;
    }
  }

  /** Calls a DevTools method; returns its result, or throws with the protocol's error. */
  JsonNode call(String method, Map<String, ?> params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    pending.put(id, answer);
    ObjectNode m = StatusFixtures.JSON.createObjectNode().put("id", id).put("method", method);
    m.set("params", StatusFixtures.JSON.valueToTree(params));
    socket.sendText(m.toString(), true).get(10, TimeUnit.SECONDS);
    JsonNode r = answer.get(30, TimeUnit.SECONDS);
    if (r.has("error")) {
      throw new IllegalStateException(method + " failed: " + r.get("error"));
    }
    return r.get("result");
  }

  /** Loads {@code url} and waits for its load event. */
  void open(String url) throws Exception {
    int before = loads.get();
    call("Page.navigate", Map.of("url", url));
    awaitLoadAfter(before);
  }

  /** Runs {@code action} (which makes the page navigate) and waits for the new page's load event. */
  void navigatingBy(Action action) throws Exception {
    int before = loads.get();
    action.run();
    awaitLoadAfter(before);
  }

  interface Action {
    void run() throws Exception;
  }

  private void awaitLoadAfter(int before) {
    await("page load").atMost(Duration.ofSeconds(30)).until(() -> loads.get() > before);
  }

  /** The value of a JavaScript expression in the page (strings, numbers, booleans, arrays of them). */
  JsonNode eval(String expression) throws Exception {
    JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true));
    if (r.has("exceptionDetails")) {
      throw new IllegalStateException(expression + " threw: " + r.get("exceptionDetails"));
    }
    return r.get("result").path("value");
  }

  /** Types {@code text} where the focus is, as a keyboard would. */
  void type(String text) throws Exception {
    call("Input.insertText", Map.of("text", text));
  }

  void pressEnter() throws Exception {
    Map<String, Object> key = Map.of("key", "Enter", "code", "Enter", "windowsVirtualKeyCode", 13, "text", "\r");
    call("Input.dispatchKeyEvent", merge(key, "type", "keyDown"));
    call("Input.dispatchKeyEvent", merge(key, "type", "keyUp"));
  }

  private static Map<String, Object> merge(Map<String, Object> m, String k, Object v) {
    Map<String, Object> out = new java.util.HashMap<>(m);
    out.put(k, v);
    return out;
  }

  /** A PNG of the whole page. */
  void screenshot(Path file) throws Exception {
    JsonNode r = call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", true));
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.write(file, Base64.getDecoder().decode(r.get("data").asText()));
  }

  @Override
  public void close() throws IOException {
    try {
      socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
    } catch (RuntimeException e) {
      // already gone
    }
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(profile)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // a leftover temp profile is harmless
    }
  }

  static List<String> strings(JsonNode array) {
    List<String> out = new java.util.ArrayList<>();
    array.forEach(n -> out.add(n.asText()));
    return out;
  }
}

package io.k8ssync.sink.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import javax.net.ssl.SSLContext;

/**
 * A real HTTP server on loopback that plays a gateway: it records every call and answers from a
 * script (status, body, delay) per path prefix, 200 when the script is empty.
 */
public final class RecordingTarget implements AutoCloseable {

  public record Call(String method, String path, String rawQuery, Map<String, List<String>> headers, String body) {
    String header(String name) {
      List<String> v = headers.get(name);
      return v == null ? null : v.get(0);
    }
  }

  /**
   * An answer; when {@code hold} is set, it is sent only after the test counts it down. A
   * {@code late} one is also recorded only then: the target acts on the call after its client gave up.
   */
  public record Reply(int status, String body, java.util.concurrent.CountDownLatch hold, boolean late) {
    public Reply(int status, String body) {
      this(status, body, null);
    }

    public Reply(int status, String body, java.util.concurrent.CountDownLatch hold) {
      this(status, body, hold, false);
    }

    /** A 200 that lands (is recorded) only once {@code land} is counted down. */
    public static Reply late(java.util.concurrent.CountDownLatch land) {
      return new Reply(200, "", land, true);
    }
  }

  public final List<Call> calls = new CopyOnWriteArrayList<>();
  private final Map<String, Deque<Reply>> script = new ConcurrentHashMap<>();
  /** When set, each request waits for a permit before it is answered. */
  public volatile Semaphore gate;
  /** When set, runs for each recorded call before it is answered (e.g. to change the world mid-change). */
  public volatile java.util.function.Consumer<Call> onCall;
  private final HttpServer server;

  public RecordingTarget() throws IOException {
    this(null);
  }

  RecordingTarget(SSLContext tls) throws IOException {
    InetSocketAddress addr = new InetSocketAddress("127.0.0.1", 0);
    if (tls != null) {
      HttpsServer https = HttpsServer.create(addr, 50);
      https.setHttpsConfigurator(new HttpsConfigurator(tls));
      server = https;
    } else {
      server = HttpServer.create(addr, 50);
    }
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", this::handle);
    server.start();
  }

  public String url() {
    return (server instanceof HttpsServer ? "https" : "http") + "://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Next answers for paths starting with {@code prefix}, in order. */
  public synchronized void reply(String prefix, Reply... replies) {
    Deque<Reply> q = script.computeIfAbsent(prefix, p -> new ArrayDeque<>());
    for (Reply r : replies) {
      q.addLast(r);
    }
  }

  public List<String> kinds() {
    return calls.stream().map(c -> c.path().replaceAll("^/([^/]+).*", "$1")).toList();
  }

  private void handle(HttpExchange ex) throws IOException {
    String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    Semaphore g = gate;
    if (g != null) {
      g.acquireUninterruptibly();
    }
    Reply reply = next(ex.getRequestURI().getRawPath());
    Call call = new Call(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
        Map.copyOf(ex.getRequestHeaders()), body);
    if (!reply.late()) {
      calls.add(call);
    }
    if (reply.hold() != null) {
      try {
        reply.hold().await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (reply.late()) {
      calls.add(call);
    }
    java.util.function.Consumer<Call> hook = onCall;
    if (hook != null) {
      hook.accept(call);
    }
    byte[] out = reply.body().getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(reply.status(), out.length == 0 ? -1 : out.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(out);
    } catch (IOException e) {
      // the client gave up (timeout test)
    }
  }

  private synchronized Reply next(String path) {
    for (Map.Entry<String, Deque<Reply>> e : script.entrySet()) {
      if (path.startsWith(e.getKey()) && !e.getValue().isEmpty()) {
        return e.getValue().pollFirst();
      }
    }
    return new Reply(200, "");
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

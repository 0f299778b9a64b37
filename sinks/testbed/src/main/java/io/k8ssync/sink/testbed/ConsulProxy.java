package io.k8ssync.sink.testbed;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * An HTTP/1.1 forwarding proxy on loopback in front of a real Consul agent, between a sink and
 * Consul: it records every request ({@code METHOD path?query}), counts them by kind ({@link #kind}),
 * and can let someone else act just before the sink's next write reaches Consul. For tests that
 * assert round trips and for benchmarks that report requests per change; a reader playing nginx
 * talks to Consul directly.
 */
public final class ConsulProxy implements AutoCloseable {

  private static final Set<String> HOP_BY_HOP = Set.of("connection", "content-length", "host", "transfer-encoding", "upgrade",
      "keep-alive", "expect");

  private final HttpServer server;
  private final ExecutorService pool = Executors.newFixedThreadPool(8, r -> {
    Thread t = new Thread(r, "consul-proxy");
    t.setDaemon(true);
    return t;
  });
  private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final String upstream;
  /** Every request forwarded, {@code METHOD path?query}, in arrival order. */
  public final List<String> requests = Collections.synchronizedList(new ArrayList<>());
  /** The body of each request forwarded (UTF-8; empty for none), in the order of {@link #requests}. */
  public final List<String> bodies = Collections.synchronizedList(new ArrayList<>());
  private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
  private final AtomicReference<Runnable> beforeNextWrite = new AtomicReference<>();

  public ConsulProxy(String consulUrl) throws IOException {
    this.upstream = consulUrl;
    // Without it the JDK server's separate header and body writes meet delayed ACKs: ~40 ms a request.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    server.setExecutor(pool);
    server.createContext("/", exchange -> {
      try (exchange) {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        String query = exchange.getRequestURI().getRawQuery();
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
          body = in.readAllBytes();
        }
        synchronized (requests) {
          requests.add(method + " " + path + (query == null ? "" : "?" + query));
          bodies.add(new String(body, java.nio.charset.StandardCharsets.UTF_8));
        }
        counts.computeIfAbsent(kind(method, path, query), k -> new LongAdder()).increment();
        if (!method.equals("GET")) {
          Runnable r = beforeNextWrite.getAndSet(null);
          if (r != null) {
            r.run();
          }
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream + path + (query == null ? "" : "?" + query)))
            .method(method, body.length == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
        exchange.getRequestHeaders().forEach((name, values) -> {
          if (!HOP_BY_HOP.contains(name.toLowerCase())) {
            values.forEach(v -> b.header(name, v));
          }
        });
        HttpResponse<byte[]> r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        r.headers().map().forEach((name, values) -> {
          if (!HOP_BY_HOP.contains(name.toLowerCase()) && !name.startsWith(":")) {
            exchange.getResponseHeaders().put(name, values);
          }
        });
        exchange.sendResponseHeaders(r.statusCode(), r.body().length == 0 ? -1 : r.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(r.body());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    server.start();
  }

  /** {@code txn}, {@code kv GET|PUT|DELETE}, {@code blocking} (a KV read with {@code index=}) or {@code other}. */
  public static String kind(String method, String path, String query) {
    if (path.startsWith("/v1/txn")) {
      return "txn";
    }
    if (!path.startsWith("/v1/kv/")) {
      return "other";
    }
    if (method.equals("GET") && query != null && query.matches("(.*&)?index=.*")) {
      return "blocking";
    }
    return "kv " + method;
  }

  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Runs {@code r} once, just before the next PUT or DELETE is forwarded. */
  public void beforeNextWrite(Runnable r) {
    beforeNextWrite.set(r);
  }

  /** Requests so far that start with {@code prefix} ({@code METHOD path?query}). */
  public long count(String prefix) {
    synchronized (requests) {
      return requests.stream().filter(q -> q.startsWith(prefix)).count();
    }
  }

  /** Requests so far, by kind. */
  public Map<String, Long> counts() {
    Map<String, Long> out = new TreeMap<>();
    counts.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  /** Requests between two {@link #counts()}, by kind, with their total. */
  public static Map<String, Long> since(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> out = new TreeMap<>();
    long total = 0;
    for (Map.Entry<String, Long> e : after.entrySet()) {
      long d = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      if (d > 0) {
        out.put(e.getKey(), d);
        total += d;
      }
    }
    out.put("total", total);
    return out;
  }

  @Override
  public void close() {
    server.stop(0);
    pool.shutdownNow();
  }
}

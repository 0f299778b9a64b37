package io.k8ssync.sink.consul;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

/**
 * An HTTP proxy in front of a real Consul agent that records every request the sink sends
 * ({@code METHOD path?query}) and can let someone else act just before the sink's next write
 * reaches Consul. Loopback only.
 */
final class ConsulProxy implements AutoCloseable {

  private static final Set<String> HOP_BY_HOP = Set.of("connection", "content-length", "host", "transfer-encoding", "upgrade",
      "keep-alive", "expect");

  private final HttpServer server;
  private final HttpClient client = HttpClient.newHttpClient();
  private final String upstream;
  final List<String> requests = new CopyOnWriteArrayList<>();
  private final AtomicReference<Runnable> beforeNextWrite = new AtomicReference<>();

  ConsulProxy(String consulUrl) throws IOException {
    this.upstream = consulUrl;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/", exchange -> {
      try (exchange) {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        String query = exchange.getRequestURI().getRawQuery();
        requests.add(method + " " + path + (query == null ? "" : "?" + query));
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
          body = in.readAllBytes();
        }
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

  String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  /** Runs {@code r} once, just before the next PUT or DELETE is forwarded. */
  void beforeNextWrite(Runnable r) {
    beforeNextWrite.set(r);
  }

  long count(String prefix) {
    return requests.stream().filter(q -> q.startsWith(prefix)).count();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

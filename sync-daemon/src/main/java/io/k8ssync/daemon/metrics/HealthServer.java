package io.k8ssync.daemon.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.prometheus.metrics.exporter.httpserver.MetricsHandler;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * {@code /metrics} (Prometheus text format), {@code /healthz} (the process is alive and not
 * shutting down) and {@code /readyz} (informers synced and no sink failing; the body says which
 * part is not).
 */
public final class HealthServer implements AutoCloseable {

  static {
    // The JDK server leaves Nagle on: with delayed ACKs every small answer (a probe, a status query,
    // an offline wait) then takes ~40 ms. Read once, when the server class loads; a -D wins.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
  }

  /** The answer of /readyz: ready or not, and a JSON body explaining it. */
  public record Readiness(boolean ready, String json) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private volatile boolean alive = true;

  public HealthServer(String host, int port, DaemonMetrics metrics, Supplier<Readiness> readiness) throws IOException {
    server = HttpServer.create(new InetSocketAddress(host, port), 16);
    executor = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/metrics", new MetricsHandler(metrics.registry()));
    server.createContext("/healthz", ex -> respond(ex, alive ? 200 : 503, alive ? "ok\n" : "shutting down\n", "text/plain"));
    server.createContext("/readyz", ex -> {
      Readiness r = readiness.get();
      respond(ex, r.ready() ? 200 : 503, r.json() + "\n", "application/json");
    });
  }

  /**
   * Serves {@code path} (and what lies under it) with {@code handler}; call before {@link #start}.
   * The handler may keep the exchange and answer it later from another thread (a long wait must
   * not hold one of the server's two threads).
   */
  public void route(String path, com.sun.net.httpserver.HttpHandler handler) {
    server.createContext(path, handler);
  }

  public void start() {
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  /** /healthz answers 503 from now on. */
  public void shuttingDown() {
    alive = false;
  }

  /** Answers {@code ex} with {@code body} and closes it. */
  public static void respond(HttpExchange ex, int status, String body, String type) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
    ex.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}

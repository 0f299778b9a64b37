package io.k8ssync.sink.testbed;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pod's server, played on a loopback address (127.0.0.x: the whole /8 reaches this host), that
 * answers every request 200 with its own name. {@link #stop()} closes it at once, as a killed
 * container would: nginx then gets connection refused.
 */
public final class HttpBackend implements AutoCloseable {

  private final String name;
  private final String ip;
  private final HttpServer server;
  private final AtomicLong served = new AtomicLong();

  private HttpBackend(String name, String ip, int port) {
    this.name = name;
    this.ip = ip;
    try {
      server = HttpServer.create(new InetSocketAddress(ip, port), 256);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on " + ip + ":" + port, e);
    }
    server.setExecutor(Executors.newFixedThreadPool(4, r -> {
      Thread t = new Thread(r, "backend-" + name);
      t.setDaemon(true);
      return t;
    }));
    byte[] body = name.getBytes(StandardCharsets.UTF_8);
    server.createContext("/", x -> {
      served.incrementAndGet();
      x.getRequestBody().readAllBytes();
      x.sendResponseHeaders(200, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    server.start();
  }

  /** A backend called {@code name} listening on {@code ip:port}. */
  public static HttpBackend started(String name, String ip, int port) {
    return new HttpBackend(name, ip, port);
  }

  public String name() {
    return name;
  }

  public String ip() {
    return ip;
  }

  public long served() {
    return served.get();
  }

  public void stop() {
    server.stop(0);
    ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
  }

  @Override
  public void close() {
    stop();
  }
}

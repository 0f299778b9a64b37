package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Requests sent without pause through a proxy (nginx) by a few threads, each on a new connection
 * (HTTP/1.0, no keep-alive: a reload that closes an idle kept-alive connection would be the
 * client's race, not a routing error): counts the 200s by the backend that answered, and every
 * other outcome as a failure with what happened.
 */
public final class RequestLoop implements AutoCloseable {

  private final String host;
  private final int port;
  private final String path;
  private final List<Thread> threads = new CopyOnWriteArrayList<>();
  private final Map<String, LongAdder> byBackend = new ConcurrentHashMap<>();
  private final LongAdder ok = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final List<String> failures = new CopyOnWriteArrayList<>();
  private final AtomicLong lastFailureAt = new AtomicLong();
  private volatile boolean running = true;

  private RequestLoop(String host, int port, String path) {
    this.host = host;
    this.port = port;
    this.path = path;
  }

  /** Starts {@code threads} loops of GET {@code path} on {@code 127.0.0.1:port}. */
  public static RequestLoop started(int port, String path, int threads) {
    RequestLoop l = new RequestLoop("127.0.0.1", port, path);
    for (int i = 0; i < threads; i++) {
      Thread t = new Thread(l::loop, "requests-" + i);
      t.setDaemon(true);
      l.threads.add(t);
      t.start();
    }
    return l;
  }

  private void loop() {
    while (running) {
      String answer = get(host, port, path);
      if (answer.startsWith("200 ")) {
        ok.increment();
        byBackend.computeIfAbsent(answer.substring(4), k -> new LongAdder()).increment();
      } else if (running) {
        failed.increment();
        lastFailureAt.set(System.currentTimeMillis());
        if (failures.size() < 50) {
          failures.add(answer);
        }
      }
    }
  }

  /** One GET: "200 <body>" or "<status> <body>" or "error <what>". */
  public static String get(String host, int port, String path) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 2000);
      s.setSoTimeout(15_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.0\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      int sp = response.indexOf(' ');
      if (sp < 0 || response.length() < sp + 4) {
        return "error short response: " + response;
      }
      String status = response.substring(sp + 1, sp + 4);
      int body = response.indexOf("\r\n\r\n");
      String text = body < 0 ? "" : response.substring(body + 4).strip();
      return status + " " + (status.equals("200") ? text : text.replaceAll("\\s+", " ").substring(0, Math.min(80, text.length())));
    } catch (IOException e) {
      return "error " + e;
    }
  }

  public long ok() {
    return ok.sum();
  }

  public long failed() {
    return failed.sum();
  }

  /** Up to 50 failed answers, as {@link #get} returned them. */
  public List<String> failures() {
    return List.copyOf(failures);
  }

  /** Successful answers by backend name. */
  public Map<String, Long> byBackend() {
    Map<String, Long> out = new java.util.TreeMap<>();
    byBackend.forEach((k, v) -> out.put(k, v.sum()));
    return out;
  }

  /** Forgets the counts so far (after a warm-up). */
  public void reset() {
    ok.reset();
    failed.reset();
    failures.clear();
    byBackend.clear();
  }

  @Override
  public void close() {
    running = false;
    for (Thread t : threads) {
      try {
        t.join(20_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}

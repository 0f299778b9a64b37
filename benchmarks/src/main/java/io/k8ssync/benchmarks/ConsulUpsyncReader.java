package io.k8ssync.benchmarks;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * nginx-upsync's Consul read: the blocking query {@code GET /v1/kv/<prefix>?recurse&index=N}, the
 * whole upstream in every answer, and a comparison with what it held before. What differs from
 * upsync (C, cJSON, on nginx's cores): the answer is scanned with a streaming parser, an entry's
 * value is decoded only when its {@code ModifyIndex} is past the index asked with or the key is new,
 * and the next query goes out at once, where upsync paces its pulls with {@code upsync_interval}
 * (500 ms in its README's example) — so this measures when the registry shows a change, not upsync's pacing.
 * Being Java, it reads the unchanged upstream 300 times before the churn, so its JIT is not in the figures.
 */
final class ConsulUpsyncReader implements NginxStandIn.UpstreamReader {

  private static final JsonFactory JSON = new JsonFactory();
  /** Reads of the unchanged upstream before the churn, to compile the reader first. */
  private static final int WARM_UP_READS = 300;

  private final String url;
  private final String prefix;
  private final AtomicBoolean running = new AtomicBoolean(true);
  /** Per key: up ({@code down:0}) or not, and the answer it was last in. Owned by the reading thread. */
  private final Map<String, Entry> held = new HashMap<>();
  private long answer;
  private long index;
  /** Answers read, their bytes, time from each query to its answer's last byte, and scanning it; read by stats(). */
  private volatile long answers;
  private volatile long bytes;
  private volatile long queryNanos;
  private volatile long scanNanos;

  private static final class Entry {
    boolean up;
    long answer;
  }

  ConsulUpsyncReader(String url, String prefix) {
    this.url = url;
    this.prefix = prefix;
  }

  @Override
  public void start(NginxStandIn.Seen seen) throws Exception {
    read(null, false); // the state at start, not reported
    // nginx has no JIT: the stand-in's parse and HTTP paths are compiled before the churn, not during it.
    for (int i = 0; i < WARM_UP_READS; i++) {
      read(null, true);
    }
    answers = 0;
    bytes = 0;
    queryNanos = 0;
    scanNanos = 0;
    Thread t = new Thread(() -> {
      while (running.get()) {
        try {
          read(seen, false);
        } catch (Exception e) {
          // keep polling, as upsync does; one bad answer does not stop nginx
        }
      }
    }, "consul-upsync-reader");
    t.setDaemon(true);
    t.start();
  }

  /** @param warmUp ask with index 0 (an answer at once) and keep the index: the state is read again, nothing reported */
  private void read(NginxStandIn.Seen seen, boolean warmUp) throws Exception {
    long asked = warmUp ? 0 : index;
    long sent = System.nanoTime();
    // Blocking, on this thread, over a kept-alive connection, as nginx's event loop reads: no client threads between.
    HttpURLConnection c = (HttpURLConnection) URI.create(url + "/v1/kv/" + prefix + "?recurse&index=" + asked + "&wait=10s").toURL()
        .openConnection();
    c.setReadTimeout(20_000);
    int status = c.getResponseCode();
    byte[] body;
    try (InputStream in = status == 200 ? c.getInputStream() : c.getErrorStream()) {
      body = in == null ? new byte[0] : in.readAllBytes();
    }
    long received = System.nanoTime();
    String header = c.getHeaderField("X-Consul-Index");
    long next = header == null ? asked : Long.parseLong(header);
    // Consul's rule for blocking queries: an index that went backwards starts over from 0.
    if (!warmUp) {
      index = next < asked ? 0 : next;
    }
    if (status != 200) {
      return;
    }
    long previous = answer++;
    java.util.List<String> up = new java.util.ArrayList<>();
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_ARRAY) {
        return;
      }
      while (p.nextToken() == JsonToken.START_OBJECT) {
        String key = null;
        String value = null;
        long modify = 0;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String field = p.currentName();
          JsonToken v = p.nextToken();
          switch (field) {
            case "Key" -> key = p.getText();
            case "Value" -> value = v == JsonToken.VALUE_NULL ? null : p.getText();
            case "ModifyIndex" -> modify = p.getLongValue();
            default -> p.skipChildren();
          }
        }
        if (key == null) {
          continue;
        }
        Entry e = held.computeIfAbsent(key.substring(key.lastIndexOf('/') + 1), k -> new Entry());
        boolean wasThere = e.answer == previous && previous != 0;
        e.answer = answer;
        if (wasThere && modify <= asked) {
          continue; // unchanged since the last answer
        }
        boolean isUp = value != null && new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8).contains("\"down\":0");
        if (isUp && !(wasThere && e.up)) {
          up.add(key.substring(key.lastIndexOf('/') + 1));
        }
        e.up = isUp;
      }
    }
    // Visible once the whole answer is read, as in nginx after upsync applied it.
    long now = System.nanoTime();
    answers++;
    bytes += body.length;
    queryNanos += received - sent;
    scanNanos += now - received;
    if (seen != null) {
      for (String address : up) {
        seen.seen(address, now);
      }
    }
  }

  @Override
  public String stats() {
    long n = Math.max(1, answers);
    return String.format("%d answers of %.0f KB on average; query to last byte %.2f ms (blocking wait included), scan %.2f ms on average",
        answers, bytes / 1024.0 / n, queryNanos / 1e6 / n, scanNanos / 1e6 / n);
  }

  @Override
  public void close() {
    running.set(false);
  }
}

package io.k8ssync.sink.log;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.template.Template;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints each change as one JSON object per line: what happened, and whether the pod went online
 * or offline under the shared registration rule. Useful to watch what the daemon sees, and as the
 * reference for a new sink: it needs nothing but the SPI and the JDK.
 */
final class LogSink implements Sink {

  private final SinkContext context;
  private final PrintStream out;
  private final boolean onlyRegistration;

  LogSink(SinkContext context, PrintStream out, boolean onlyRegistration) {
    this.context = context;
    this.out = out;
    this.onlyRegistration = onlyRegistration;
  }

  @Override
  public void apply(List<PodChange> batch) {
    for (String line : lines(batch)) {
      out.println(line);
    }
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    return lines(batch).stream().map(l -> "print " + l).toList();
  }

  private List<String> lines(List<PodChange> batch) {
    List<String> lines = new ArrayList<>(batch.size());
    for (PodChange c : batch) {
      boolean wasOnline = context.desiredOnline(c.before());
      boolean online = context.desiredOnline(c.after());
      String removed = Registration.addressToRemove(c, context.selector());
      if (onlyRegistration && wasOnline == online && removed == null) {
        continue;
      }
      PodState p = c.latest();
      Json n = new Json()
          .put("ts", Instant.now(context.clock()).toString())
          .put("sink", context.name())
          .put("transition", c.transition().name())
          .put("pod", c.key())
          .put("uid", p.uid())
          .put("service", p.service())
          .put("address", p.address())
          .put("phase", p.phase().name())
          .put("ready", p.ready())
          .put("terminating", p.terminating())
          .put("online", online);
      if (online && !wasOnline) {
        n.put("action", "online");
      } else if (removed != null) {
        n.put("action", "offline").put("offlineAddress", removed);
      }
      if (p.rejection() != null) {
        n.put("rejection", p.rejection());
      }
      lines.add(n.toString());
    }
    return lines;
  }

  /** One flat JSON object, built in order; strings escaped by the SPI's JSON escaper. */
  private static final class Json {
    private final StringBuilder b = new StringBuilder("{");

    Json put(String key, String value) {
      return raw(key, value == null ? "null" : "\"" + Template.jsonEscape(value) + "\"");
    }

    Json put(String key, boolean value) {
      return raw(key, String.valueOf(value));
    }

    private Json raw(String key, String json) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append('"').append(key).append("\":").append(json);
      return this;
    }

    @Override
    public String toString() {
      return b + "}";
    }
  }

  @Override
  public void close() {
    out.flush();
  }
}

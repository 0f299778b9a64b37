package io.k8ssync.daemon.logsink;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import java.io.PrintStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints each change as one JSON object per line: what happened, and whether the pod went online
 * or offline under the shared registration rule. Useful to watch what the daemon sees, and as the
 * reference for a new sink.
 */
final class LogSink implements Sink {

  private static final ObjectMapper JSON = new ObjectMapper();

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
      ObjectNode n = JSON.createObjectNode();
      n.put("ts", Instant.now(context.clock()).toString());
      n.put("sink", context.name());
      n.put("transition", c.transition().name());
      n.put("pod", c.key());
      PodState p = c.latest();
      n.put("uid", p.uid());
      n.put("service", p.service());
      n.put("address", p.address());
      n.put("phase", p.phase().name());
      n.put("ready", p.ready());
      n.put("terminating", p.terminating());
      n.put("online", online);
      if (online && !wasOnline) {
        n.put("action", "online");
      } else if (removed != null) {
        n.put("action", "offline");
        n.put("offlineAddress", removed);
      }
      if (p.rejection() != null) {
        n.put("rejection", p.rejection());
      }
      try {
        lines.add(JSON.writeValueAsString(n));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
    return lines;
  }

  @Override
  public void close() {
    out.flush();
  }
}

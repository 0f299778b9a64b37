package io.k8ssync.sink.kafka;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Transition;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;

/**
 * Pod changes as CloudEvents 1.0 in the structured JSON format.
 *
 * <p>The shape is fixed, so it is written by hand into one buffer per batch ({@link Writer}): the
 * event's constant parts are literals, a string needing no escape is copied whole, and the time is
 * rendered once per batch. Rendering was the sink's largest cost (JFR: a third of the samples, most
 * of them growing builders and escaping strings char by char). Escaping is {@code Template.jsonEscape}'s:
 * quote, backslash, control characters, {@code < > &} and U+2028/2029.
 */
final class PodEvents {

  private PodEvents() {}

  /** The CloudEvents type of a transition, or null when it is not emitted. */
  static String type(Transition t, boolean includeUpdated) {
    switch (t) {
      case ADDED: return "io.k8ssync.pod.added";
      case BECAME_READY: return "io.k8ssync.pod.ready";
      case BECAME_UNREADY: return "io.k8ssync.pod.unready";
      case TERMINATING: return "io.k8ssync.pod.terminating";
      case ADDRESS_CHANGED: return "io.k8ssync.pod.address-changed";
      case DELETED: return "io.k8ssync.pod.deleted";
      default: return includeUpdated ? "io.k8ssync.pod.updated" : null;
    }
  }

  /** Deterministic: the same change always has the same id, so consumers can drop duplicates. */
  static String id(PodChange c, String type) {
    PodState p = c.latest();
    return p.uid() + ":" + p.resourceVersion() + ":" + type.substring(type.lastIndexOf('.') + 1);
  }

  static String json(PodChange c, String type, Instant time) {
    return new Writer(time).json(c, type);
  }

  /**
   * Renders the events of one batch, all with the same time. Not thread-safe: one per batch (a
   * worker's), its buffer reused from event to event.
   */
  static final class Writer {

    private final String time;
    private final StringBuilder out = new StringBuilder(1024);

    Writer(Instant time) {
      this.time = time.toString();
    }

    String json(PodChange c, String type) {
      PodState p = c.latest();
      out.setLength(0);
      out.append("{\"specversion\":\"1.0\",\"id\":\"");
      escaped(p.uid());
      out.append(':');
      escaped(p.resourceVersion() == null ? "null" : p.resourceVersion());
      out.append(':');
      escaped(type.substring(type.lastIndexOf('.') + 1));
      out.append("\",\"source\":\"/k8s-sync/");
      escaped(p.cluster() == null ? "null" : p.cluster());
      out.append("\",\"type\":");
      string(type);
      out.append(",\"subject\":\"");
      escaped(p.namespace() == null ? "null" : p.namespace());
      out.append('/');
      escaped(p.name() == null ? "null" : p.name());
      out.append("\",\"time\":");
      string(time);
      out.append(",\"datacontenttype\":\"application/json\",\"data\":{\"before\":");
      state(c.before());
      out.append(",\"after\":");
      state(c.after());
      return out.append("}}").toString();
    }

    private void state(PodState p) {
      if (p == null) {
        out.append("null");
        return;
      }
      out.append("{\"cluster\":");
      string(p.cluster());
      out.append(",\"namespace\":");
      string(p.namespace());
      out.append(",\"name\":");
      string(p.name());
      out.append(",\"uid\":");
      string(p.uid());
      out.append(",\"service\":");
      string(p.service());
      out.append(",\"ip\":");
      string(p.ip());
      out.append(",\"port\":").append(p.port());
      out.append(",\"node\":");
      string(p.node());
      out.append(",\"phase\":");
      string(p.phase().name());
      out.append(",\"ready\":").append(p.ready());
      out.append(",\"terminating\":").append(p.terminating());
      out.append(",\"weight\":").append(p.weight());
      out.append(",\"resourceVersion\":");
      string(p.resourceVersion());
      out.append(",\"labels\":{");
      labels(p.labels());
      out.append("}}");
    }

    /** Labels sorted by key, as before; keys are escaped too (Kubernetes' key syntax leaves nothing to escape). */
    private void labels(Map<String, String> labels) {
      if (labels.isEmpty()) {
        return;
      }
      String[] keys = labels.keySet().toArray(new String[0]);
      Arrays.sort(keys);
      for (int i = 0; i < keys.length; i++) {
        if (i > 0) {
          out.append(',');
        }
        string(keys[i]);
        out.append(':');
        string(labels.get(keys[i]));
      }
    }

    /** A JSON string, or null. */
    private void string(String value) {
      if (value == null) {
        out.append("null");
      } else {
        out.append('"');
        escaped(value);
        out.append('"');
      }
    }

    private void escaped(String value) {
      int n = value.length();
      int i = 0;
      while (i < n && plain(value.charAt(i))) {
        i++;
      }
      if (i == n) {
        out.append(value); // one array copy; append(value, 0, i) copies char by char
        return;
      }
      out.append(value, 0, i);
      for (; i < n; i++) {
        char c = value.charAt(i);
        if (plain(c)) {
          out.append(c);
          continue;
        }
        switch (c) {
          case '"' -> out.append("\\\"");
          case '\\' -> out.append("\\\\");
          case '\n' -> out.append("\\n");
          case '\r' -> out.append("\\r");
          case '\t' -> out.append("\\t");
          case '<' -> out.append("\\u003c");
          case '>' -> out.append("\\u003e");
          case '&' -> out.append("\\u0026");
          default -> out.append("\\u").append(HEX[c >> 12 & 15]).append(HEX[c >> 8 & 15]).append(HEX[c >> 4 & 15]).append(HEX[c & 15]);
        }
      }
    }

    private static boolean plain(char c) {
      return c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0x2028 && c != 0x2029;
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();
  }
}

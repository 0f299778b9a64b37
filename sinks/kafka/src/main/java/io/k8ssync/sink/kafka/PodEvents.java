package io.k8ssync.sink.kafka;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Transition;
import io.k8ssync.sink.template.Template;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/** Pod changes as CloudEvents 1.0 in the structured JSON format. */
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
    PodState p = c.latest();
    StringBuilder out = new StringBuilder(512).append('{');
    field(out, "specversion", "1.0").append(',');
    field(out, "id", id(c, type)).append(',');
    field(out, "source", "/k8s-sync/" + p.cluster()).append(',');
    field(out, "type", type).append(',');
    field(out, "subject", p.namespace() + "/" + p.name()).append(',');
    field(out, "time", time.toString()).append(',');
    field(out, "datacontenttype", "application/json").append(',');
    out.append("\"data\":{\"before\":");
    state(out, c.before());
    out.append(",\"after\":");
    state(out, c.after());
    return out.append("}}").toString();
  }

  private static void state(StringBuilder out, PodState p) {
    if (p == null) {
      out.append("null");
      return;
    }
    out.append('{');
    field(out, "cluster", p.cluster()).append(',');
    field(out, "namespace", p.namespace()).append(',');
    field(out, "name", p.name()).append(',');
    field(out, "uid", p.uid()).append(',');
    field(out, "service", p.service()).append(',');
    field(out, "ip", p.ip()).append(',');
    out.append("\"port\":").append(p.port()).append(',');
    field(out, "node", p.node()).append(',');
    field(out, "phase", p.phase().name()).append(',');
    out.append("\"ready\":").append(p.ready()).append(',');
    out.append("\"terminating\":").append(p.terminating()).append(',');
    out.append("\"weight\":").append(p.weight()).append(',');
    field(out, "resourceVersion", p.resourceVersion()).append(',');
    out.append("\"labels\":");
    map(out, p.labels());
    out.append('}');
  }

  private static StringBuilder field(StringBuilder out, String name, String value) {
    out.append('"').append(name).append("\":");
    return value == null ? out.append("null") : out.append('"').append(Template.jsonEscape(value)).append('"');
  }

  private static void map(StringBuilder out, Map<String, String> m) {
    out.append('{');
    boolean first = true;
    for (Map.Entry<String, String> e : new TreeMap<>(m).entrySet()) {
      if (!first) {
        out.append(',');
      }
      first = false;
      field(out, e.getKey(), e.getValue());
    }
    out.append('}');
  }
}

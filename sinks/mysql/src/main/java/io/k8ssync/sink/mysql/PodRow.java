package io.k8ssync.sink.mysql;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.template.Template;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the row of a pod says, derived from its state in one place, so that a write and a reconcile
 * pass agree on it. A rejected pod (a label or annotation failed validation) keeps its row, so it is
 * still found by IP, but the row is never ready and {@code rejected} says which field failed and why,
 * never the value: the queries people run for live pods filter {@code rejected IS NULL}.
 */
final class PodRow {

  /** Columns in the order the upsert binds them; resource_version last, as the upsert's guard needs. */
  static final String[] COLUMNS = {"uid", "cluster", "owner", "namespace", "name", "service", "ip", "host_ip", "node", "phase",
      "ready", "terminating", "rejected", "labels", "created_at", "ready_since", "deleted_at", "updated_at", "resource_version"};

  /** The width of the {@code rejected} column (migration 2). */
  static final int REJECTED_LENGTH = 512;

  private PodRow() {}

  static boolean ready(PodState p) {
    return p.ready() && !p.rejected();
  }

  /** 0 (NULL) whenever the row is not ready, as for a pod Kubernetes does not call ready. */
  static long readySince(PodState p) {
    return ready(p) ? p.readySinceMillis() : 0;
  }

  /** PodProjector's rejection: the field and the reason, never the value; null for an accepted pod. */
  static String rejected(PodState p) {
    String why = p.rejection();
    return why == null || why.length() <= REJECTED_LENGTH ? why : why.substring(0, REJECTED_LENGTH);
  }

  /**
   * A DATETIME value: {@code millis} in the JVM's time zone, as the driver renders a {@code Timestamp}
   * without connectionTimeZone. Bound as a LocalDateTime because the driver formats a Timestamp with a new
   * SimpleDateFormat and Calendar per value, which was the writer's largest client-side cost (JFR). Every
   * statement of the sink binds its times here, so writes, purges and passes agree on one zone.
   */
  static LocalDateTime time(long millis) {
    return LocalDateTime.ofInstant(Instant.ofEpochMilli(millis), ZoneId.systemDefault());
  }

  static String labels(PodState p) {
    return json(p.labels());
  }

  private static String json(Map<String, String> labels) {
    StringBuilder out = new StringBuilder("{");
    new TreeMap<>(labels).forEach((k, v) -> out.append(out.length() > 1 ? "," : "").append('"').append(Template.jsonEscape(k))
        .append("\":\"").append(Template.jsonEscape(v)).append('"'));
    return out.append('}').toString();
  }
}

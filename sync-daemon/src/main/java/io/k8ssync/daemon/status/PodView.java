package io.k8ssync.daemon.status;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Map;

/**
 * One pod as the status API shows it: its state in the cache, why it is rejected (the field, never
 * the value), and where it stands in each sink. {@code gone} pods were deleted from Kubernetes but
 * a sink still holds them (not yet offline there).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PodView(String cluster, String namespace, String name, String uid, String service, String ip, Integer port,
                      String node, String phase, boolean ready, boolean terminating, boolean gone, Rejection rejection,
                      Map<String, InSink> sinks) {

  /** Why k8s-sync registers the pod nowhere: the field at fault and what is wrong with it. */
  public record Rejection(String field, String reason) {

    /** Splits the cache's rejection text (which never holds the rejected value) into field and reason. */
    static Rejection of(String text) {
      if (text == null) {
        return null;
      }
      int end;
      if (text.startsWith("service (") && text.indexOf(") ") > 0) {
        end = text.indexOf(") ") + 1;
      } else if (text.startsWith("annotation ") && text.indexOf(' ', 11) > 0) {
        end = text.indexOf(' ', 11);
      } else {
        int space = text.indexOf(' ');
        end = space < 0 ? text.length() : space;
      }
      String field = text.substring(0, end);
      String reason = text.substring(end).strip();
      if (field.endsWith(":")) {
        field = field.substring(0, field.length() - 1);
      }
      return new Rejection(field, reason);
    }
  }

  /**
   * Where the pod stands in one sink: {@code state} (see {@link SinkPodState}), what the sink
   * {@code want}s (online or offline), whether its selector picks the pod, the sink's last report
   * and since when (ISO-8601), its last error and failed attempts in a row, and whether a change of
   * the pod waits in the sink's queue.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record InSink(String state, String want, boolean selected, String reported, String since, String lastError,
                       Integer attempts, Boolean queued) {}
}

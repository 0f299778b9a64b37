package io.k8ssync.sink;

import java.util.Map;
import java.util.Objects;

/**
 * The only shape of a pod that any sink sees: a compact, immutable projection of a Kubernetes Pod.
 *
 * <p>{@code service} is the logical application (shared by a canary and a stable Deployment); it is
 * {@code null} when the pod carries no service identity, and {@code rejection} says why when the
 * pod carried one that failed validation. Values pod owners control (service, options, kept labels
 * and annotations) have been validated before they reach this record. Times are epoch millis, 0
 * when absent, to keep a cached pod small.
 */
public record PodState(
    String cluster,
    String namespace,
    String name,
    String uid,
    String service,
    String ip,
    String hostIp,
    int port,
    String node,
    Phase phase,
    boolean ready,
    boolean terminating,
    int weight,
    Map<String, String> options,
    Map<String, String> labels,
    Map<String, String> annotations,
    String resourceVersion,
    long createdAtMillis,
    long readySinceMillis,
    String rejection) {

  /** Pod phase as reported by the API server. */
  public enum Phase {
    PENDING, RUNNING, SUCCEEDED, FAILED, UNKNOWN;

    public static Phase of(String apiValue) {
      if (apiValue == null) {
        return UNKNOWN;
      }
      switch (apiValue) {
        case "Pending": return PENDING;
        case "Running": return RUNNING;
        case "Succeeded": return SUCCEEDED;
        case "Failed": return FAILED;
        default: return UNKNOWN;
      }
    }
  }

  public PodState {
    Objects.requireNonNull(cluster, "cluster");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(uid, "uid");
    Objects.requireNonNull(phase, "phase");
    options = options == null ? Map.of() : options;
    labels = labels == null ? Map.of() : labels;
    annotations = annotations == null ? Map.of() : annotations;
  }

  /** The key that orders all changes of one pod: {@code cluster/namespace/name}. */
  public String key() {
    return key(cluster, namespace, name);
  }

  public static String key(String cluster, String namespace, String name) {
    return cluster + '/' + namespace + '/' + name;
  }

  /** {@code ip:port}, the address registries publish; {@code null} when either part is missing. */
  public String address() {
    return ip == null || ip.isEmpty() || port <= 0 ? null : ip + ':' + port;
  }

  public boolean rejected() {
    return rejection != null;
  }

  /**
   * True when the two states differ in nothing a sink can act on: everything but the
   * resourceVersion is equal. A relist or a status heartbeat produces such pairs.
   */
  public boolean sameAs(PodState other) {
    return other != null
        && ready == other.ready
        && terminating == other.terminating
        && port == other.port
        && weight == other.weight
        && createdAtMillis == other.createdAtMillis
        && readySinceMillis == other.readySinceMillis
        && phase == other.phase
        && cluster.equals(other.cluster)
        && namespace.equals(other.namespace)
        && name.equals(other.name)
        && uid.equals(other.uid)
        && Objects.equals(service, other.service)
        && Objects.equals(ip, other.ip)
        && Objects.equals(hostIp, other.hostIp)
        && Objects.equals(node, other.node)
        && Objects.equals(rejection, other.rejection)
        && options.equals(other.options)
        && labels.equals(other.labels)
        && annotations.equals(other.annotations);
  }
}

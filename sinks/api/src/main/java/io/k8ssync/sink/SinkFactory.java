package io.k8ssync.sink;

import io.k8ssync.sink.config.ConfigDef;

/**
 * Creates sinks of one type. Implementations are found with {@link java.util.ServiceLoader}: list
 * the class in {@code META-INF/services/io.k8ssync.sink.SinkFactory} and drop the jar on the class
 * path.
 */
public interface SinkFactory {

  /** The name used as {@code type:} in the config, e.g. {@code zookeeper}. Lowercase. */
  String type();

  /** The keys this sink accepts under {@code config:}, with types, defaults and docs. */
  ConfigDef configDef();

  /**
   * The key of {@link #configDef()} (a duration) that bounds one call to the sink's system, or null
   * when it has none. With leader election a write starts only while the Lease leaves more than
   * that ({@code SinkContext.writeBudget}), so the daemon refuses a config where it never could.
   */
  default String callTimeoutKey() {
    return null;
  }

  /**
   * True for a sink that sends traffic to pods (a registry nginx reads, a gateway, an RPC registry,
   * an nginx upstream file). Such a sink reports each pod's {@link Progress}, and by default takes
   * part in the readiness gate (a gated pod turns Ready once every such sink has it online) and in
   * the preStop offline wait (which returns once every such sink has it offline).
   */
  default boolean routesTraffic() {
    return false;
  }

  /**
   * True for a sink that writes only state local to the replica that runs it (an upstream file
   * beside that host's nginx): it applies every change on every replica, leader or standby, and its
   * {@code SinkContext.leads} is always true. A sink writing a shared system returns false (the
   * default): with leader election only the leader of a cluster writes its pods there.
   */
  default boolean appliesOnEveryReplica() {
    return false;
  }

  /** A new, not yet started sink. The context carries the validated config. */
  Sink create(SinkContext context);
}

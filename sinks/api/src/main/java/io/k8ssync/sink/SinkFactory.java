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

  /** A new, not yet started sink. The context carries the validated config. */
  Sink create(SinkContext context);
}

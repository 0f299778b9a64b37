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

  /** A new, not yet started sink. The context carries the validated config. */
  Sink create(SinkContext context);
}

package io.k8ssync.daemon.testing;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;

/**
 * A recording sink of local state (type {@code recording-local}), as an upstream file beside a
 * host's nginx is: it applies on every replica. It also records what its context says about
 * leading, at each apply. Looked up with {@link RecordingSinkFactory#get}.
 */
public final class LocalRecordingSinkFactory implements SinkFactory {

  @Override
  public String type() {
    return "recording-local";
  }

  @Override
  public ConfigDef configDef() {
    return RecordingSinkFactory.CONFIG;
  }

  @Override
  public boolean appliesOnEveryReplica() {
    return true;
  }

  @Override
  public Sink create(SinkContext context) {
    return RecordingSinkFactory.register(context, new RecordingSinkFactory.Recording(context.config().getInt("batch"), context));
  }
}

package io.k8ssync.sink.log;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Validator;

/** The built-in {@code log} sink: one JSON line per pod change on standard output or error. */
public final class LogSinkFactory implements SinkFactory {

  static final ConfigDef CONFIG = new ConfigDef()
      .define("stream", ConfigDef.Type.STRING, "stdout", Validator.oneOf("stdout", "stderr"),
          "where the lines go")
      .define("onlyRegistrationChanges", ConfigDef.Type.BOOLEAN, false,
          "print only changes that move a pod online or offline");

  @Override
  public String type() {
    return "log";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    boolean stderr = context.config().getString("stream").equals("stderr");
    return new LogSink(context, stderr ? System.err : System.out, context.config().getBoolean("onlyRegistrationChanges"));
  }
}

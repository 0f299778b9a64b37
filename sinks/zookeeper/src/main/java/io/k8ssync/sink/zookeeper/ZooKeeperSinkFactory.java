package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Secret;
import io.k8ssync.sink.config.Validator;
import io.k8ssync.sink.upstream.UpstreamConfig;
import io.k8ssync.sink.upstream.UpstreamSink;
import java.time.Duration;

/**
 * The {@code zookeeper} sink: nginx upstreams as persistent znodes {@code <root>/<upstream>/<ip>:<port>}
 * holding nginx-upsync's JSON, for nginx builds of the module that read ZooKeeper.
 */
public final class ZooKeeperSinkFactory implements SinkFactory {

  static final String PATH = "(/[A-Za-z0-9._-]+)+";

  static final ConfigDef AUTH = new ConfigDef()
      .define("username", ConfigDef.Type.STRING, null, "digest auth user; created nodes get ALL for it and READ for everyone")
      .define("password", ConfigDef.Type.SECRET, null, "digest auth password");

  static final ConfigDef CONFIG = UpstreamConfig.define(new ConfigDef()
      .required("connect", ConfigDef.Type.STRING, Validator.matches("[A-Za-z0-9._:,\\[\\]-]+(/[A-Za-z0-9._/-]*)?", "a host:port list, e.g. zk1:2181,zk2:2181"),
          "ZooKeeper connect string")
      .define("root", ConfigDef.Type.STRING, "/nginx/upstreams", Validator.matches(PATH, "an absolute znode path"), "where upstreams live")
      .define("ownerRoot", ConfigDef.Type.STRING, "/k8s-sync/owners", Validator.matches(PATH, "an absolute znode path"),
          "where this daemon marks the entries it owns: <ownerRoot>/<cluster>/<upstream>/<ip>:<port>, outside what nginx reads")
      .define("sessionTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ofSeconds(1)), "session timeout")
      .define("connectionTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(5), Validator.durationAtLeast(Duration.ofMillis(100)),
          "how long one operation waits for a connection before it fails (and is retried)")
      .section("auth", AUTH, "digest authentication"));

  @Override
  public String type() {
    return "zookeeper";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    Config c = context.config();
    Config auth = c.getSection("auth");
    Secret password = auth.getSecret("password");
    String digest = auth.getString("username") == null ? null
        : auth.getString("username") + ":" + (password == null ? "" : password.reveal());
    ZooKeeperRegistry registry = new ZooKeeperRegistry(c.getString("connect"), c.getString("root"), c.getString("ownerRoot"),
        c.getDuration("sessionTimeout"), c.getDuration("connectionTimeout"), digest, auth.getString("username"));
    return new UpstreamSink(context, registry, UpstreamConfig.from(c));
  }
}

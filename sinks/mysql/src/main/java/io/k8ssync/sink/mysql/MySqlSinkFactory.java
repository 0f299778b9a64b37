package io.k8ssync.sink.mysql;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Validator;
import java.time.Duration;

/**
 * The {@code mysql} sink: a table of pods people query by app name or IP ("which pods does service X
 * have, and where?", "whose IP is 10.1.2.3?"). Works with MySQL and MariaDB.
 */
public final class MySqlSinkFactory implements SinkFactory {

  static final ConfigDef CONFIG = new ConfigDef()
      .required("jdbcUrl", ConfigDef.Type.STRING, JdbcUrl.VALIDATOR,
          "database URL; TLS through its parameters, e.g. ?sslMode=verify-full&serverSslCert=/etc/k8s-sync/db-ca.pem")
      .define("username", ConfigDef.Type.STRING, null, "database user")
      .define("password", ConfigDef.Type.SECRET, null, "database password")
      .define("table", ConfigDef.Type.STRING, "k8s_sync_pods", Validator.matches("[a-z_][a-z0-9_]{0,40}", "a lowercase table name"),
          "the pods table; its schema version table is <table>_schema_version")
      .define("poolSize", ConfigDef.Type.INT, 4, Validator.between(1, 64), "connections in the pool")
      .define("batchSize", ConfigDef.Type.INT, 500, Validator.between(1, 10_000), "pods per multi-row upsert")
      .define("connectTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(5), Validator.durationAtLeast(Duration.ofMillis(250)),
          "how long to wait for a connection before the batch fails (and is retried)")
      .define("retention", ConfigDef.Type.DURATION, Duration.ofDays(7), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "deleted pods stay queryable this long, then are purged")
      .define("purgeEvery", ConfigDef.Type.DURATION, Duration.ofMinutes(10), Validator.durationAtLeast(Duration.ofMillis(10)),
          "how often expired rows are purged")
      .define("purgeBatch", ConfigDef.Type.INT, 1000, Validator.between(1, 100_000), "rows deleted per purge statement")
      .define("reconcileEvery", ConfigDef.Type.DURATION, Duration.ofMinutes(5), Validator.durationAtLeast(Duration.ofMillis(10)),
          "how often rows are compared with the pod cache (pods gone while the daemon was down are marked deleted)")
      // The registry sinks' words (UpstreamConfig): one meaning of ownerId across every sink.
      .define("ownerId", ConfigDef.Type.STRING, null, Validator.matches(RowOwner.PATTERN, "a lowercase name of letters, digits and '-' (at most 63)"),
          "owner of the entries this sink writes, when daemons that share a cluster name share the registry (one per team or"
              + " namespace): each sets its own; unset, the cluster name, which entries written before this key carry."
              + " Entries of another owner are never changed or removed");

  @Override
  public String type() {
    return "mysql";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    return new MySqlSink(context);
  }
}

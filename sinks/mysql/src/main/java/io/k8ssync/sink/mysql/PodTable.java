package io.k8ssync.sink.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.Secret;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The pods table behind the sink's connection pool: its schema migrated before first use, and again
 * after someone dropped the table; a database error turned into a retriable or fatal sink failure.
 *
 * <p>Thread rules: used from the dispatcher's thread (writes) and the sink's timer thread (passes,
 * purges). {@code migrated} is volatile; two migrations at once are serialized by {@link Schema}'s
 * database lock.
 */
final class PodTable implements AutoCloseable {

  private final SinkContext context;
  private final String table;
  private final System.Logger log;
  private final HikariDataSource pool;
  private volatile boolean migrated;

  PodTable(SinkContext context) {
    this.context = context;
    Config config = context.config();
    this.table = config.getString("table");
    this.log = context.logger();
    HikariConfig h = new HikariConfig();
    h.setJdbcUrl(config.getString("jdbcUrl"));
    h.setUsername(config.getString("username"));
    Secret password = config.getSecret("password");
    if (password != null) {
      h.setPassword(password.reveal());
    }
    h.setMaximumPoolSize(config.getInt("poolSize"));
    h.setConnectionTimeout(config.getDuration("connectTimeout").toMillis());
    // Start even when the database is down: batches fail as retriable until it is back.
    h.setInitializationFailTimeout(-1);
    h.setPoolName("k8s-sync-" + context.name());
    this.pool = new HikariDataSource(h);
  }

  /** The table's name, as statements spell it. */
  String name() {
    return table;
  }

  Connection connection() throws SQLException {
    return pool.getConnection();
  }

  void ensureSchema() throws SinkException {
    if (migrated) {
      return;
    }
    try (Connection c = pool.getConnection()) {
      int version = Schema.migrate(c, table);
      migrated = true;
      log.log(Level.INFO, "schema ready: sink={0} table={1} version={2}", context.name(), table, version);
    } catch (SQLException e) {
      throw failure("schema migration", e);
    }
  }

  /** A dropped table and refused grants are retried like an outage; only bad data or bad SQL drops the change. */
  SinkException failure(String what, SQLException e) {
    return switch (SqlErrors.classify(e)) {
      case TABLE_MISSING -> {
        if (migrated) {
          migrated = false;
          log.log(Level.WARNING, "table missing, the next attempt migrates the schema again: sink={0} table={1}",
              context.name(), table);
        }
        yield SinkException.retriable(what + " failed, table missing: " + e.getMessage(), e);
      }
      case ACCESS_DENIED -> SinkException.retriable(what + " denied, check the database user's grants: " + e.getMessage(), e);
      case REJECTED -> SinkException.fatal(what + " rejected by the database: " + e.getMessage(), e);
      case RETRIABLE -> SinkException.retriable(what + " failed: " + e.getMessage(), e);
    };
  }

  @Override
  public void close() {
    pool.close();
  }
}

package io.k8ssync.sink.mysql;

import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;

/**
 * Deletes the rows of pods deleted longer ago than the retention.
 *
 * <p>Thread rules: holds no mutable state; runs on the sink's timer thread.
 */
final class Purger {

  private final SinkContext context;
  private final PodTable table;
  private final RowOwner owner;
  private final Duration retention;
  private final int purgeBatch;
  private final System.Logger log;
  private final SinkMetrics.Counter purged;
  private final SinkMetrics.Counter errors;

  Purger(SinkContext context, PodTable table, RowOwner owner, MySqlMetrics metrics) {
    this.context = context;
    this.table = table;
    this.owner = owner;
    Config config = context.config();
    this.retention = config.getDuration("retention");
    this.purgeBatch = config.getInt("purgeBatch");
    this.log = context.logger();
    this.purged = metrics.purged();
    this.errors = metrics.errors();
  }

  /** A scheduled run: a failure is counted and logged, and never ends the schedule. */
  void purgeSafely() {
    try {
      purge();
    } catch (SinkException | RuntimeException e) {
      errors.inc("purge");
      log.log(Level.WARNING, "purge failed, the next run tries again: sink=" + context.name() + " error=" + e.getMessage());
    }
  }

  /**
   * Deletes rows of pods deleted longer ago than the retention, in batches: this sink's owner's only,
   * so each owner's retention decides for its rows. Without an ownerId, the default owner's rows of
   * every cluster, as before owners (a cluster no daemon watches any more is still purged).
   */
  int purge() throws SinkException {
    table.ensureSchema();
    int total = 0;
    String ours = owner.id() == null ? "(owner IS NULL OR owner = cluster)" : "owner = ?";
    try (Connection c = table.connection();
         PreparedStatement ps = c.prepareStatement("DELETE FROM " + table.name() + " WHERE deleted_at < ? AND " + ours
             + " LIMIT " + purgeBatch)) {
      ps.setObject(1, PodRow.time(System.currentTimeMillis() - retention.toMillis()));
      if (owner.id() != null) {
        ps.setString(2, owner.id());
      }
      int n;
      do {
        n = ps.executeUpdate();
        total += n;
      } while (n == purgeBatch);
    } catch (SQLException e) {
      throw table.failure("purge", e);
    }
    if (total > 0) {
      purged.inc(total);
      log.log(Level.INFO, "purged deleted pods past retention: sink={0} rows={1}", context.name(), total);
    }
    return total;
  }
}

package io.k8ssync.sink.mysql;

import io.k8ssync.sink.SinkMetrics;

/**
 * The sink's own counters, registered once, in one place, and handed to the parts that move them:
 * {@code foreign} is moved by both writes and reconcile passes.
 */
record MySqlMetrics(SinkMetrics.Counter rows, SinkMetrics.Counter purged, SinkMetrics.Counter errors,
                    SinkMetrics.Counter held, SinkMetrics.Counter foreign, SinkMetrics.Counter takenOver) {

  static MySqlMetrics register(SinkMetrics m) {
    SinkMetrics.Counter rows = m.counter("mysql_rows_written_total", "Pod rows upserted (inserted, updated or marked deleted)");
    SinkMetrics.Counter purged = m.counter("mysql_rows_purged_total", "Rows of deleted pods purged after the retention");
    SinkMetrics.Counter errors = m.counter("mysql_errors_total", "Failures of the sink's own background work, by kind (purge)", "kind");
    SinkMetrics.Counter held = m.counter("mysql_deletions_held_total", "Rows a reconcile pass left for the cluster's leader to mark deleted, by reason"
        + " (not_leading: this replica no longer leads the cluster; budget_short: its Lease had under a second left;"
        + " other_owner: a row of the cluster's default owner that this sink, with its own ownerId, leaves to that owner)", "reason");
    SinkMetrics.Counter foreign = m.counter("mysql_foreign_rows_total", "Writes refused because the pod's row belongs to another owner (ownerId)");
    SinkMetrics.Counter takenOver = m.counter("mysql_rows_taken_over_total", "Rows of the cluster's default owner (written before this sink had its"
        + " own ownerId) that a pod of ours holds, taken over in place by a reconcile pass");
    return new MySqlMetrics(rows, purged, errors, held, foreign, takenOver);
  }
}

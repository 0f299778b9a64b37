package io.k8ssync.sink.mysql;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes pods' rows: a batch of changes as one multi-row upsert, guarded by resourceVersion and owner
 * ({@link #upsert}), or one pod at a time when the database rejects the batch, so one bad pod costs
 * the others nothing. Rows another owner holds are left alone, counted, and named to the dispatcher.
 *
 * <p>Thread rules: holds no mutable state; called from the dispatcher's thread (changes) and the
 * sink's timer thread (reconcile passes).
 */
final class RowWriter {

  private final PodTable table;
  private final RowOwner owner;
  private final SinkMetrics.Counter rows;
  private final SinkMetrics.Counter foreign;

  /** How the writer learns whose the rows it upserted are. */
  enum Owners {
    /**
     * The upsert returns each row's cluster and owner as it left them (MariaDB 10.5 and later): no second
     * statement, which cost the database as much CPU per row as a secondary index (docs/BENCHMARKS.md).
     */
    RETURNING,
    /** A read-back by primary key after the upsert (MySQL has no RETURNING), skipped when the count proves every row ours. */
    READ_BACK;

    /** RETURNING where the server has it. */
    static Owners of(Connection c) throws SQLException {
      DatabaseMetaData md = c.getMetaData();
      boolean mariaDb = md.getDatabaseProductName().contains("MariaDB") || md.getDatabaseProductVersion().contains("MariaDB");
      int major = md.getDatabaseMajorVersion();
      return mariaDb && (major > 10 || (major == 10 && md.getDatabaseMinorVersion() >= 5)) ? RETURNING : READ_BACK;
    }
  }

  private final Owners owners;

  RowWriter(PodTable table, RowOwner owner, MySqlMetrics metrics) {
    this(table, owner, metrics, null);
  }

  /** {@code owners} null: chosen per connection by what the server supports. */
  RowWriter(PodTable table, RowOwner owner, MySqlMetrics metrics, Owners owners) {
    this.table = table;
    this.owner = owner;
    this.rows = metrics.rows();
    this.foreign = metrics.foreign();
    this.owners = owners;
  }

  /** Writes the rows of {@code batch}, whose schema the caller has migrated. */
  void apply(List<PodChange> batch) throws SinkException {
    long now = System.currentTimeMillis();
    List<Row> refused;
    try {
      refused = upsert(rowsOf(batch, now));
    } catch (SinkException e) {
      if (e.retriable() || batch.size() == 1) {
        throw e;
      }
      // One bad pod must not cost the others their rows: find it by writing them one at a time.
      applyOneByOne(batch, now);
      return;
    }
    if (!refused.isEmpty()) {
      throw refusal(refused, batch.size());
    }
  }

  /**
   * Counts rows another owner holds, which the upsert left as they were, and says so for the
   * dispatcher to log per pod: a pod two daemons both watch (a misconfiguration) stays with the
   * owner of its row, and retrying cannot change that.
   */
  private SinkException refusal(List<Row> refused, int of) {
    foreign.inc(refused.size());
    Set<String> keys = new LinkedHashSet<>();
    refused.forEach(r -> keys.add(r.pod().key()));
    Row first = refused.get(0);
    return SinkException.partial(refused.size() + " of " + of + " pods not written: their rows belong to another owner than "
        + owner.of(first.pod().cluster()) + " (ownerId) of cluster " + first.pod().cluster() + ", first " + first.pod().key()
        + "; left untouched", null, false, keys);
  }

  private void applyOneByOne(List<PodChange> batch, long now) throws SinkException {
    Set<String> rejected = new LinkedHashSet<>();
    List<Row> refused = new ArrayList<>();
    SinkException last = null;
    for (PodChange c : batch) {
      try {
        refused.addAll(upsert(rowsOf(List.of(c), now)));
      } catch (SinkException e) {
        if (e.retriable()) {
          throw e;
        }
        rejected.add(c.key());
        last = e;
      }
    }
    if (!refused.isEmpty()) {
      SinkException r = refusal(refused, batch.size());
      if (last == null) {
        throw r;
      }
      rejected.addAll(r.failedKeys());
    }
    if (last != null) {
      throw SinkException.partial(rejected.size() + " of " + batch.size() + " pods rejected, last: " + last.getMessage(),
          last.getCause(), false, rejected);
    }
  }

  private static List<Row> rowsOf(List<PodChange> batch, long now) {
    List<Row> out = new ArrayList<>(batch.size());
    for (PodChange c : batch) {
      PodState p = c.latest();
      out.add(new Row(p, c.after() == null ? now : 0, now));
      if (c.before() != null && c.after() != null && !c.before().uid().equals(c.after().uid())) {
        // The name was reused by a new incarnation: the old one is gone.
        out.add(new Row(c.before(), now, now));
      }
    }
    return out;
  }

  /**
   * A standby's run of the write path for {@code pod}, writing nothing: the upsert prepared and bound
   * as {@link #upsert} would, and not executed; the read-back of owners (a SELECT by primary key) run.
   * A new leader's first write is then not the driver's first statement (TakeoverBench at 10,000 pods:
   * the first apply took 25-130 ms for one row).
   */
  void warmUp(PodState pod) throws SinkException {
    List<Row> batch = List.of(new Row(pod, 0, System.currentTimeMillis()));
    try (Connection c = table.connection()) {
      Owners how = owners != null ? owners : Owners.of(c);
      try (PreparedStatement ps = c.prepareStatement(upsertSql(1) + (how == Owners.RETURNING ? " RETURNING uid, cluster, owner" : ""))) {
        bind(ps, batch);
      }
      notOurs(c, batch);
    } catch (SQLException e) {
      throw table.failure("warm-up read", e);
    }
  }

  /** One row to write; {@code deletedAt} 0 for a live pod. */
  record Row(PodState pod, long deletedAt, long updatedAt) {}

  /** Writes {@code batch}; returns the rows it left alone because another owner holds them. */
  List<Row> upsert(List<Row> batch) throws SinkException {
    if (batch.isEmpty()) {
      return List.of();
    }
    try (Connection c = table.connection()) {
      Owners how = owners != null ? owners : Owners.of(c);
      List<Row> refused = how == Owners.RETURNING ? upsertReturning(c, batch) : upsertThenReadBack(c, batch);
      rows.inc(batch.size() - refused.size());
      return refused;
    } catch (SQLException e) {
      throw table.failure("upsert of " + batch.size() + " pods", e);
    }
  }

  private List<Row> upsertReturning(Connection c, List<Row> batch) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(upsertSql(batch.size()) + " RETURNING uid, cluster, owner")) {
      bind(ps, batch);
      try (ResultSet rs = ps.executeQuery()) {
        return notOurs(rs, batch);
      }
    }
  }

  /**
   * Per row an upsert counts 1 for an insert, 2 for a changed row and 0 (1 with CLIENT_FOUND_ROWS) for a row
   * it left alone, and only rows of ours change: a count of twice the rows proves every row ours. Any other
   * count cannot tell a new row from a row another owner holds, so the owners are read back.
   */
  private List<Row> upsertThenReadBack(Connection c, List<Row> batch) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(upsertSql(batch.size()))) {
      bind(ps, batch);
      if (ps.executeUpdate() == 2L * batch.size()) {
        return List.of();
      }
    }
    return notOurs(c, batch);
  }

  private void bind(PreparedStatement ps, List<Row> batch) throws SQLException {
    int i = 1;
    for (Row r : batch) {
      PodState p = r.pod();
      ps.setString(i++, p.uid());
      ps.setString(i++, p.cluster());
      ps.setString(i++, owner.of(p.cluster()));
      ps.setString(i++, p.namespace());
      ps.setString(i++, p.name());
      ps.setString(i++, p.service());
      ps.setString(i++, p.ip());
      ps.setString(i++, p.hostIp());
      ps.setString(i++, p.node());
      ps.setString(i++, p.phase().name());
      ps.setBoolean(i++, PodRow.ready(p));
      ps.setBoolean(i++, p.terminating());
      ps.setString(i++, PodRow.rejected(p));
      ps.setString(i++, PodRow.labels(p));
      setTime(ps, i++, p.createdAtMillis());
      setTime(ps, i++, PodRow.readySince(p));
      setTime(ps, i++, r.deletedAt());
      setTime(ps, i++, r.updatedAt());
      ps.setLong(i++, version(p));
    }
  }

  /**
   * The rows of {@code batch} that are not ours after the upsert: the guard left them to their
   * owner. Read back by primary key, as a multi-row upsert's count alone cannot say which rows it skipped.
   */
  private List<Row> notOurs(Connection c, List<Row> batch) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT uid, cluster, owner FROM " + table.name() + " WHERE uid IN ("
        + "?, ".repeat(batch.size() - 1) + "?)")) {
      for (int i = 0; i < batch.size(); i++) {
        ps.setString(i + 1, batch.get(i).pod().uid());
      }
      try (ResultSet rs = ps.executeQuery()) {
        return notOurs(rs, batch);
      }
    }
  }

  /** The rows of {@code batch} that {@code rs} (uid, cluster, owner) says are not ours. */
  private List<Row> notOurs(ResultSet rs, List<Row> batch) throws SQLException {
    Map<String, String[]> found = new HashMap<>();
    while (rs.next()) {
      found.put(rs.getString(1), new String[] {rs.getString(2), rs.getString(3)});
    }
    List<Row> refused = new ArrayList<>();
    for (Row r : batch) {
      String[] row = found.get(r.pod().uid());
      if (row != null && (!row[0].equals(r.pod().cluster()) || owner.classify(row[0], row[1]) != RowOwner.Kind.OURS)) {
        refused.add(r);
      }
    }
    return refused;
  }

  /**
   * A multi-row upsert whose every column changes only when the row's resourceVersion is not newer
   * than the incoming one; resource_version is assigned last, as MySQL evaluates left to right. At
   * the same version a delete wins: a live write (a reconcile pass that read the cache before the
   * delete reached it, a replayed change) leaves {@code deleted_at} alone, and a repeated delete keeps
   * the first deletion time. Only a newer version of the pod brings a row marked deleted back.
   *
   * <p>Nothing of a row changes unless it is ours ({@link #OURS_SQL}): of our cluster, and our owner's
   * or its default owner's, which this write takes over in place. The guard reads only cluster, which
   * is never assigned (a uid's cluster is its own), and owner, assigned a value that keeps it true.
   */
  private String upsertSql(int n) {
    StringBuilder sql = new StringBuilder("INSERT INTO ").append(table.name()).append(" (").append(String.join(", ", PodRow.COLUMNS))
        .append(") VALUES ");
    String one = "(" + "?, ".repeat(PodRow.COLUMNS.length - 1) + "?)";
    for (int r = 0; r < n; r++) {
      sql.append(r == 0 ? "" : ", ").append(one);
    }
    sql.append(" ON DUPLICATE KEY UPDATE ");
    for (int i = 1; i < PodRow.COLUMNS.length - 1; i++) {
      String col = PodRow.COLUMNS[i];
      if (col.equals("cluster") || col.equals("owner")) {
        continue;
      }
      if (col.equals("deleted_at")) {
        sql.append("deleted_at = CASE WHEN NOT ").append(OURS_SQL).append(" THEN deleted_at"
            + " WHEN VALUES(resource_version) > resource_version THEN VALUES(deleted_at)"
            + " WHEN VALUES(resource_version) = resource_version THEN COALESCE(deleted_at, VALUES(deleted_at))"
            + " ELSE deleted_at END, ");
        continue;
      }
      sql.append(col).append(" = IF(").append(OURS_SQL).append(" AND VALUES(resource_version) >= resource_version, VALUES(")
          .append(col).append("), ").append(col).append("), ");
    }
    sql.append("owner = IF(").append(OURS_SQL).append(", VALUES(owner), owner), ");
    sql.append("resource_version = IF(").append(OURS_SQL).append(", GREATEST(resource_version, VALUES(resource_version)),"
        + " resource_version)");
    return sql.toString();
  }

  /** The row is ours to write: our cluster's, and our owner's or (taken over) the cluster's default owner's. */
  private static final String OURS_SQL =
      "(cluster = VALUES(cluster) AND COALESCE(owner, cluster) IN (VALUES(owner), cluster))";

  /** The pod's resourceVersion as a number, 0 when it is none. */
  static long version(PodState p) {
    try {
      return Long.parseLong(p.resourceVersion());
    } catch (NumberFormatException | NullPointerException e) {
      return 0;
    }
  }

  private static void setTime(PreparedStatement ps, int i, long millis) throws SQLException {
    if (millis == 0) {
      ps.setNull(i, Types.TIMESTAMP);
    } else {
      ps.setObject(i, PodRow.time(millis));
    }
  }
}

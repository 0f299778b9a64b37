package io.k8ssync.sink.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Reconciliation;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.Secret;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one row per pod (by uid): written with batched multi-row upserts, each column guarded by
 * the resourceVersion so an older change never overwrites newer data, and a delete wins over a live
 * write of the same version; deleted pods are kept with {@code deleted_at} for the retention period,
 * then purged in batches. A reconcile pass marks rows of pods that no longer exist as deleted and
 * rewrites rows that drifted: once the informers delivered their initial list, whenever this replica
 * starts leading a cluster, and every period. A rejected pod keeps a row that is never ready and
 * names what failed ({@link PodRow}). Every row names its {@link RowOwner}: writes, passes and purges
 * touch this sink's own rows only, so daemons that share a cluster name share the table.
 */
final class MySqlSink implements Sink {

  private final SinkContext context;
  private final String table;
  private final int batchSize;
  private final Duration retention;
  private final int purgeBatch;
  private final Config config;
  private final RowOwner owner;
  private final System.Logger log;
  private final HikariDataSource pool;
  private final ScheduledExecutorService scheduler;
  private final SinkMetrics.Counter rows;
  private final SinkMetrics.Counter purged;
  private final SinkMetrics.Counter errors;
  private final SinkMetrics.Counter held;
  private final SinkMetrics.Counter foreign;
  private final SinkMetrics.Counter takenOver;
  private final Reconciliation reconciliation;
  private final RequestedPasses requested;
  private volatile boolean migrated;
  /**
   * Per cluster, the uids of rows a pass left to their owner, already counted and logged: counted
   * again only after they left. Read and replaced by reconcile passes, which run one at a time.
   */
  private final Map<String, Set<String>> leftToDefaultOwner = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Set<String>> leftToOtherOwner = new java.util.concurrent.ConcurrentHashMap<>();

  MySqlSink(SinkContext context) {
    this.context = context;
    this.config = context.config();
    this.table = config.getString("table");
    this.batchSize = config.getInt("batchSize");
    this.retention = config.getDuration("retention");
    this.purgeBatch = config.getInt("purgeBatch");
    this.owner = new RowOwner(config.getString("ownerId"));
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
    this.scheduler = Reconciliation.scheduler(context, "mysql");
    this.reconciliation = new Reconciliation(context);
    SinkMetrics m = context.metrics();
    rows = m.counter("mysql_rows_written_total", "Pod rows upserted (inserted, updated or marked deleted)");
    purged = m.counter("mysql_rows_purged_total", "Rows of deleted pods purged after the retention");
    errors = m.counter("mysql_errors_total", "Failures of the sink's own background work, by kind (purge)", "kind");
    held = m.counter("mysql_deletions_held_total", "Rows a reconcile pass left for the cluster's leader to mark deleted, by reason"
        + " (not_leading: this replica no longer leads the cluster; budget_short: its Lease had under a second left;"
        + " other_owner: a row of the cluster's default owner that this sink, with its own ownerId, leaves to that owner)", "reason");
    foreign = m.counter("mysql_foreign_rows_total", "Writes refused because the pod's row belongs to another owner (ownerId)");
    takenOver = m.counter("mysql_rows_taken_over_total", "Rows of the cluster's default owner (written before this sink had its"
        + " own ownerId) that a pod of ours holds, taken over in place by a reconcile pass");
    requested = new RequestedPasses(scheduler, clusters -> reconciliation.runSafely(() -> reconcile(clusters)));
  }

  @Override
  public int maxBatchSize() {
    return batchSize;
  }

  @Override
  public void start() {
    try {
      ensureSchema();
    } catch (SinkException e) {
      log.log(Level.WARNING, "database not reachable at start, schema migration will be retried: sink={0} error={1}",
          context.name(), e.getMessage());
    }
    if (!context.dryRun()) {
      long purgeEvery = config.getDuration("purgeEvery").toMillis();
      long reconcileEvery = config.getDuration("reconcileEvery").toMillis();
      scheduler.scheduleWithFixedDelay(this::purgeSafely, purgeEvery, purgeEvery, TimeUnit.MILLISECONDS);
      // The first pass comes with the initial list (podsSynced), not at a guess after start.
      scheduler.scheduleWithFixedDelay(() -> {
        if (context.pods().synced()) {
          reconciliation.runSafely(this::reconcile);
        }
      }, reconcileEvery, reconcileEvery, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void podsSynced() {
    if (!context.dryRun()) {
      Set<String> clusters = context.clusters();
      log.log(Level.INFO, "pods synced, reconcile pass requested: sink={0} clusters={1}", context.name(), clusters);
      requested.request(clusters);
    }
  }

  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    if (context.dryRun()) {
      return;
    }
    if (!leading) {
      // Its rows are the new leader's to reconcile; a pass already running checks leads() before each deletion.
      requested.cancel(cluster);
    } else if (context.pods().synced()) {
      // What changed while another replica led it (or none did) is repaired now, not a period later.
      log.log(Level.INFO, "leading cluster, reconcile pass requested: sink={0} cluster={1} term={2}", context.name(), cluster, term);
      requested.request(Set.of(cluster));
    } // else the pass podsSynced() requests covers it
  }

  private void ensureSchema() throws SinkException {
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

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    ensureSchema();
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

  /** One row to write; {@code deletedAt} 0 for a live pod. */
  record Row(PodState pod, long deletedAt, long updatedAt) {}

  /** Writes {@code batch}; returns the rows it left alone because another owner holds them. */
  List<Row> upsert(List<Row> batch) throws SinkException {
    if (batch.isEmpty()) {
      return List.of();
    }
    try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(upsertSql(batch.size()))) {
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
      ps.executeUpdate();
      List<Row> refused = notOurs(c, batch);
      rows.inc(batch.size() - refused.size());
      return refused;
    } catch (SQLException e) {
      throw failure("upsert of " + batch.size() + " pods", e);
    }
  }

  /**
   * The rows of {@code batch} that are not ours after the upsert: the guard left them to their
   * owner. Read back by primary key, as a multi-row upsert's count cannot say which rows it skipped.
   */
  private List<Row> notOurs(Connection c, List<Row> batch) throws SQLException {
    Map<String, String[]> found = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT uid, cluster, owner FROM " + table + " WHERE uid IN ("
        + "?, ".repeat(batch.size() - 1) + "?)")) {
      for (int i = 0; i < batch.size(); i++) {
        ps.setString(i + 1, batch.get(i).pod().uid());
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.put(rs.getString(1), new String[] {rs.getString(2), rs.getString(3)});
        }
      }
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
    StringBuilder sql = new StringBuilder("INSERT INTO ").append(table).append(" (").append(String.join(", ", PodRow.COLUMNS))
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

  private static long version(PodState p) {
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
      ps.setTimestamp(i, new Timestamp(millis));
    }
  }

  private void purgeSafely() {
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
    ensureSchema();
    int total = 0;
    String ours = owner.id() == null ? "(owner IS NULL OR owner = cluster)" : "owner = ?";
    try (Connection c = pool.getConnection();
         PreparedStatement ps = c.prepareStatement("DELETE FROM " + table + " WHERE deleted_at < ? AND " + ours
             + " LIMIT " + purgeBatch)) {
      ps.setTimestamp(1, new Timestamp(System.currentTimeMillis() - retention.toMillis()));
      if (owner.id() != null) {
        ps.setString(2, owner.id());
      }
      int n;
      do {
        n = ps.executeUpdate();
        total += n;
      } while (n == purgeBatch);
    } catch (SQLException e) {
      throw failure("purge", e);
    }
    if (total > 0) {
      purged.inc(total);
      log.log(Level.INFO, "purged deleted pods past retention: sink={0} rows={1}", context.name(), total);
    }
    return total;
  }

  /**
   * What a live row holds of the columns this sink writes from a pod's state, as read back for
   * reconcile. Timestamps are left out: they are not compared (a time zone setting could make
   * every row look changed).
   */
  private record Stored(long version, String cluster, String namespace, String name, String service, String ip, String hostIp,
                        String node, String phase, boolean ready, boolean terminating, String rejected, String labels) {

    /** True when the row says what the sink would write for {@code p}. */
    boolean matches(PodState p) {
      return ready == PodRow.ready(p)
          && terminating == p.terminating()
          && Objects.equals(rejected, PodRow.rejected(p))
          && Objects.equals(cluster, p.cluster())
          && Objects.equals(namespace, p.namespace())
          && Objects.equals(name, p.name())
          && Objects.equals(service, p.service())
          && Objects.equals(ip, p.ip())
          && Objects.equals(hostIp, p.hostIp())
          && Objects.equals(node, p.node())
          && Objects.equals(phase, p.phase().name())
          && Objects.equals(labels, PodRow.labels(p));
    }
  }

  /**
   * Rows of live pods the cache does not have are marked deleted; missing rows, rows with an older
   * resourceVersion, and rows at the cache's resourceVersion whose columns differ from the cache
   * (edited by hand, say) are rewritten. A row newer than the cache is left alone: the cache lags,
   * and the change that wrote the row is on its way. Does nothing before the cache has synced,
   * when every pod not listed yet would look gone. Covers the clusters this replica leads, and of
   * them only this sink's owner's rows: another owner's are never marked deleted or rewritten (one
   * that a pod of ours holds is counted as refused); a row of the cluster's default owner that a pod
   * of ours holds is taken over in place, one that none holds is left to that owner.
   */
  void reconcile() throws SinkException {
    reconcile(context.clusters());
  }

  /** A pass over those of {@code requested} that this replica leads now. */
  void reconcile(Set<String> requested) throws SinkException {
    if (!context.pods().synced()) {
      return;
    }
    Set<String> clusters = new HashSet<>(requested);
    clusters.retainAll(context.clusters());
    if (clusters.isEmpty()) {
      return;
    }
    ensureSchema();
    List<String> clusterList = List.copyOf(clusters);
    Map<String, Stored> live = new HashMap<>();
    Map<String, String> defaultOwners = new HashMap<>(); // uid → cluster, rows this sink may take over
    Map<String, String> otherOwners = new HashMap<>(); // uid → cluster
    try (Connection c = pool.getConnection();
         PreparedStatement ps = c.prepareStatement("SELECT uid, cluster, resource_version, namespace, name, service, ip, "
             + "host_ip, node, phase, ready, terminating, rejected, labels, owner FROM " + table
             + " WHERE deleted_at IS NULL AND cluster IN (" + "?, ".repeat(clusterList.size() - 1) + "?)")) {
      for (int i = 0; i < clusterList.size(); i++) {
        ps.setString(i + 1, clusterList.get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if (!clusters.contains(rs.getString(2))) {
            continue;
          }
          switch (owner.classify(rs.getString(2), rs.getString(15))) {
            case DEFAULT_OWNER -> defaultOwners.put(rs.getString(1), rs.getString(2));
            case OTHER -> otherOwners.put(rs.getString(1), rs.getString(2));
            case OURS -> live.put(rs.getString(1), new Stored(rs.getLong(3), rs.getString(2), rs.getString(4), rs.getString(5),
                rs.getString(6), rs.getString(7), rs.getString(8), rs.getString(9), rs.getString(10), rs.getBoolean(11),
                rs.getBoolean(12), rs.getString(13), rs.getString(14)));
          }
        }
      }
    } catch (SQLException e) {
      throw failure("reconcile listing", e);
    }
    long now = System.currentTimeMillis();
    List<Row> writes = new ArrayList<>();
    List<PodState> takeOvers = new ArrayList<>();
    Map<String, PodState> cached = new HashMap<>();
    Map<String, Set<String>> refusedByCluster = new HashMap<>();
    for (PodState p : context.pods().pods(clusters)) {
      cached.put(p.uid(), p);
      Stored have = live.get(p.uid());
      long want = version(p);
      if (otherOwners.containsKey(p.uid())) {
        refusedByCluster.computeIfAbsent(p.cluster(), k -> new HashSet<>()).add(p.uid());
      } else if (defaultOwners.containsKey(p.uid())) {
        // Our pod's row, written before this sink had its own ownerId: ours now, in place.
        takeOvers.add(p);
        writes.add(new Row(p, 0, now));
      } else if (have == null) {
        reconciliation.drift("missing");
        writes.add(new Row(p, 0, now));
      } else if (have.version() < want || (have.version() == want && !have.matches(p))) {
        // Same resourceVersion, other values: the upsert's guard lets an equal version through.
        reconciliation.drift("changed");
        writes.add(new Row(p, 0, now));
      }
    }
    Map<String, List<String>> goneByCluster = new TreeMap<>();
    live.forEach((uid, row) -> {
      if (!cached.containsKey(uid)) {
        reconciliation.drift("orphan");
        goneByCluster.computeIfAbsent(row.cluster(), k -> new ArrayList<>()).add(uid);
      }
    });
    Map<String, Set<String>> leftByCluster = new HashMap<>();
    defaultOwners.forEach((uid, cluster) -> {
      if (!cached.containsKey(uid)) {
        leftByCluster.computeIfAbsent(cluster, k -> new HashSet<>()).add(uid);
      }
    });
    List<Row> refused = new ArrayList<>();
    for (int from = 0; from < writes.size(); from += batchSize) {
      refused.addAll(upsert(writes.subList(from, Math.min(writes.size(), from + batchSize))));
    }
    Set<String> notTaken = new HashSet<>();
    refused.forEach(r -> notTaken.add(r.pod().uid()));
    for (PodState p : takeOvers) {
      if (!notTaken.contains(p.uid())) {
        takenOver.inc();
        log.log(Level.INFO, "took over the row of {0} in place: it was the default owner''s of cluster {1} and a pod of ours holds it:"
            + " sink={2} owner={3}", p.key(), p.cluster(), context.name(), owner.of(p.cluster()));
      }
    }
    if (!refused.isEmpty()) {
      foreign.inc(refused.size());
      log.log(Level.WARNING, "reconcile left rows of another owner that pods of ours hold (is the pod watched by two daemons?):"
          + " sink={0} rows={1} first={2}", context.name(), refused.size(), refused.get(0).pod().key());
    }
    for (String cluster : clusters) {
      leaveToTheirOwner(cluster, refusedByCluster.getOrDefault(cluster, Set.of()), leftToOtherOwner, n -> foreign.inc(n),
          "reconcile left rows of another owner that pods of ours hold (is the pod watched by two daemons?)");
      leaveToTheirOwner(cluster, leftByCluster.getOrDefault(cluster, Set.of()), leftToDefaultOwner, n -> held.inc(n, "other_owner"),
          "reconcile left rows of the cluster's default owner (the daemon whose ownerId is the cluster name) to it: no pod of ours holds them");
    }
    for (Map.Entry<String, List<String>> e : goneByCluster.entrySet()) {
      markDeleted(e.getKey(), e.getValue(), now);
    }
  }

  /**
   * Counts and logs the rows of {@code cluster} a pass left to their owner that an earlier pass did
   * not (each once while it stays).
   */
  private void leaveToTheirOwner(String cluster, Set<String> left, Map<String, Set<String>> before,
                                 java.util.function.LongConsumer count, String what) {
    Set<String> known = before.getOrDefault(cluster, Set.of());
    long fresh = left.stream().filter(uid -> !known.contains(uid)).count();
    if (fresh > 0) {
      count.accept(fresh);
      log.log(Level.INFO, what + ": sink={0} cluster={1} owner={2} rows={3}", context.name(), cluster, owner.of(cluster), fresh);
    }
    before.put(cluster, Set.copyOf(left));
  }

  /** The least time left on the Lease for which a deletion starts: JDBC bounds a statement in whole seconds. */
  private static final Duration LEAST_WRITE_BUDGET = Duration.ofSeconds(1);

  /**
   * Marks rows of pods gone from {@code cluster} deleted, while this replica leads it: checked right
   * before each statement, whose timeout the Lease's time left bounds. Once it does not, the rest is
   * left to the cluster's leader, counted and logged.
   */
  private void markDeleted(String cluster, List<String> uids, long now) throws SinkException {
    for (int from = 0; from < uids.size(); from += batchSize) {
      List<String> chunk = uids.subList(from, Math.min(uids.size(), from + batchSize));
      String sql = "UPDATE " + table + " SET deleted_at = ?, updated_at = ? WHERE deleted_at IS NULL AND cluster = ?"
          + " AND COALESCE(owner, cluster) = ? AND uid IN (" + "?, ".repeat(chunk.size() - 1) + "?)";
      try (Connection c = pool.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
        Duration budget = context.leads(cluster) ? context.writeBudget(cluster) : Duration.ZERO;
        if (budget.compareTo(LEAST_WRITE_BUDGET) < 0) {
          String reason = budget.isZero() ? "not_leading" : "budget_short";
          int left = uids.size() - from;
          held.inc(left, reason);
          log.log(Level.INFO, "reconcile left rows to mark deleted to the leader of the cluster: sink={0} cluster={1} rows={2} reason={3}",
              context.name(), cluster, left, reason);
          return;
        }
        if (budget.compareTo(SinkContext.FOREVER) < 0) {
          ps.setQueryTimeout((int) Math.min(Integer.MAX_VALUE, budget.toSeconds()));
        }
        ps.setTimestamp(1, new Timestamp(now));
        ps.setTimestamp(2, new Timestamp(now));
        ps.setString(3, cluster);
        ps.setString(4, owner.of(cluster));
        for (int i = 0; i < chunk.size(); i++) {
          ps.setString(i + 5, chunk.get(i));
        }
        ps.executeUpdate();
      } catch (SQLException e) {
        throw failure("reconcile marking deleted", e);
      }
    }
  }

  /** A dropped table and refused grants are retried like an outage; only bad data or bad SQL drops the change. */
  private SinkException failure(String what, SQLException e) {
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
  public List<String> plan(List<PodChange> batch) {
    return batch.stream().map(c -> (c.after() == null ? "mark deleted " : "upsert ") + c.latest().uid()
        + " (" + c.key() + ", resourceVersion " + c.latest().resourceVersion() + ")").toList();
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    pool.close();
  }
}

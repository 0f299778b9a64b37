package io.k8ssync.sink.mysql;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Reconciliation;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.mysql.RowWriter.Row;
import java.lang.System.Logger.Level;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * The reconcile pass: compares this sink's rows of the clusters this replica leads with the pod
 * cache, rewrites what drifted and marks deleted what is gone, while it still leads the cluster.
 *
 * <p>Thread rules: passes run on the sink's timer thread, one at a time; they alone read and replace
 * what was left to other owners.
 */
final class MySqlReconciler {

  private final SinkContext context;
  private final PodTable table;
  private final RowWriter writer;
  private final RowOwner owner;
  private final int batchSize;
  private final Reconciliation reconciliation;
  private final System.Logger log;
  private final SinkMetrics.Counter held;
  private final SinkMetrics.Counter foreign;
  private final SinkMetrics.Counter takenOver;
  /**
   * Per cluster, the uids of rows a pass left to their owner, already counted and logged: counted
   * again only after they left. Read and replaced by reconcile passes, which run one at a time.
   */
  private final Map<String, Set<String>> leftToDefaultOwner = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Set<String>> leftToOtherOwner = new java.util.concurrent.ConcurrentHashMap<>();

  MySqlReconciler(SinkContext context, PodTable table, RowWriter writer, RowOwner owner, int batchSize,
                  Reconciliation reconciliation, MySqlMetrics metrics) {
    this.context = context;
    this.table = table;
    this.writer = writer;
    this.owner = owner;
    this.batchSize = batchSize;
    this.reconciliation = reconciliation;
    this.log = context.logger();
    this.held = metrics.held();
    this.foreign = metrics.foreign();
    this.takenOver = metrics.takenOver();
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
    table.ensureSchema();
    List<String> clusterList = List.copyOf(clusters);
    Map<String, Stored> live = new HashMap<>();
    Map<String, String> defaultOwners = new HashMap<>(); // uid → cluster, rows this sink may take over
    Map<String, String> otherOwners = new HashMap<>(); // uid → cluster
    try (Connection c = table.connection();
         PreparedStatement ps = c.prepareStatement("SELECT uid, cluster, resource_version, namespace, name, service, ip, "
             + "host_ip, node, phase, ready, terminating, rejected, labels, owner FROM " + table.name()
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
      throw table.failure("reconcile listing", e);
    }
    long now = System.currentTimeMillis();
    List<Row> writes = new ArrayList<>();
    List<PodState> takeOvers = new ArrayList<>();
    Map<String, PodState> cached = new HashMap<>();
    Map<String, Set<String>> refusedByCluster = new HashMap<>();
    int leftToChanges = 0;
    for (PodState p : context.pods().pods(clusters)) {
      cached.put(p.uid(), p);
      Stored have = live.get(p.uid());
      long want = RowWriter.version(p);
      // Same resourceVersion, other values counts too: the upsert's guard lets an equal version through.
      boolean stale = have != null && (have.version() < want || (have.version() == want && !have.matches(p)));
      if (otherOwners.containsKey(p.uid())) {
        refusedByCluster.computeIfAbsent(p.cluster(), k -> new HashSet<>()).add(p.uid());
      } else if (defaultOwners.containsKey(p.uid())) {
        // Our pod's row, written before this sink had its own ownerId: ours now, in place.
        takeOvers.add(p);
        writes.add(new Row(p, 0, now));
      } else if ((have == null || stale) && context.changePending(p)) {
        leftToChanges++; // that change writes the row; the pass would write it twice
      } else if (have == null || stale) {
        reconciliation.drift(have == null ? "missing" : "changed");
        writes.add(new Row(p, 0, now));
      }
    }
    reconciliation.leftToChanges(leftToChanges);
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
      refused.addAll(writer.upsert(writes.subList(from, Math.min(writes.size(), from + batchSize))));
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
      String sql = "UPDATE " + table.name() + " SET deleted_at = ?, updated_at = ? WHERE deleted_at IS NULL AND cluster = ?"
          + " AND COALESCE(owner, cluster) = ? AND uid IN (" + "?, ".repeat(chunk.size() - 1) + "?)";
      try (Connection c = table.connection(); PreparedStatement ps = c.prepareStatement(sql)) {
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
        ps.setObject(1, PodRow.time(now));
        ps.setObject(2, PodRow.time(now));
        ps.setString(3, cluster);
        ps.setString(4, owner.of(cluster));
        for (int i = 0; i < chunk.size(); i++) {
          ps.setString(i + 5, chunk.get(i));
        }
        ps.executeUpdate();
      } catch (SQLException e) {
        throw table.failure("reconcile marking deleted", e);
      }
    }
  }
}

package io.k8ssync.sink.mysql;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.testbed.MariaDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two daemons that share a cluster name (two teams, two namespaces) write one table, each with its
 * own ownerId: neither marks deleted, repairs, purges or overwrites the other's rows, through
 * restarts. On the test bed's real MariaDB.
 */
class MySqlOwnershipTest {

  private final String table = "own_" + UUID.randomUUID().toString().substring(0, 8);
  private final List<Sink> sinks = new ArrayList<>();

  MySqlOwnershipTest() {
    MariaDb.requireRunning();
  }

  @AfterEach
  void dropTables() throws Exception {
    sinks.forEach(Sink::close);
    try (Connection c = db(); Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
      s.execute("DROP TABLE IF EXISTS " + table + "_schema_version");
    }
  }

  private static Connection db() throws Exception {
    return DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
  }

  /** A daemon's sink and what the daemon hands it; no timers fire within a test (period of an hour). */
  private record Daemon(MySqlSink sink, TestSinkContext context) {

    void write(PodState before, PodState after) throws SinkException {
      sink.apply(List.of(PodChange.of((after != null ? after : before).key(), before, after)));
    }

    /** The pod is in this daemon's cache and written to the table. */
    void has(PodState p) throws SinkException {
      context.pods.add(p);
      write(null, p);
    }
  }

  private static Map<String, Object> config(String table, String ownerId) throws Exception {
    Path password = Files.createTempFile("db", ".pw");
    Files.writeString(password, MariaDb.PASSWORD);
    Map<String, Object> c = new HashMap<>(Map.of("jdbcUrl", MariaDb.jdbcUrl(), "username", MariaDb.USER,
        "password", "${file:" + password + "}", "table", table, "reconcileEvery", "1h", "purgeEvery", "1h"));
    if (ownerId != null) {
      c.put("ownerId", ownerId);
    }
    return c;
  }

  /** {@code ownerId} null: unset, the cluster's default owner. */
  private Daemon daemon(String ownerId) throws Exception {
    TestSinkContext context = new TestSinkContext("db", new MySqlSinkFactory().configDef(), config(table, ownerId), Selector.ALL);
    MySqlSink s = (MySqlSink) new MySqlSinkFactory().create(context);
    s.start();
    sinks.add(s);
    return new Daemon(s, context);
  }

  /** A pod of cluster c1 in {@code namespace}. */
  private static PodState pod(String namespace, String name, String ip, String version) {
    PodState p = withVersion(ready(name, ip), version);
    return new PodState(p.cluster(), namespace, p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }

  private List<String> query(String sql, Object... args) throws Exception {
    try (Connection c = db(); PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      List<String> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
      return out;
    }
  }

  private String row(String uid) throws Exception {
    List<String> r = query("SELECT CONCAT_WS('|', owner, namespace, ip, IF(deleted_at IS NULL, 'live', 'deleted')) FROM " + table
        + " WHERE uid = ?", uid);
    return r.isEmpty() ? null : r.get(0);
  }

  private void sql(String statement) throws Exception {
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.execute(statement);
    }
  }

  @Test
  void ownerIdIsAConfigKeyThatOnlyTakesANameLikeAClusterName() throws Exception {
    assertEquals("owner of the entries this sink writes, when daemons that share a cluster name share the registry (one per team or"
            + " namespace): each sets its own; unset, the cluster name, which entries written before this key carry."
            + " Entries of another owner are never changed or removed",
        MySqlSinkFactory.CONFIG.keys().stream().filter(k -> k.name().equals("ownerId")).findFirst().orElseThrow().doc(),
        "the same words as the registry sinks' ownerId");
    ConfigException e = assertThrows(ConfigException.class, () ->
        new TestSinkContext("db", new MySqlSinkFactory().configDef(), config(table, "Team A"), Selector.ALL));
    assertEquals("sinks[0].config.ownerId", e.path());
  }

  @Test
  void twoOwnersOfOneClusterNameNeverMarkEachOthersRowsDeleted() throws Exception {
    Daemon a = daemon("team-a");
    Daemon b = daemon("team-b");
    a.has(pod("ns-a", "a-1", "10.0.1.1", "3"));
    a.has(pod("ns-a", "a-2", "10.0.1.2", "4"));
    b.has(pod("ns-b", "b-1", "10.0.2.1", "5"));
    assertEquals("team-a|ns-a|10.0.1.1|live", row("uid-a-1"));
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));

    a.sink().reconcile();
    b.sink().reconcile();
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"), "team A's pass leaves team B's row alone");
    assertEquals("team-a|ns-a|10.0.1.1|live", row("uid-a-1"), "and team B's pass team A's");
    assertEquals(0.0, a.context().metric("reconcile_drift_total", "orphan"), "another owner's row is no orphan");
    assertEquals(0.0, b.context().metric("reconcile_drift_total", "orphan"));

    // Team B's row edited by hand: team A's pass does not repair it, team B's does.
    sql("UPDATE " + table + " SET ip = '1.2.3.4' WHERE uid = 'uid-b-1'");
    a.sink().reconcile();
    assertEquals("team-b|ns-b|1.2.3.4|live", row("uid-b-1"));
    b.sink().reconcile();
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));

    // Both restart (new sink instances); team A's pod a-2 went away while they were down.
    sinks.forEach(Sink::close);
    sinks.clear();
    Daemon a2 = daemon("team-a");
    Daemon b2 = daemon("team-b");
    a2.context().pods.add(pod("ns-a", "a-1", "10.0.1.1", "3"));
    b2.context().pods.add(pod("ns-b", "b-1", "10.0.2.1", "5"));
    b2.sink().reconcile();
    assertEquals("team-a|ns-a|10.0.1.2|live", row("uid-a-2"), "team B does not remove team A's pod");
    a2.sink().reconcile();
    assertEquals("team-a|ns-a|10.0.1.2|deleted", row("uid-a-2"), "team A does");
    assertEquals("team-a|ns-a|10.0.1.1|live", row("uid-a-1"));
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));
    assertEquals(1.0, a2.context().metric("reconcile_drift_total", "orphan"));
  }

  @Test
  void aDaemonWithoutOwnerIdLeavesTheRowsOfAnotherOwnerAlone() throws Exception {
    Daemon team = daemon("team-b");
    Daemon plain = daemon(null);
    team.has(pod("ns-b", "b-1", "10.0.2.1", "5"));
    plain.has(pod("ns-a", "a-1", "10.0.1.1", "3"));
    assertEquals("c1|ns-a|10.0.1.1|live", row("uid-a-1"), "unset, the owner is the cluster name");
    plain.sink().reconcile();
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));
    team.sink().reconcile();
    assertEquals("c1|ns-a|10.0.1.1|live", row("uid-a-1"), "a row of the default owner no pod of ours holds is left to it");
    assertEquals(1.0, team.context().metric("mysql_deletions_held_total", "other_owner"), "counted");
    team.sink().reconcile();
    assertEquals(1.0, team.context().metric("mysql_deletions_held_total", "other_owner"), "once while it stays");
  }

  @Test
  void aWriteNeverOverwritesTheRowOfAnotherOwner() throws Exception {
    Daemon a = daemon("team-a");
    Daemon b = daemon("team-b");
    PodState shared = pod("ns-b", "b-1", "10.0.2.1", "5");
    b.has(shared);
    // Misconfigured: team A watches the pod too, and sees a newer version of it.
    PodState seenByA = withIp(withVersion(shared, "9"), "10.9.9.9");
    SinkException e = assertThrows(SinkException.class, () -> a.write(null, seenByA));
    assertFalse(e.retriable(), "retrying cannot make the row ours");
    assertEquals(Set.of(seenByA.key()), e.failedKeys());
    assertTrue(e.getMessage().contains("team-b") || e.getMessage().contains("another owner"), e.getMessage());
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"), "the row stays with its owner");
    assertEquals(List.of("5"), query("SELECT resource_version FROM " + table + " WHERE uid = 'uid-b-1'"));
    assertEquals(1.0, a.context().metric("mysql_foreign_rows_total"), "the refusal is counted");

    // In a batch, the other pods are written.
    PodState mine = pod("ns-a", "a-1", "10.0.1.1", "3");
    e = assertThrows(SinkException.class, () -> a.sink().apply(List.of(PodChange.of(mine.key(), null, mine),
        PodChange.of(seenByA.key(), null, seenByA))));
    assertEquals(Set.of(seenByA.key()), e.failedKeys());
    assertEquals("team-a|ns-a|10.0.1.1|live", row("uid-a-1"));
    assertEquals(2.0, a.context().metric("mysql_foreign_rows_total"));

    // A delete is refused the same way, and reconcile neither rewrites it nor marks it deleted.
    assertThrows(SinkException.class, () -> a.write(seenByA, null));
    a.context().pods.add(seenByA);
    a.sink().reconcile();
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));
    a.context().pods.clear();
    a.sink().reconcile();
    assertEquals("team-b|ns-b|10.0.2.1|live", row("uid-b-1"));
  }

  @Test
  void aRowOfTheDefaultOwnerThatOurPodHoldsIsTakenOverInPlace() throws Exception {
    Daemon before = daemon(null);
    PodState p = pod("ns-a", "a-1", "10.0.1.1", "3");
    PodState gone = pod("ns-a", "a-2", "10.0.1.2", "3");
    before.has(p);
    before.has(gone);
    assertEquals("c1|ns-a|10.0.1.1|live", row("uid-a-1"));

    // The same daemon restarts with its own owner id.
    sinks.forEach(Sink::close);
    sinks.clear();
    Daemon after = daemon("team-a");
    after.context().pods.add(p);
    after.sink().reconcile();
    assertEquals("team-a|ns-a|10.0.1.1|live", row("uid-a-1"), "taken over: the same row, now ours");
    assertEquals(List.of("1"), query("SELECT COUNT(*) FROM " + table + " WHERE uid = 'uid-a-1'"));
    assertEquals(1.0, after.context().metric("mysql_rows_taken_over_total"));
    assertEquals("c1|ns-a|10.0.1.2|live", row("uid-a-2"), "a default row no pod of ours holds is left to its owner");

    // A change of a pod whose row the default owner wrote takes it over as well.
    PodState q = pod("ns-a", "a-3", "10.0.1.3", "3");
    Daemon old = daemon(null);
    old.write(null, q);
    PodState q4 = withVersion(q, "4");
    after.write(q, q4);
    assertEquals("team-a|ns-a|10.0.1.3|live", row("uid-a-3"));
    // From then on the default owner can no longer write it.
    assertThrows(SinkException.class, () -> old.write(q4, withIp(withVersion(q, "5"), "10.5.5.5")));
    assertEquals("team-a|ns-a|10.0.1.3|live", row("uid-a-3"));
  }

  @Test
  void purgeRemovesOnlyTheRowsOfItsOwner() throws Exception {
    Daemon a = daemon("team-a");
    Daemon b = daemon("team-b");
    PodState pa = pod("ns-a", "a-1", "10.0.1.1", "3");
    PodState pb = pod("ns-b", "b-1", "10.0.2.1", "3");
    a.write(null, pa);
    a.write(pa, null);
    b.write(null, pb);
    b.write(pb, null);
    sql("UPDATE " + table + " SET deleted_at = NOW(3) - INTERVAL 30 DAY");
    assertEquals(1, a.sink().purge());
    assertNull(row("uid-a-1"));
    assertEquals("team-b|ns-b|10.0.2.1|deleted", row("uid-b-1"), "team B's retention decides when its rows go");
    assertEquals(1, b.sink().purge());
  }

  @Test
  void aTableOfSchemaTwoGainsTheOwnerColumnAtStartAndKeepsItsRows() throws Exception {
    // The released schema 2, as the previous version of the sink left it, with a live and a deleted row.
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.execute("CREATE TABLE " + table + "_schema_version (version INT NOT NULL PRIMARY KEY, applied_at DATETIME(3) NOT NULL)");
      for (int v = 1; v <= 2; v++) {
        for (String statement : Schema.migrations(table).get(v - 1)) {
          st.execute(statement);
        }
        st.execute("INSERT INTO " + table + "_schema_version VALUES (" + v + ", NOW(3))");
      }
      st.execute("INSERT INTO " + table + " (uid, cluster, namespace, name, service, ip, phase, ready, terminating, labels,"
          + " updated_at, resource_version) VALUES ('uid-a-1', 'c1', 'ns-a', 'a-1', 'web', '10.0.1.1', 'RUNNING', 1, 0, '{}',"
          + " NOW(3), 3)");
      st.execute("INSERT INTO " + table + " (uid, cluster, namespace, name, service, ip, phase, ready, terminating, labels,"
          + " deleted_at, updated_at, resource_version) VALUES ('uid-x-1', 'c2', 'ns', 'x-1', 'web', '10.0.3.1', 'RUNNING', 1, 0,"
          + " '{}', NOW(3), NOW(3), 2)");
    }

    Daemon d = daemon(null);
    d.context().pods.add(pod("ns-a", "a-1", "10.0.1.1", "3"));
    d.sink().reconcile();
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"));
    assertEquals("c1|ns-a|10.0.1.1|live", row("uid-a-1"), "the row is kept and its owner is its cluster, the default owner");
    assertEquals("c2|ns|10.0.3.1|deleted", row("uid-x-1"));
    assertEquals(0.0, d.context().metric("reconcile_drift_total", "missing"), "the old row is ours: no second row is wanted");
    assertEquals(0.0, d.context().metric("reconcile_drift_total", "orphan"));

    // A replica of the previous version, still running during a rolling upgrade, writes without the column.
    sql("INSERT INTO " + table + " (uid, cluster, namespace, name, service, ip, phase, ready, terminating, labels,"
        + " updated_at, resource_version) VALUES ('uid-a-2', 'c1', 'ns-a', 'a-2', 'web', '10.0.1.2', 'RUNNING', 1, 0, '{}',"
        + " NOW(3), 3)");
    d.sink().reconcile();
    assertEquals("ns-a|10.0.1.2|deleted", query("SELECT CONCAT_WS('|', namespace, ip, IF(deleted_at IS NULL, 'live', 'deleted'))"
        + " FROM " + table + " WHERE uid = 'uid-a-2'").get(0), "a row without owner is the default owner's: ours to mark deleted");

    daemon(null);
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"), "migrated once");
  }
}

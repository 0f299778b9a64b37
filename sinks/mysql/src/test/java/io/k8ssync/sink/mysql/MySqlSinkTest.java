package io.k8ssync.sink.mysql;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.MariaDb;
import io.k8ssync.sink.testbed.TcpProxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The mysql sink against the test bed's real MariaDB. */
class MySqlSinkTest {

  private final String table = "pods_" + UUID.randomUUID().toString().substring(0, 8);
  private final List<Sink> sinks = new ArrayList<>();
  private TestSinkContext context;

  MySqlSinkTest() {
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

  private Sink sink(String jdbcUrl, Map<String, Object> extra) throws Exception {
    return sink(jdbcUrl, extra, ctx -> { });
  }

  /** {@code beforeStart} adjusts the context (e.g. the cache not synced yet) before the sink's timers start. */
  private Sink sink(String jdbcUrl, Map<String, Object> extra, java.util.function.Consumer<TestSinkContext> beforeStart)
      throws Exception {
    java.nio.file.Path password = java.nio.file.Files.createTempFile("db", ".pw");
    java.nio.file.Files.writeString(password, MariaDb.PASSWORD);
    Map<String, Object> c = new HashMap<>(Map.of("jdbcUrl", jdbcUrl, "username", MariaDb.USER,
        "password", "${file:" + password + "}", "table", table, "connectTimeout", "1s"));
    c.putAll(extra);
    context = new TestSinkContext("db", new MySqlSinkFactory().configDef(), c, Selector.ALL);
    beforeStart.accept(context);
    Sink s = new MySqlSinkFactory().create(context);
    s.start();
    sinks.add(s);
    return s;
  }

  private Sink sink(Map<String, Object> extra) throws Exception {
    return sink(MariaDb.jdbcUrl(), extra);
  }

  private static void apply(Sink s, PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    s.apply(List.of(PodChange.of(any.key(), before, after)));
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

  @Test
  void schemaIsCreatedAndVersionedAtStartAndAnUpgradeIsANoOp() throws Exception {
    sink(Map.of());
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"));
    sink(Map.of());
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"), "migrated once");
    List<String> leading = query("SELECT LOWER(COLUMN_NAME) FROM information_schema.STATISTICS"
        + " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND SEQ_IN_INDEX = 1", table);
    assertTrue(leading.contains("service"), "an index serves lookups by service: leading columns " + leading);
    assertTrue(leading.contains("ip"), "an index serves lookups by IP: leading columns " + leading);
  }

  @Test
  void lookupsByServiceAndByIp() throws Exception {
    Sink s = sink(Map.of());
    s.apply(List.of(PodChange.of("c1/ns/web-1", null, ready("web-1", "10.0.0.1")),
        PodChange.of("c1/ns/web-2", null, ready("web-2", "10.0.0.2"))));
    assertEquals(List.of("web-1", "web-2"),
        query("SELECT name FROM " + table + " WHERE service = ? AND deleted_at IS NULL ORDER BY name", "web"));
    assertEquals(List.of("web-2"), query("SELECT name FROM " + table + " WHERE ip = ? AND deleted_at IS NULL", "10.0.0.2"));
    assertEquals(List.of("1"), query("SELECT ready FROM " + table + " WHERE uid = ?", "uid-web-1"));
  }

  @Test
  void anOlderChangeNeverOverwritesANewerOne() throws Exception {
    Sink s = sink(Map.of());
    PodState v5 = withVersion(withIp(ready("web-1", "10.0.0.1"), "10.0.0.5"), "5");
    PodState v3 = withVersion(ready("web-1", "10.0.0.1"), "3");
    apply(s, null, v5);
    apply(s, null, v3);
    assertEquals(List.of("10.0.0.5"), query("SELECT ip FROM " + table + " WHERE uid = ?", "uid-web-1"));
    assertEquals(List.of("5"), query("SELECT resource_version FROM " + table + " WHERE uid = ?", "uid-web-1"));
    PodState v7 = withVersion(withReady(v5, false), "7");
    apply(s, v5, v7);
    assertEquals(List.of("0"), query("SELECT ready FROM " + table + " WHERE uid = ?", "uid-web-1"));
  }

  @Test
  void deletedPodsAreKeptThenPurgedAfterTheRetention() throws Exception {
    Sink s = sink(Map.of("retention", "1s", "purgeEvery", "100ms"));
    PodState p = withVersion(ready("web-1", "10.0.0.1"), "4");
    apply(s, null, p);
    apply(s, p, null);
    assertNotNull(query("SELECT deleted_at FROM " + table + " WHERE uid = ?", "uid-web-1").get(0), "soft delete");
    assertEquals(List.of("web-1"), query("SELECT name FROM " + table + " WHERE ip = ?", "10.0.0.1"), "still queryable");
    await().until(() -> query("SELECT uid FROM " + table).isEmpty());
    assertEquals(1.0, context.metric("mysql_rows_purged_total"), "one row purged, counted once");
  }

  @Test
  void reconcileMarksVanishedPodsDeletedAndFillsGaps() throws Exception {
    Sink s = sink(Map.of("reconcileEvery", "100ms"));
    PodState gone = withVersion(ready("old-1", "10.0.0.9"), "2");
    apply(s, null, gone);
    PodState kept = withVersion(ready("web-1", "10.0.0.1"), "3");
    context.pods.add(kept);
    await().until(() -> !query("SELECT uid FROM " + table + " WHERE uid = ?", "uid-web-1").isEmpty()
        && query("SELECT deleted_at FROM " + table + " WHERE uid = ?", "uid-old-1").get(0) != null);
    assertNull(query("SELECT deleted_at FROM " + table + " WHERE uid = ?", "uid-web-1").get(0));
    assertTrue(context.metric("reconcile_drift_total", "orphan") >= 1);
  }

  @Test
  void rowsAreCountedOnePerPod() throws Exception {
    Sink s = sink(Map.of());
    s.apply(List.of(PodChange.of("c1/ns/web-1", null, ready("web-1", "10.0.0.1")),
        PodChange.of("c1/ns/web-2", null, ready("web-2", "10.0.0.2"))));
    assertEquals(2.0, context.metric("mysql_rows_written_total"));
  }

  @Test
  void aDroppedTableIsRetriableAndTheNextApplyCreatesItAgain() throws Exception {
    Sink s = sink(Map.of());
    context.synced = false; // no reconcile pass may meet the missing table before the apply does
    apply(s, null, ready("web-1", "10.0.0.1"));
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.execute("DROP TABLE " + table);
    }
    PodState web2 = ready("web-2", "10.0.0.2");
    SinkException e = assertThrows(SinkException.class, () -> apply(s, null, web2));
    assertTrue(e.retriable(), e.getMessage());
    apply(s, null, web2);
    assertEquals(List.of("web-2"), query("SELECT name FROM " + table));
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"),
        "migrated again, recorded once");
  }

  @Test
  void aRejectedPodIsDroppedAloneAndTheRestOfTheBatchIsWritten() throws Exception {
    Sink s = sink(Map.of());
    PodState tooLong = ready("x".repeat(300), "10.0.0.9"); // longer than the name and uid columns
    SinkException e = assertThrows(SinkException.class, () -> s.apply(List.of(
        PodChange.of("c1/ns/web-1", null, ready("web-1", "10.0.0.1")),
        PodChange.of(tooLong.key(), null, tooLong),
        PodChange.of("c1/ns/web-2", null, ready("web-2", "10.0.0.2")))));
    assertFalse(e.retriable(), e.getMessage());
    assertEquals(java.util.Set.of(tooLong.key()), e.failedKeys());
    assertEquals(List.of("web-1", "web-2"), query("SELECT name FROM " + table + " ORDER BY name"));
  }

  @Test
  void anOutageIsRetriableAndTheSinkRecovers() throws Exception {
    try (TcpProxy proxy = new TcpProxy(MariaDb.HOST, MariaDb.PORT)) {
      Sink s = sink("jdbc:mariadb://127.0.0.1:" + proxy.port() + "/" + MariaDb.DATABASE, Map.of());
      apply(s, null, ready("web-1", "10.0.0.1"));
      proxy.cut();
      SinkException e = assertThrows(SinkException.class, () -> apply(s, null, ready("web-2", "10.0.0.2")));
      assertTrue(e.retriable(), e.getMessage());
      proxy.restore();
      await().ignoreExceptions().until(() -> {
        apply(s, null, ready("web-2", "10.0.0.2"));
        return true;
      });
      assertEquals(List.of("web-1", "web-2"), query("SELECT name FROM " + table + " ORDER BY name"));
    }
  }

  @Test
  void tlsWithTheServersCaWorksForAUserThatRequiresTls() throws Exception {
    String verified = MariaDb.jdbcUrl() + "?sslMode=verify-full&serverSslCert=" + MariaDb.TLS_CA;
    Sink tls = sink(verified, Map.of("username", MariaDb.TLS_USER));
    apply(tls, null, ready("web-1", "10.0.0.1"));
    assertEquals(List.of("web-1"), query("SELECT name FROM " + table));

    Sink plain = sink(MariaDb.jdbcUrl() + "?sslMode=disable", Map.of("username", MariaDb.TLS_USER, "table", table));
    assertThrows(SinkException.class, () -> apply(plain, null, ready("web-2", "10.0.0.2")), "the TLS-only user is refused in clear");

    java.nio.file.Path otherCa = java.nio.file.Files.createTempDirectory("ca").resolve("other.pem");
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
        "-keyout", otherCa.resolveSibling("other.key").toString(), "-out", otherCa.toString()).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertEquals(0, p.waitFor());
    Sink wrongCa = sink(MariaDb.jdbcUrl() + "?sslMode=verify-full&serverSslCert=" + otherCa, Map.of("username", MariaDb.TLS_USER));
    assertThrows(SinkException.class, () -> apply(wrongCa, null, ready("web-3", "10.0.0.3")), "a server the CA did not sign is refused");
  }

  @Test
  void theDatabaseDownAtStartDoesNotStopTheSink() throws Exception {
    try (TcpProxy proxy = new TcpProxy(MariaDb.HOST, MariaDb.PORT)) {
      proxy.cut();
      Sink s = sink("jdbc:mariadb://127.0.0.1:" + proxy.port() + "/" + MariaDb.DATABASE, Map.of());
      assertThrows(SinkException.class, () -> apply(s, null, ready("web-1", "10.0.0.1")));
      proxy.restore();
      await().ignoreExceptions().until(() -> {
        apply(s, null, ready("web-1", "10.0.0.1"));
        return true;
      });
      assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"),
          "migrated once it could");
      assertFalse(query("SELECT uid FROM " + table).isEmpty());
    }
  }

  @Test
  void purgeDeletesInBatchesUntilNoExpiredRowIsLeft() throws Exception {
    // No reconcile pass: the cache is empty and would mark the live row deleted.
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("purgeBatch", 2), ctx -> ctx.synced = false);
    for (int i = 1; i <= 5; i++) {
      PodState old = withVersion(ready("old-" + i, "10.0.1." + i), "5");
      apply(s, null, old);
      apply(s, old, null);
    }
    PodState recent = withVersion(ready("recent-1", "10.0.2.1"), "6");
    apply(s, null, recent);
    apply(s, recent, null);
    apply(s, null, withVersion(ready("web-1", "10.0.0.1"), "7"));
    try (Connection c = db(); Statement st = c.createStatement()) {
      assertEquals(5, st.executeUpdate("UPDATE " + table + " SET deleted_at = NOW(3) - INTERVAL 30 DAY WHERE name LIKE 'old-%'"));
    }
    assertEquals(5, ((MySqlSink) s).purge(), "five rows with a batch of two: three statements");
    assertEquals(List.of("recent-1", "web-1"), query("SELECT name FROM " + table + " ORDER BY name"),
        "rows within the retention and live rows stay");
    assertEquals(5.0, context.metric("mysql_rows_purged_total"));
    assertEquals(0, ((MySqlSink) s).purge());
    assertEquals(5.0, context.metric("mysql_rows_purged_total"), "nothing more counted");
  }

  /**
   * At a start the whole initial list is on its way to the sink while the first pass lists the table:
   * the pass leaves the row of a pod with a change on its way to that change (both wrote it), counted.
   */
  @Test
  void reconcileLeavesTheRowOfAPodWithAChangeOnItsWayToThatChange() throws Exception {
    Sink s = sink(Map.of());
    PodState onItsWay = withVersion(ready("web-1", "10.0.0.1"), "3");
    PodState missing = withVersion(ready("web-2", "10.0.0.2"), "4");
    context.pods.add(onItsWay);
    context.pods.add(missing);
    context.pending.add(onItsWay.key());

    ((MySqlSink) s).reconcile();
    assertEquals(List.of("web-2"), query("SELECT name FROM " + table), "only the row no change was on its way for");
    assertEquals(1.0, context.metric("reconcile_left_to_changes_total"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "missing"), "what was left is no drift");

    apply(s, null, onItsWay);
    context.pending.remove(onItsWay.key());
    assertEquals(List.of("web-1", "web-2"), query("SELECT name FROM " + table + " ORDER BY name"), "written by its change");
  }

  /**
   * A standby runs the write path at its initial list (TakeoverBench: a new leader's first upsert of
   * one row took 25-130 ms): the upsert prepared and bound, the owners' read-back run, and nothing
   * written. A replica that leads at its initial list writes from the start and runs none.
   */
  @Test
  void aStandbyRunsTheWritePathWithoutWritingAndALeaderDoesNot() throws Exception {
    Sink standby = sink(MariaDb.jdbcUrl(), Map.of(), ctx -> ctx.led.clear());
    TestSinkContext standbyContext = context;
    standbyContext.pods.add(withVersion(ready("web-1", "10.0.0.1"), "3"));
    standby.podsSynced();
    assertTrue(((MySqlSink) standby).warmedUp.get(30, java.util.concurrent.TimeUnit.SECONDS), "run on the standby");
    assertEquals(List.of(), query("SELECT uid FROM " + table), "nothing written");
    assertEquals(0.0, standbyContext.metric("mysql_rows_written_total"));

    Sink leader = sink(Map.of());
    context.pods.add(withVersion(ready("web-2", "10.0.0.2"), "4"));
    leader.podsSynced();
    assertFalse(((MySqlSink) leader).warmedUp.get(30, java.util.concurrent.TimeUnit.SECONDS), "not on a leader");
  }

  @Test
  void reconcileDoesNothingBeforeTheCacheHasSynced() throws Exception {
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("reconcileEvery", "50ms"), ctx -> ctx.synced = false);
    PodState notListedYet = withVersion(ready("old-1", "10.0.0.9"), "2");
    apply(s, null, notListedYet);
    PodState listed = withVersion(ready("web-1", "10.0.0.1"), "3");
    context.pods.add(listed);
    PodState drifted = withVersion(ready("web-2", "10.0.0.2"), "4");
    context.pods.add(drifted);
    apply(s, null, drifted);
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.executeUpdate("UPDATE " + table + " SET ip = '1.2.3.4' WHERE uid = 'uid-web-2'");
    }

    ((MySqlSink) s).reconcile();
    assertNull(query("SELECT deleted_at FROM " + table + " WHERE uid = ?", "uid-old-1").get(0),
        "a pod the incomplete list does not hold yet is not marked deleted");
    assertTrue(query("SELECT uid FROM " + table + " WHERE uid = ?", "uid-web-1").isEmpty(), "no row written");
    assertEquals(List.of("1.2.3.4"), query("SELECT ip FROM " + table + " WHERE uid = ?", "uid-web-2"), "no row rewritten");
    assertEquals(0.0, context.metric("reconcile_drift_total", "orphan"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "missing"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "changed"));
    assertEquals(0.0, context.metric("reconcile_runs_total", "ok"), "the schedule skips passes too");

    // Once synced, the same state is reconciled by the schedule.
    context.synced = true;
    await().until(() -> query("SELECT deleted_at FROM " + table + " WHERE uid = ?", "uid-old-1").get(0) != null
        && !query("SELECT uid FROM " + table + " WHERE uid = ?", "uid-web-1").isEmpty()
        && query("SELECT ip FROM " + table + " WHERE uid = ?", "uid-web-2").equals(List.of("10.0.0.2")));
    assertEquals(1.0, context.metric("reconcile_drift_total", "orphan"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "missing"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "changed"));
  }

  @Test
  void reconcileRepairsARowEditedByHandAtTheSameResourceVersion() throws Exception {
    Sink s = sink(Map.of());
    PodState p = withVersion(ready("web-1", "10.0.0.1"), "3");
    context.pods.add(p);
    apply(s, null, p);
    String expected = "10.0.0.1|192.168.0.1|node-1|web|RUNNING|1|0|-|{}|3";
    String row = "SELECT CONCAT_WS('|', ip, host_ip, node, service, phase, ready, terminating, COALESCE(rejected, '-'), labels,"
        + " resource_version) FROM "
        + table + " WHERE uid = ?";
    assertEquals(List.of(expected), query(row, "uid-web-1"));
    try (Connection c = db(); Statement st = c.createStatement()) {
      assertEquals(1, st.executeUpdate("UPDATE " + table + " SET ip = '1.2.3.4', host_ip = '9.9.9.9', node = 'node-x',"
          + " service = 'other', phase = 'FAILED', ready = 0, terminating = 1, labels = '{\"x\":\"y\"}',"
          + " rejected = 'by hand' WHERE uid = 'uid-web-1'"));
    }
    ((MySqlSink) s).reconcile();
    assertEquals(List.of(expected), query(row, "uid-web-1"), "every column the sink owns is rewritten from the cache");
    assertEquals(1.0, context.metric("reconcile_drift_total", "changed"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "orphan"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "missing"));

    // One column is enough.
    try (Connection c = db(); Statement st = c.createStatement()) {
      assertEquals(1, st.executeUpdate("UPDATE " + table + " SET ready = 0 WHERE uid = 'uid-web-1'"));
    }
    ((MySqlSink) s).reconcile();
    assertEquals(List.of(expected), query(row, "uid-web-1"));
    assertEquals(2.0, context.metric("reconcile_drift_total", "changed"));

    // A row in step with the cache is no drift.
    ((MySqlSink) s).reconcile();
    assertEquals(2.0, context.metric("reconcile_drift_total", "changed"));
  }

  @Test
  void reconcileLeavesARowNewerThanTheCacheAlone() throws Exception {
    Sink s = sink(Map.of());
    PodState cached = withVersion(ready("web-1", "10.0.0.1"), "3");
    context.pods.add(cached);
    // The sink already wrote a later change the cache has not caught up with.
    apply(s, null, withVersion(withIp(cached, "10.0.0.5"), "5"));
    ((MySqlSink) s).reconcile();
    assertEquals(List.of("10.0.0.5|5"), query("SELECT CONCAT_WS('|', ip, resource_version) FROM " + table + " WHERE uid = ?",
        "uid-web-1"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "changed"), "a lagging cache is no drift");
    assertEquals(0.0, context.metric("reconcile_drift_total", "missing"));
  }

  private String deletedAt(String uid) throws Exception {
    return query("SELECT deleted_at FROM " + table + " WHERE uid = ?", uid).get(0);
  }

  /**
   * Waits until the timers the sink set at start have fired: they share one thread, and a purge first
   * runs purgeEvery (500 ms in these tests) after start, after anything due sooner. Seen by the purge
   * of a row deleted long ago.
   */
  private void awaitTheTimersOfTheStart(Sink s) throws Exception {
    PodState old = withVersion(ready("purged-1", "10.0.9.9"), "1");
    apply(s, null, old);
    apply(s, old, null);
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.executeUpdate("UPDATE " + table + " SET deleted_at = NOW(3) - INTERVAL 30 DAY WHERE uid = 'uid-purged-1'");
    }
    await().until(() -> context.metric("mysql_rows_purged_total") >= 1.0);
  }

  @Test
  void aDeleteWinsOverALiveWriteAtTheSameResourceVersion() throws Exception {
    Sink s = sink(Map.of());
    PodState p = withVersion(ready("web-1", "10.0.0.1"), "3");
    apply(s, null, p);
    apply(s, p, null);
    String deleted = deletedAt("uid-web-1");
    assertNotNull(deleted);

    // A pass that read the cache before the delete reached it writes the pod live, at the version the delete has.
    context.pods.add(p);
    ((MySqlSink) s).reconcile();
    assertEquals(deleted, deletedAt("uid-web-1"), "the reconcile write does not bring the deleted pod back");
    apply(s, null, p); // a relist's change, same version
    assertEquals(deleted, deletedAt("uid-web-1"), "nor does a change at the same version");
    apply(s, p, null); // the delete again, retried
    assertEquals(deleted, deletedAt("uid-web-1"), "the first deletion time is kept, so the retention does not restart");
  }

  @Test
  void theFirstPassRunsWhenThePodsAreSyncedNotAPeriodAfterStart() throws Exception {
    // A period of an hour: only the pass podsSynced() starts can repair the table within the test.
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("reconcileEvery", "1h", "purgeEvery", "500ms"), ctx -> ctx.synced = false);
    awaitTheTimersOfTheStart(s); // the informers take longer than that to list
    // The table as the daemon left it before a restart.
    PodState wentUnready = withVersion(ready("web-1", "10.0.0.1"), "3");
    PodState deletedWhileDown = withVersion(ready("web-2", "10.0.0.2"), "4");
    apply(s, null, wentUnready);
    apply(s, null, deletedWhileDown);
    // What the informers list after it.
    context.pods.add(withVersion(withReady(wentUnready, false), "7"));
    context.pods.add(withVersion(ready("web-3", "10.0.0.3"), "8"));
    assertEquals(0.0, context.metric("reconcile_runs_total", "ok"), "no pass before the initial list");
    assertEquals(0.0, context.metric("reconcile_drift_total", "orphan"));

    context.synced = true;
    s.podsSynced();
    await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
        query("SELECT ready FROM " + table + " WHERE uid = ?", "uid-web-1").equals(List.of("0"))
            && deletedAt("uid-web-2") != null
            && !query("SELECT uid FROM " + table + " WHERE uid = ?", "uid-web-3").isEmpty());
    assertEquals(1.0, context.metric("reconcile_drift_total", "changed"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "orphan"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "missing"));
  }

  @Test
  void aClusterThisReplicaStartsLeadingIsReconciledAtOnce() throws Exception {
    // Another replica leads c1 when this one starts.
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("reconcileEvery", "1h", "purgeEvery", "500ms"), ctx -> ctx.led.clear());
    awaitTheTimersOfTheStart(s);
    PodState wentUnready = withVersion(ready("web-1", "10.0.0.1"), "3");
    PodState deletedMeanwhile = withVersion(ready("web-2", "10.0.0.2"), "4");
    apply(s, null, wentUnready);
    apply(s, null, deletedMeanwhile);
    context.pods.add(withVersion(withReady(wentUnready, false), "7"));

    context.led.add("c1");
    s.leadershipChanged("c1", 1, true);
    await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
        query("SELECT ready FROM " + table + " WHERE uid = ?", "uid-web-1").equals(List.of("0"))
            && deletedAt("uid-web-2") != null);
  }

  /**
   * A takeover's pass waits until the new term's first write (the fresh held changes, which the
   * daemon hands out first and alone) is done, so it does not compete with it; at most a second.
   */
  @Test
  void aTakeoversPassStartsAfterTheNewTermsFirstWrite() throws Exception {
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("reconcileEvery", "1h", "purgeEvery", "500ms"), ctx -> ctx.led.clear());
    awaitTheTimersOfTheStart(s);
    double runs = context.metric("reconcile_runs_total", "ok");
    context.led.add("c1");
    s.leadershipChanged("c1", 1, true);
    await().during(java.time.Duration.ofMillis(400)).atMost(java.time.Duration.ofSeconds(1))
        .until(() -> context.metric("reconcile_runs_total", "ok") == runs);
    apply(s, null, withVersion(ready("fresh-1", "10.0.0.5"), "9")); // the fresh change, first
    await().atMost(java.time.Duration.ofSeconds(10)).until(() -> context.metric("reconcile_runs_total", "ok") > runs);
  }

  @Test
  void aPassLeavesTheDeletionsOfAClusterItNoLongerLeadsToTheLeader() throws Exception {
    Sink s = sink(MariaDb.jdbcUrl(), Map.of("reconcileEvery", "1h"), ctx -> ctx.synced = false);
    apply(s, null, withVersion(ready("old-1", "10.0.0.9"), "2"));
    context.synced = true;
    // The pass counts c1 among its clusters, but by the time it writes, the Lease's renewal is overdue.
    context.budget = java.time.Duration.ZERO;
    ((MySqlSink) s).reconcile();
    assertNull(deletedAt("uid-old-1"), "no deletion once this replica may no longer lead the cluster");
    assertEquals(1.0, context.metric("mysql_deletions_held_total", "not_leading"), "the held row is counted");
    context.budget = java.time.Duration.ofMillis(500); // leading, but too little time left to bound the statement by
    ((MySqlSink) s).reconcile();
    assertNull(deletedAt("uid-old-1"));
    assertEquals(1.0, context.metric("mysql_deletions_held_total", "budget_short"));

    context.budget = io.k8ssync.sink.SinkContext.FOREVER;
    ((MySqlSink) s).reconcile();
    assertNotNull(deletedAt("uid-old-1"), "the leader's next pass marks it");
  }

  /** {@code p} rejected by validation for {@code why}, as PodProjector says it: the field and the reason, never the value. */
  private static PodState rejected(PodState p, String why) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), 1_700_000_000_000L, why);
  }

  private String liveQuery() {
    // The README's query by service.
    return "SELECT name FROM " + table + " WHERE service = ? AND deleted_at IS NULL AND rejected IS NULL ORDER BY name";
  }

  @Test
  void aRejectedPodKeepsItsRowMarkedRejectedAndNeverReady() throws Exception {
    Sink s = sink(Map.of());
    PodState good = withVersion(ready("web-1", "10.0.0.1"), "3");
    apply(s, null, good);
    // The pod's weight annotation is changed to a bad value: it is registered nowhere from now on.
    PodState bad = rejected(withVersion(good, "4"), "k8s-sync.io/weight is not an integer between 1 and 100");
    apply(s, good, bad);
    assertEquals(List.of("0"), query("SELECT ready FROM " + table + " WHERE uid = ?", "uid-web-1"), "a rejected pod is never ready");
    String row = "SELECT CONCAT_WS('|', ready, COALESCE(ready_since, '-'), COALESCE(rejected, '-'), COALESCE(deleted_at, '-'))"
        + " FROM " + table + " WHERE uid = ?";
    assertEquals(List.of("0|-|k8s-sync.io/weight is not an integer between 1 and 100|-"), query(row, "uid-web-1"),
        "kept, never ready, says which field failed");
    assertEquals(List.of(), query(liveQuery(), "web"), "not among the service's live pods");
    assertEquals(List.of("web-1"), query("SELECT name FROM " + table + " WHERE ip = ?", "10.0.0.1"), "still found by IP");

    // A rejected pod with no service at all (a bad service label) is kept the same way.
    PodState noService = rejected(withVersion(io.k8ssync.sink.PodStates.withService(ready("web-2", "10.0.0.2"), null), "2"),
        "service (label app) contains '..'");
    apply(s, null, noService);
    assertEquals(List.of("0|-|service (label app) contains '..'|-"), query(row, "uid-web-2"));

    // Fixed: the next version of the pod is live again.
    PodState fixed = withVersion(good, "5");
    apply(s, bad, fixed);
    assertEquals(List.of("1|-|-|-"), query(row, "uid-web-1"));
    assertEquals(List.of("web-1"), query(liveQuery(), "web"));
  }

  @Test
  void reconcileRepairsTheRowOfARejectedPodToTheShapeAWriteGivesIt() throws Exception {
    Sink s = sink(Map.of());
    PodState bad = rejected(withVersion(ready("web-1", "10.0.0.1"), "3"), "k8s-sync.io/port is not an integer between 1 and 65535");
    context.pods.add(bad);
    apply(s, null, bad);
    String row = "SELECT CONCAT_WS('|', ready, COALESCE(ready_since, '-'), COALESCE(rejected, '-')) FROM " + table + " WHERE uid = ?";
    String expected = "0|-|k8s-sync.io/port is not an integer between 1 and 65535";
    assertEquals(List.of(expected), query(row, "uid-web-1"));
    ((MySqlSink) s).reconcile();
    assertEquals(0.0, context.metric("reconcile_drift_total", "changed"), "what a write gives it is what reconcile wants");

    // The row as the previous version wrote it, at the same resourceVersion.
    try (Connection c = db(); Statement st = c.createStatement()) {
      assertEquals(1, st.executeUpdate("UPDATE " + table + " SET ready = 1, ready_since = NOW(3), rejected = NULL"
          + " WHERE uid = 'uid-web-1'"));
    }
    ((MySqlSink) s).reconcile();
    assertEquals(List.of(expected), query(row, "uid-web-1"));
    assertEquals(1.0, context.metric("reconcile_drift_total", "changed"));
  }

  @Test
  void aTableOfThePreviousSchemaGainsTheRejectedColumnAtStartAndKeepsItsRows() throws Exception {
    // The released schema 1, as a previous version of the sink left it, with one row.
    try (Connection c = db(); Statement st = c.createStatement()) {
      st.execute(Schema.migrations(table).get(0).get(0));
      st.execute("CREATE TABLE " + table + "_schema_version (version INT NOT NULL PRIMARY KEY, applied_at DATETIME(3) NOT NULL)");
      st.execute("INSERT INTO " + table + "_schema_version VALUES (1, NOW(3))");
      st.execute("INSERT INTO " + table + " (uid, cluster, namespace, name, service, ip, phase, ready, terminating, labels,"
          + " updated_at, resource_version) VALUES ('uid-old-1', 'c1', 'ns', 'old-1', 'web', '10.0.0.9', 'RUNNING', 1, 0, '{}',"
          + " NOW(3), 2)");
    }
    assertTrue(query("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
        + " AND COLUMN_NAME = 'rejected'", table).isEmpty(), "the previous schema has no rejected column");

    Sink s = sink(MariaDb.jdbcUrl(), Map.of(), ctx -> ctx.synced = false);
    apply(s, null, rejected(withVersion(ready("web-1", "10.0.0.1"), "3"), "status.podIP is not an IP address"));
    assertEquals(List.of("1", "2", "3"), query("SELECT version FROM " + table + "_schema_version ORDER BY version"));
    assertEquals(List.of("YES"), query("SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        + " AND TABLE_NAME = ? AND COLUMN_NAME = 'rejected'", table));
    assertEquals(List.of("old-1"), query(liveQuery(), "web"), "the old row is kept, not rejected");
    assertEquals(List.of("status.podIP is not an IP address"), query("SELECT rejected FROM " + table + " WHERE uid = ?", "uid-web-1"));
  }
}

package io.k8ssync.sink.mysql;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The upsert's guards, column by column, on the test bed's real MariaDB: a row another owner holds (of our
 * cluster or another one, even under our owner id) is left exactly as it was; a row of ours with a newer
 * resourceVersion keeps its data; the cluster's default owner's row is taken over in place; at the same
 * version a delete wins and the first deletion time stays. All cases go in one multi-row statement, our
 * rows and others' interleaved, so no row's decision can leak into the next one's. Both statement shapes: each
 * way of learning the owners ({@link RowWriter.Owners}) comes with its own guard ({@link UpsertSql.Guard}).
 */
class RowWriterGuardsTest {

  private static final String T1 = "2021-01-01 00:00:00.000";
  private static final long DELETED = 1_800_000_000_000L;
  private static final long UPDATED = 1_800_000_100_000L;

  private final RowWriterTable rows = new RowWriterTable("rg");
  private final String table = rows.name;

  @AfterEach
  void dropTables() throws Exception {
    rows.close();
  }

  /** A stored row whose every data column differs from what {@link #incoming} writes. */
  private void stored(String name, String cluster, String owner, long version, String deletedAt) throws Exception {
    try (Connection c = RowWriterTable.db(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO " + table + " (uid, cluster, owner, namespace, name, service, ip, host_ip, node, phase, ready,"
          + " terminating, labels, created_at, ready_since, deleted_at, updated_at, resource_version) VALUES ('uid-" + name + "', '"
          + cluster + "', " + (owner == null ? "NULL" : "'" + owner + "'") + ", 'old-ns', 'old-" + name + "', 'old', '10.9.9.9',"
          + " '192.168.9.9', 'node-old', 'PENDING', 0, 1, '{\"old\":\"1\"}', '2020-01-01 00:00:00.000', NULL, "
          + (deletedAt == null ? "NULL" : "'" + deletedAt + "'") + ", '2020-01-02 00:00:00.000', " + version + ")");
    }
  }

  /** Pod {@code name} of cluster c1 at {@code version}, live or deleted. */
  private static RowWriter.Row incoming(String name, long version, boolean deleted) {
    return new RowWriter.Row(withVersion(ready(name, "10.0.0.2"), Long.toString(version)), deleted ? DELETED : 0, UPDATED);
  }

  /** Every column of every row, by uid. */
  private Map<String, Map<String, String>> rows() throws Exception {
    Map<String, Map<String, String>> out = new TreeMap<>();
    try (Connection c = RowWriterTable.db(); Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT * FROM " + table)) {
      ResultSetMetaData md = rs.getMetaData();
      while (rs.next()) {
        Map<String, String> row = new LinkedHashMap<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          row.put(md.getColumnLabel(i), rs.getString(i));
        }
        out.put(rs.getString("uid"), row);
      }
    }
    return out;
  }

  private static String time(long millis) {
    return PodRow.time(millis).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS"));
  }

  @ParameterizedTest
  @EnumSource(RowWriter.Owners.class)
  void eachRowIsWrittenOnlyWhenItIsOursAndNotNewerWhateverItsNeighbours(RowWriter.Owners owners) throws Exception {
    RowWriter w = rows.writer(owners);
    stored("default", "c1", "c1", 3, null);
    stored("foreign", "c1", "team-b", 5, null);
    stored("same-deleted", "c1", "team-a", 6, T1);
    stored("other-cluster", "c2", "team-a", 5, null);
    stored("revived", "c1", "team-a", 6, T1);
    stored("foreign-delete", "c1", "team-b", 5, null);
    stored("stale", "c1", "team-a", 9, null);
    stored("stale-default", "c1", "c1", 9, null);
    stored("same-delete", "c1", "team-a", 6, null);
    stored("deleted-twice", "c1", "team-a", 6, T1);
    stored("null-owner", "c1", null, 3, null);
    stored("other-default", "c2", "c2", 3, null);
    Map<String, Map<String, String>> before = rows();

    List<RowWriter.Row> refused = w.upsert(List.of(incoming("default", 4, false), incoming("foreign", 7, false),
        incoming("same-deleted", 6, false), incoming("other-cluster", 7, false), incoming("revived", 7, false),
        incoming("foreign-delete", 7, true), incoming("stale", 8, false), incoming("stale-default", 8, false),
        incoming("same-delete", 6, true), incoming("deleted-twice", 6, true), incoming("null-owner", 4, false),
        incoming("other-default", 4, false), incoming("new", 1, false)));

    assertEquals(List.of("uid-foreign", "uid-other-cluster", "uid-foreign-delete", "uid-other-default"),
        refused.stream().map(r -> r.pod().uid()).toList());
    Map<String, Map<String, String>> after = rows();
    for (String untouched : List.of("foreign", "other-cluster", "foreign-delete", "stale", "other-default")) {
      assertEquals(before.get("uid-" + untouched), after.get("uid-" + untouched), untouched);
    }
    // Taken over from the cluster's default owner, but newer data of its own stays.
    Map<String, String> staleDefault = new LinkedHashMap<>(before.get("uid-stale-default"));
    staleDefault.put("owner", "team-a");
    assertEquals(staleDefault, after.get("uid-stale-default"));

    List<String> written = new ArrayList<>();
    for (String name : List.of("default", "null-owner", "same-deleted", "revived", "same-delete", "deleted-twice", "new")) {
      Map<String, String> r = after.get("uid-" + name);
      written.add(String.join("|", name, r.get("cluster"), r.get("owner"), r.get("namespace"), r.get("name"), r.get("service"),
          r.get("ip"), r.get("host_ip"), r.get("node"), r.get("phase"), r.get("ready"), r.get("terminating"), r.get("labels"),
          String.valueOf(r.get("deleted_at")), r.get("updated_at"), r.get("resource_version")));
    }
    String now = time(UPDATED);
    String data = "|team-a|ns|%s|web|10.0.0.2|192.168.0.1|node-1|RUNNING|1|0|{}|%s|" + now + "|%d";
    assertEquals(List.of(
        "default|c1" + data.formatted("default", null, 4),
        "null-owner|c1" + data.formatted("null-owner", null, 4),
        // The same version: a live write leaves the deletion alone.
        "same-deleted|c1" + data.formatted("same-deleted", T1, 6),
        // Only a newer version brings a deleted row back.
        "revived|c1" + data.formatted("revived", null, 7),
        "same-delete|c1" + data.formatted("same-delete", time(DELETED), 6),
        // A repeated delete keeps the first deletion time.
        "deleted-twice|c1" + data.formatted("deleted-twice", T1, 6),
        "new|c1" + data.formatted("new", null, 1)), written);
  }
}

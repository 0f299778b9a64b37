package io.k8ssync.sink.mysql;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Whichever way the writer learns the owners of the rows it upserted (the upsert's own RETURNING on
 * MariaDB, or a read-back by primary key elsewhere), it names exactly the rows another owner holds:
 * not a new row, not a row of ours it changed, not a row of ours it left alone because the stored
 * version is newer. On the test bed's real MariaDB.
 */
class RowWriterOwnersTest {

  private final RowWriterTable rows = new RowWriterTable("rw");
  private final String table = rows.name;

  @AfterEach
  void dropTables() throws Exception {
    rows.close();
  }

  private void insert(String uid, String owner, long version) throws Exception {
    try (Connection c = RowWriterTable.db(); Statement st = c.createStatement()) {
      st.execute("INSERT INTO " + table + " (uid, cluster, owner, namespace, name, service, ip, phase, ready, terminating, labels,"
          + " updated_at, resource_version) VALUES ('" + uid + "', 'c1', '" + owner + "', 'ns', '" + uid + "', 'web', '10.0.0.1',"
          + " 'RUNNING', 1, 0, '{}', NOW(3), " + version + ")");
    }
  }

  private List<String> rows() throws Exception {
    try (Connection c = RowWriterTable.db(); PreparedStatement ps = c.prepareStatement(
        "SELECT CONCAT_WS('|', uid, owner, resource_version) FROM " + table + " ORDER BY uid"); ResultSet rs = ps.executeQuery()) {
      List<String> out = new ArrayList<>();
      while (rs.next()) {
        out.add(rs.getString(1));
      }
      return out;
    }
  }

  private static RowWriter.Row row(String name, String version) {
    PodState p = withVersion(ready(name, "10.0.0.2"), version);
    return new RowWriter.Row(p, 0, System.currentTimeMillis());
  }

  @ParameterizedTest
  @EnumSource(RowWriter.Owners.class)
  void namesExactlyTheRowsOfAnotherOwner(RowWriter.Owners owners) throws Exception {
    RowWriter w = rows.writer(owners);
    insert("uid-foreign", "team-b", 5);
    insert("uid-stale", "team-a", 9);
    insert("uid-changed", "team-a", 3);
    insert("uid-default", "c1", 3); // the cluster's default owner's: ours to take over in place

    List<RowWriter.Row> refused = w.upsert(List.of(row("new", "4"), row("foreign", "7"), row("stale", "8"), row("changed", "4"),
        row("default", "4")));

    assertEquals(List.of("uid-foreign"), refused.stream().map(r -> r.pod().uid()).toList());
    assertEquals(List.of("uid-changed|team-a|4", "uid-default|team-a|4", "uid-foreign|team-b|5", "uid-new|team-a|4",
        "uid-stale|team-a|9"), rows());

    // A batch of rows that are all new, and one where every row changes: nothing refused either way.
    assertEquals(List.of(), w.upsert(List.of(row("new-2", "1"), row("new-3", "1"))));
    assertEquals(List.of(), w.upsert(List.of(row("new-2", "2"), row("new-3", "2"))));
    // Every row changed but the foreign one, which the count alone cannot tell from a new row.
    refused = w.upsert(List.of(row("new-2", "3"), row("foreign", "8")));
    assertEquals(List.of("uid-foreign"), refused.stream().map(r -> r.pod().uid()).toList());
  }
}

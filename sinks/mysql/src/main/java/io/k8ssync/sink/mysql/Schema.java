package io.k8ssync.sink.mysql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The pods table and its versioned migrations. At start the sink takes a named database lock,
 * applies the migrations the schema-version table has not seen, in order, and records each, so an
 * upgrade never needs manual SQL and two daemons starting at once do not migrate twice.
 */
final class Schema {

  /**
   * Migration N is {@code migrations(table).get(N - 1)}, its statements run in order; append only, never
   * edit a released one.
   */
  static List<List<String>> migrations(String table) {
    return List.of(
        List.of("CREATE TABLE IF NOT EXISTS " + table + " ("
            + " uid VARCHAR(64) NOT NULL PRIMARY KEY,"
            + " cluster VARCHAR(63) NOT NULL,"
            + " namespace VARCHAR(63) NOT NULL,"
            + " name VARCHAR(253) NOT NULL,"
            + " service VARCHAR(63) NULL,"
            + " ip VARCHAR(45) NULL,"
            + " host_ip VARCHAR(45) NULL,"
            + " node VARCHAR(253) NULL,"
            + " phase VARCHAR(16) NOT NULL,"
            + " ready BOOLEAN NOT NULL,"
            + " terminating BOOLEAN NOT NULL,"
            + " labels TEXT NOT NULL,"
            + " created_at DATETIME(3) NULL,"
            + " ready_since DATETIME(3) NULL,"
            + " deleted_at DATETIME(3) NULL,"
            + " updated_at DATETIME(3) NOT NULL,"
            + " resource_version BIGINT NOT NULL,"
            + " KEY idx_service (service, deleted_at),"
            + " KEY idx_ip (ip, deleted_at),"
            + " KEY idx_pod (cluster, namespace, name),"
            + " KEY idx_deleted (deleted_at)"
            + ") DEFAULT CHARSET=utf8mb4"),
        // Why a pod failed validation (field and reason, never the value); NULL for an accepted pod. Plain
        // ADD COLUMN: MySQL has no IF NOT EXISTS here, and the version table already runs it once.
        List.of("ALTER TABLE " + table + " ADD COLUMN rejected VARCHAR(" + PodRow.REJECTED_LENGTH + ") NULL AFTER terminating"),
        // Who wrote the row (RowOwner): the rows so far are their cluster's default owner's. NULL stays allowed and
        // reads as that owner too, so a replica of the previous version still writing during an upgrade is not refused.
        List.of("ALTER TABLE " + table + " ADD COLUMN owner VARCHAR(63) NULL AFTER cluster",
            "UPDATE " + table + " SET owner = cluster WHERE owner IS NULL"));
  }

  private Schema() {}

  /** Brings the schema to the latest version; returns the version it is at. */
  static int migrate(Connection c, String table) throws SQLException {
    String versions = table + "_schema_version";
    try (Statement s = c.createStatement()) {
      try (ResultSet lock = s.executeQuery("SELECT GET_LOCK('" + versions + "', 60)")) {
        if (!lock.next() || lock.getInt(1) != 1) {
          throw new SQLException("could not take the migration lock " + versions + " within 60 s");
        }
      }
      try {
        s.execute("CREATE TABLE IF NOT EXISTS " + versions
            + " (version INT NOT NULL PRIMARY KEY, applied_at DATETIME(3) NOT NULL) DEFAULT CHARSET=utf8mb4");
        int current = 0;
        try (ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM " + versions)) {
          rs.next();
          current = rs.getInt(1);
        }
        if (current > 0 && !exists(c, table)) {
          // The table was dropped under us: its recorded versions describe nothing now, so build it again from 1.
          s.execute("DELETE FROM " + versions);
          current = 0;
        }
        List<List<String>> all = migrations(table);
        for (int v = current + 1; v <= all.size(); v++) {
          for (String statement : all.get(v - 1)) {
            execute(s, statement);
          }
          try (PreparedStatement p = c.prepareStatement("INSERT INTO " + versions + " VALUES (?, NOW(3))")) {
            p.setInt(1, v);
            p.executeUpdate();
          }
        }
        return all.size();
      } finally {
        s.executeQuery("SELECT RELEASE_LOCK('" + versions + "')").close();
      }
    }
  }

  /** MySQL's ER_DUP_FIELDNAME: the column an ADD COLUMN adds is there already. */
  private static final int DUPLICATE_COLUMN = 1060;

  private static void execute(Statement s, String statement) throws SQLException {
    try {
      s.execute(statement);
    } catch (SQLException e) {
      // An earlier attempt added the column and failed before the version was recorded: run the rest again.
      if (e.getErrorCode() != DUPLICATE_COLUMN) {
        throw e;
      }
    }
  }

  private static boolean exists(Connection c, String table) throws SQLException {
    try (PreparedStatement p = c.prepareStatement(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?")) {
      p.setString(1, table);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() && rs.getInt(1) > 0;
      }
    }
  }
}

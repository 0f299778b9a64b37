package io.k8ssync.sink.mysql;

import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.MariaDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Map;
import java.util.UUID;

/** A pods table of a test's own on the test bed's real MariaDB, with a {@link RowWriter} for it; dropped on close. */
final class RowWriterTable implements AutoCloseable {

  final String name;
  private PodTable podTable;

  RowWriterTable(String prefix) {
    MariaDb.requireRunning();
    name = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
  }

  static Connection db() throws Exception {
    return DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
  }

  /** The table created at the schema's latest version, and a writer for owner {@code team-a}. */
  RowWriter writer(RowWriter.Owners owners) throws Exception {
    Path password = Files.createTempFile("db", ".pw");
    Files.writeString(password, MariaDb.PASSWORD);
    TestSinkContext context = new TestSinkContext("db", new MySqlSinkFactory().configDef(), Map.of("jdbcUrl", MariaDb.jdbcUrl(),
        "username", MariaDb.USER, "password", "${file:" + password + "}", "table", name, "ownerId", "team-a"), Selector.ALL);
    podTable = new PodTable(context);
    podTable.ensureSchema();
    return new RowWriter(podTable, new RowOwner("team-a"), MySqlMetrics.register(context.metrics()), owners);
  }

  @Override
  public void close() throws Exception {
    if (podTable != null) {
      podTable.close();
    }
    try (Connection c = db(); Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + name);
      s.execute("DROP TABLE IF EXISTS " + name + "_schema_version");
    }
  }
}

package io.k8ssync.benchmarks;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.mysql.MySqlSinkFactory;
import io.k8ssync.sink.testbed.MariaDb;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Sustained upsert rate of the mysql sink against the test bed's MariaDB: pods written in the
 * sink's batches (500) from as many threads as the daemon would run workers (2), first inserts
 * then updates of the same rows.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.MySqlUpsertBenchmark [rows] [workers]}
 */
public final class MySqlUpsertBenchmark {

  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
    int workers = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    MariaDb.requireRunning();
    Path pw = Files.createTempFile("db", ".pw");
    Files.writeString(pw, MariaDb.PASSWORD);
    String table = "bench_pods";
    try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD); Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
      s.execute("DROP TABLE IF EXISTS " + table + "_schema_version");
    }
    // Dry-run keeps the sink's background reconcile and purge off during the measurement; apply still writes.
    BenchContext ctx = new BenchContext("mysql", new MySqlSinkFactory(), Map.of("jdbcUrl", MariaDb.jdbcUrl(),
        "username", MariaDb.USER, "password", "${file:" + pw + "}", "table", table, "poolSize", workers), null, true);
    Sink sink = new MySqlSinkFactory().create(ctx);
    sink.start();
    System.out.printf("rows=%d workers=%d batch=%d%n", rows, workers, sink.maxBatchSize());
    System.out.println("| phase | rows | seconds | rows/s |");
    System.out.println("|---|---|---|---|");
    run(sink, rows, workers, 1, "insert");
    run(sink, rows, workers, 2, "update");
    sink.close();
  }

  private static void run(Sink sink, int rows, int workers, long version, String phase) throws Exception {
    int batch = sink.maxBatchSize();
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int from = 0; from < rows; from += batch) {
      int start = from;
      done.add(pool.submit(() -> {
        List<PodChange> changes = new ArrayList<>(batch);
        for (int i = start; i < Math.min(rows, start + batch); i++) {
          PodState p = new PodState("bench", "ns-" + (i % 50), "pod-" + i, "uid-" + i, "svc-" + (i % 400),
              "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255), "192.168.0.1", 8080, "node-" + (i % 100),
              PodState.Phase.RUNNING, version % 2 == 1, false, 1, Map.of(), Map.of("version", "v" + version), Map.of(),
              Long.toString(version * 1_000_000 + i), 1_700_000_000_000L, 1_700_000_100_000L, null);
          changes.add(PodChange.of(p.key(), null, p));
        }
        sink.apply(changes);
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    pool.shutdown();
    System.out.printf("| %s | %d | %.2f | %,.0f |%n", phase, rows, seconds, rows / seconds);
  }
}

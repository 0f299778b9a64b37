package io.k8ssync.benchmarks;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.mysql.MySqlSinkFactory;
import io.k8ssync.sink.testbed.MariaDb;
import java.io.IOException;
import java.lang.management.ManagementFactory;
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
 * sink's batches (batchSize, default 500) from as many threads as the daemon would run workers (2),
 * first inserts then updates of the same rows. Besides wall time it prints the CPU seconds this JVM
 * and the MariaDB server spent per phase: on a shared machine the wall time follows the neighbours,
 * the CPU per row does not, and it says which side limits the rate.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.k8ssync.benchmarks.MySqlUpsertBenchmark [rows] [workers] [batchSize]
 * [warmupRows]}: with warmupRows (default 0) as many rows are inserted and updated first, untimed beyond their own
 * line, then the table is emptied, so the measured phases run on a JIT-warm client. {@code scripts/bench.sh mysql} runs
 * it with the daemon's shipped JVM flags ({@code BENCH_JVM=defaults}: the JVM's own).
 */
public final class MySqlUpsertBenchmark {

  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
    int workers = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    int batchSize = args.length > 2 ? Integer.parseInt(args[2]) : new MySqlSinkFactory().configDef().parse(Map.of("jdbcUrl",
        MariaDb.jdbcUrl())).getInt("batchSize");
    int warmup = args.length > 3 ? Integer.parseInt(args[3]) : 0;
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
        "username", MariaDb.USER, "password", "${file:" + pw + "}", "table", table, "poolSize", workers, "batchSize", batchSize), null, true);
    Sink sink = new MySqlSinkFactory().create(ctx);
    sink.start();
    System.out.printf("rows=%d workers=%d batch=%d warmup=%d%n", rows, workers, sink.maxBatchSize(), warmup);
    System.out.println("| phase | rows | seconds | rows/s | client CPU s | server CPU s | CPU s per 100k rows (client + server) |"
        + " load generator CPU s (not counted) |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    if (warmup > 0) {
      // The JIT compiles the sink and the driver during the first phase (measured: its client CPU per row is 3-4x a warm
      // phase's); a running daemon is warm, so measure warm and start empty again.
      run(sink, warmup, workers, 1, "warm-up insert");
      run(sink, warmup, workers, 2, "warm-up update");
      try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD); Statement s = c.createStatement()) {
        s.execute("TRUNCATE TABLE " + table);
      }
    }
    run(sink, rows, workers, 1, "insert");
    run(sink, rows, workers, 2, "update");
    sink.close();
  }

  private static void run(Sink sink, int rows, int workers, long version, String phase) throws Exception {
    int batch = sink.maxBatchSize();
    // Each batch is built by its worker just before its apply (a live set of a few batches, as in the daemon, not of the
    // whole phase, which under the shipped 4 MiB young generation would make the collections the benchmark's own); the
    // CPU the workers spend building is measured on their threads and left out of the client's.
    java.util.concurrent.atomic.LongAdder building = new java.util.concurrent.atomic.LongAdder();
    java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    long server0 = serverCpuTicks();
    long client0 = clientCpuNanos();
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int from = 0; from < rows; from += batch) {
      int start = from;
      done.add(pool.submit(() -> {
        long b0 = threads.getCurrentThreadCpuTime();
        List<PodChange> changes = batch(start, Math.min(rows, start + batch), version);
        building.add(threads.getCurrentThreadCpuTime() - b0);
        sink.apply(changes);
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    double client = (clientCpuNanos() - client0 - building.sum()) / 1e9;
    long server1 = serverCpuTicks();
    double server = server0 < 0 || server1 < 0 ? Double.NaN : (server1 - server0) / 100.0;
    pool.shutdown();
    System.out.printf("| %s | %,d | %.2f | %,.0f | %.2f | %.2f | %.2f + %.2f | %.2f |%n", phase, rows, seconds, rows / seconds, client,
        server, client * 100_000 / rows, server * 100_000 / rows, building.sum() / 1e9);
  }

  /** Pods {@code from} to {@code to} at {@code version}: inserted at 1, updated at 2. */
  private static List<PodChange> batch(int from, int to, long version) {
    List<PodChange> changes = new ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      PodState p = new PodState("bench", "ns-" + (i % 50), "pod-" + i, "uid-" + i, "svc-" + (i % 400),
          "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255), "192.168.0.1", 8080, "node-" + (i % 100),
          PodState.Phase.RUNNING, version % 2 == 1, false, 1, Map.of(), Map.of("version", "v" + version), Map.of(),
          Long.toString(version * 1_000_000 + i), 1_700_000_000_000L, 1_700_000_100_000L, null);
      changes.add(PodChange.of(p.key(), null, p));
    }
    return changes;
  }

  private static long clientCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** The MariaDB server's user + system CPU in clock ticks (1/100 s) from /proc, or -1 where it cannot be read. */
  private static long serverCpuTicks() {
    for (ProcessHandle p : (Iterable<ProcessHandle>) ProcessHandle.allProcesses()::iterator) {
      if (p.info().command().orElse("").endsWith("/mariadbd")) {
        try {
          String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
          return -1;
        }
      }
    }
    return -1;
  }
}

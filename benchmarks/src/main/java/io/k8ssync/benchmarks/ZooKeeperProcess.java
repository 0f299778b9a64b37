package io.k8ssync.benchmarks;

import java.io.File;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A standalone ZooKeeper server in its own JVM ({@code ZooKeeperServerMain}, the classes of the
 * benchmark's class path), for {@code -Dregistry.zkProcess=true}: as in production, its threads,
 * heap and GC pauses are not the daemon's. Curator's {@code TestingServer}, the default, runs the
 * server inside the benchmark's JVM, where its allocation adds to the sink's collections and each
 * collection stops both.
 */
final class ZooKeeperProcess implements AutoCloseable {

  private final Process process;
  private final int port;
  private final Path log;

  private ZooKeeperProcess(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /** Starts a server with its data in a new directory under {@code parent} and waits until it accepts connections. */
  static ZooKeeperProcess start(Path parent) throws Exception {
    Path dir = Files.createTempDirectory(parent, "zk-bench");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path cfg = dir.resolve("zoo.cfg");
    Files.writeString(cfg, "tickTime=2000\ndataDir=" + dir.resolve("data") + "\nclientPort=" + port
        + "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n4lw.commands.whitelist=srvr,cons\n");
    List<String> cmd = ChildJvm.command(List.of("-Xmx512m", "-Xlog:gc:file=" + dir.resolve("gc.log") + ":time"), "registry.zkFlags",
        "org.apache.zookeeper.server.ZooKeeperServerMain", cfg.toString());
    Path log = dir.resolve("server.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    // A benchmark stopped with a signal leaves no server behind.
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      try (Socket s = new Socket()) {
        // Accepting connections is not serving: "srvr" (the one four-letter word allowed by default) names the mode once it serves.
        s.connect(new InetSocketAddress("127.0.0.1", port), 500);
        s.setSoTimeout(2000);
        s.getOutputStream().write("srvr".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        if (new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII).contains("Mode: ")) {
          return new ZooKeeperProcess(p, port, log);
        }
        throw new java.io.IOException("not serving yet");
      } catch (java.io.IOException e) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IllegalStateException("ZooKeeper did not start on port " + port + "; its log: " + log, e);
        }
        java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L); // polling a starting server, not a test wait
      }
    }
  }

  /**
   * The server's stop-the-world GC pauses that ended between two wall-clock instants (its {@code -Xlog:gc} with
   * wall-clock times), and the collector's name: a pause of the server delays every request in flight.
   */
  GcPauses gcPauses(long fromEpochMillis, long toEpochMillis) {
    return GcPauses.fromLog(log.getParent().resolve("gc.log"), fromEpochMillis, toEpochMillis);
  }

  /**
   * Requests received so far per client session (its {@code cons} command: {@code recved} per connection,
   * by session id), in the order the sessions were created: the server numbers them in sequence, so the
   * sink's, opened at its start, comes before the nginx stand-in's. Pings count as requests.
   */
  java.util.SortedMap<Long, Long> requestsBySession() throws java.io.IOException {
    java.util.SortedMap<Long, Long> out = new java.util.TreeMap<>(Long::compareUnsigned);
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(2000);
      s.getOutputStream().write("cons".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("recved=(\\d+),sent=\\d+,sid=0x([0-9a-f]+)")
          .matcher(new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII));
      while (m.find()) {
        out.put(Long.parseUnsignedLong(m.group(2), 16), Long.parseLong(m.group(1)));
      }
    }
    return out;
  }

  /** A full collection of the server, now ({@code jcmd <pid> GC.run}). */
  void collect() throws Exception {
    Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(process.pid()), "GC.run")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (!jcmd.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
      jcmd.destroyForcibly();
    }
  }

  String connectString() {
    return "127.0.0.1:" + port;
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    deleteTree(log.getParent().toFile());
  }

  private static void deleteTree(File f) {
    File[] children = f.listFiles();
    if (children != null) {
      for (File c : children) {
        deleteTree(c);
      }
    }
    f.delete();
  }
}

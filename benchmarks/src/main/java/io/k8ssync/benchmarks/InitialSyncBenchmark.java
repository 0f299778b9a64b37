package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.api.model.PodList;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Initial sync of many pods on the real API server (issue 19, target 1), side by side in one run:
 * (a) a bare fabric8 informer on full Pods ({@link BareInformerProcess}) and (b) the daemon itself
 * ({@code io.k8ssync.daemon.Main run --config}) with a {@code log} sink in onlyRegistrationChanges
 * mode, each in its own JVM with the same flags, one after the other against the same API server
 * and etcd. For each: time from the process start to synced (and, for the daemon, to the log line of
 * the last Ready pod), CPU seconds, RSS and heap after a full GC. Then churn with the daemon
 * running ({@link ChurnLag}): Ready flips as fast as the API server takes them, then paced to half
 * that rate, then as fast again (warm: the first phase starts while C2 still compiles), with the
 * daemon's sync lag.
 *
 * <p>Args: pods (150000), churn seconds per phase (60). Properties: sync.pageSize (500),
 * sync.xmx (6g, both JVMs), sync.apiServerMemoryLimit (GOMEMLIMIT of kube-apiserver, 6GiB), sync.churnThreads (8), sync.inFlight (64, while creating pods),
 * sync.dir (/dev/shm/k8s-sync-sync-bench-PODS: etcd's data is kept there, and a later run with the
 * same pod count reuses it; delete the folder to start afresh), sync.daemonJfr (a file: a JFR profile of
 * the daemon during the paced churn), sync.warmRerun (true: the third phase). Each churn phase prints the daemon's CPU per flip and by thread.
 */
public final class InitialSyncBenchmark {

  static final String CLUSTER = "bench";

  private InitialSyncBenchmark() {}

  static long micros(Instant t) {
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
  }

  static String load() throws Exception {
    return Files.readString(Path.of("/proc/loadavg")).strip();
  }

  public static void main(String[] args) throws Exception {
    int pods = args.length > 0 ? Integer.parseInt(args[0]) : 150_000;
    boolean populateOnly = args.length > 1 && args[1].equals("populate");
    double churnSeconds = args.length > 1 && !populateOnly ? Double.parseDouble(args[1]) : 60;
    long pageSize = Long.getLong("sync.pageSize", 500);
    String xmx = System.getProperty("sync.xmx", "6g");
    int churnThreads = Integer.getInteger("sync.churnThreads", 8);
    Path dir = Path.of(System.getProperty("sync.dir", "/dev/shm/k8s-sync-sync-bench-" + pods));
    int expectedReady = PodPopulator.readyCount(pods);
    // On Ctrl-C or a timeout's SIGTERM, take etcd, the API server and the measured JVMs down too.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> ProcessHandle.current().descendants().forEach(ProcessHandle::destroy)));
    System.out.printf("initial sync: %,d pods (%,d Ready), page size %d, -Xmx%s, load %s, %s%n",
        pods, expectedReady, pageSize, xmx, load(), Instant.now());

    try (BenchApiServer server = BenchApiServer.start(dir); KubernetesClient client = server.client()) {
      Path marker = dir.resolve("populated");
      if (Files.exists(marker)) {
        System.out.println("reusing the pods in " + dir + ": " + Files.readString(marker).strip());
      } else {
        double took = PodPopulator.populate(client, pods, Integer.getInteger("sync.inFlight", 64));
        String note = String.format("%,d pods created in %.0f s (%,.0f pods/s, create + status patch each), load %s",
            pods, took, pods / took, load());
        Files.writeString(marker, note + "\n");
        System.out.println(note);
      }
      PodList first = client.pods().inAnyNamespace()
          .list(new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build());
      long count = first.getItems().size() + (first.getMetadata().getRemainingItemCount() == null ? 0
          : first.getMetadata().getRemainingItemCount());
      if (count != pods) {
        throw new IllegalStateException("the API server holds " + count + " pods, expected " + pods + "; delete " + dir);
      }
      // The churn below leaves pods flipped; put them back so that 135,000 of 150,000 are Ready again.
      System.out.printf("restored the Ready condition of %,d pods a previous run's churn left flipped%n", PodPopulator.restore(client));
      if (populateOnly) {
        return;
      }

      List<String> jvm = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + xmx,
          "-XX:+UseG1GC", "-cp", System.getProperty("java.class.path"));
      // -Dsync.daemonFlags='...' runs the daemon with other JVM flags (the shipped footprint set, say) and
      // -Dsync.skipBare=true leaves the bare informer out: RSS at this many pods with those flags.
      String daemonFlags = System.getProperty("sync.daemonFlags", "");
      List<String> daemonJvm = daemonFlags.isBlank() ? jvm : new ArrayList<>(List.of(jvm.get(0)));
      if (!daemonFlags.isBlank()) {
        daemonJvm.addAll(List.of(daemonFlags.strip().split("\\s+")));
        daemonJvm.addAll(List.of("-cp", System.getProperty("java.class.path")));
        System.out.println("daemon JVM flags: " + daemonFlags);
      }
      double apiCpu0 = ProcessProbe.cpuSeconds(server.apiServerPid());
      Figures bare = Boolean.getBoolean("sync.skipBare") ? null : runBare(jvm, server, pageSize);
      double apiCpu1 = ProcessProbe.cpuSeconds(server.apiServerPid());
      if (bare != null) {
        System.out.println(bare.line("(a) bare informer") + String.format(", kube-apiserver CPU %.1f s", apiCpu1 - apiCpu0));
      }

      Process bareWatch = null;
      DaemonRun daemon = DaemonRun.start(daemonJvm, dir, server.kubeconfig, pageSize, expectedReady);
      daemon.output.warnings = dir.resolve("daemon-warnings.log");
      try {
        Figures d = daemon.awaitInitialSync();
        double apiCpu2 = ProcessProbe.cpuSeconds(server.apiServerPid());
        System.out.println(d.line("(b) daemon, log sink") + String.format(", kube-apiserver CPU %.1f s", apiCpu2 - apiCpu1));
        if (bare != null) {
          System.out.printf("daemon / bare: synced %.2fx, every Ready pod applied %.2fx the bare informer's synced; heap %.1fx smaller;"
                  + " CPU %.2fx; RSS %.2fx (load %s)%n",
              d.syncedSeconds / bare.syncedSeconds, d.appliedSeconds / bare.syncedSeconds, bare.heapMiB / d.heapMiB,
              d.cpuApplied / bare.cpuApplied, d.rssMiB / bare.rssMiB, load());
        }

        if (churnSeconds > 0) {
          ChurnLag churn = new ChurnLag(pods);
          daemon.output.churn = churn;
          long pid = daemon.process.pid();
          // The baseline beside the daemon: how late a bare watch gets each change from the API server
          // (-Dsync.bareWatch=false leaves it out).
          if (Boolean.parseBoolean(System.getProperty("sync.bareWatch", "true"))) {
            bareWatch = startBareWatch(jvm.get(0), server, churn);
          }
          ChurnPhase phase = new ChurnPhase(churn, client, churnThreads, churnSeconds, pid, server.apiServerPid(),
              bareWatch == null ? 0 : bareWatch.pid());
          ChurnLag.Result max = phase.run("churn, highest rate", 0);
          // -Dsync.daemonJfr=/tmp/x.jfr: a JFR profile of the daemon during the paced phase (settings=profile).
          String jfr = System.getProperty("sync.daemonJfr", "");
          if (!jfr.isBlank()) {
            jcmd(pid, "JFR.start", "name=churn", "settings=profile", "filename=" + jfr);
          }
          phase.run("churn, half that rate", max.rate() / 2);
          if (!jfr.isBlank()) {
            jcmd(pid, "JFR.stop", "name=churn");
          }
          // The first phase starts a minute after the daemon, while C2 is still compiling its hot paths
          // (~45% of its CPU then); the same rate again after both phases shows the daemon warm.
          if (Boolean.parseBoolean(System.getProperty("sync.warmRerun", "true"))) {
            phase.run("churn, highest rate again (warm)", 0);
          }
        }
      } finally {
        daemon.close();
        if (bareWatch != null) {
          bareWatch.destroy();
        }
      }
    }
  }

  /**
   * Starts {@link BareWatchProcess} and feeds its lines to {@code churn}; returns once it watches, from
   * then on every flip waits for its line too.
   */
  private static Process startBareWatch(String java, BenchApiServer server, ChurnLag churn) throws Exception {
    Process p = new ProcessBuilder(java, "-Xmx1g", "-XX:+UseG1GC", "-cp", System.getProperty("java.class.path"),
        BareWatchProcess.class.getName(), server.kubeconfig.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8), 1 << 16);
    String first = out.readLine();
    if (first == null || !first.startsWith("watching ")) {
      throw new IllegalStateException("the bare watch did not start (exit " + (p.isAlive() ? "running" : p.exitValue()) + "): " + first);
    }
    System.out.println("bare watch beside the daemon, from resourceVersion " + first.substring(9));
    Thread reader = new Thread(() -> {
      try {
        String line;
        while ((line = out.readLine()) != null) {
          String[] f = line.split(" ");
          churn.onWatchLine(CLUSTER + "/" + f[0], f[1].equals("1"), Long.parseLong(f[2]));
        }
      } catch (Exception e) {
        System.out.println("  bare watch reader failed: " + e);
      }
    }, "bare-watch-stdout");
    reader.setDaemon(true);
    reader.start();
    churn.watched = true;
    return p;
  }

  /** One churn phase: its lag, and the daemon's and the API server's CPU over it, printed. */
  private static final class ChurnPhase {
    private final ChurnLag churn;
    private final KubernetesClient client;
    private final int threads;
    private final double seconds;
    private final long daemonPid;
    private final long apiServerPid;
    private final long watchPid;

    ChurnPhase(ChurnLag churn, KubernetesClient client, int threads, double seconds, long daemonPid, long apiServerPid, long watchPid) {
      this.watchPid = watchPid;
      this.churn = churn;
      this.client = client;
      this.threads = threads;
      this.seconds = seconds;
      this.daemonPid = daemonPid;
      this.apiServerPid = apiServerPid;
    }

    ChurnLag.Result run(String label, double rate) throws Exception {
      ThreadCpu threads0 = ThreadCpu.of(daemonPid);
      double cpu0 = ProcessProbe.cpuSeconds(daemonPid);
      double api0 = ProcessProbe.cpuSeconds(apiServerPid);
      double watch0 = watchPid == 0 ? 0 : ProcessProbe.cpuSeconds(watchPid);
      ChurnLag.Result r = churn.run(client, threads, seconds, rate);
      double cpu1 = ProcessProbe.cpuSeconds(daemonPid);
      double api1 = ProcessProbe.cpuSeconds(apiServerPid);
      double watch1 = watchPid == 0 ? 0 : ProcessProbe.cpuSeconds(watchPid);
      ThreadCpu threads1 = ThreadCpu.of(daemonPid);
      System.out.println(label + ": " + r.line() + cpuLine(cpu1 - cpu0, api1 - api0, r.flips())
          + (watchPid == 0 ? "" : String.format(", bare watch CPU %.1f s", watch1 - watch0)));
      System.out.println("  daemon CPU by thread: " + String.join(", ", threads1.since(threads0, 8)));
      return r;
    }
  }

  private static String cpuLine(double daemonCpu, double apiCpu, int flips) throws Exception {
    return String.format("; daemon CPU %.1f s (%.2f ms per flip), kube-apiserver CPU %.1f s, load %s",
        daemonCpu, flips == 0 ? Double.NaN : daemonCpu * 1000 / flips, apiCpu, load());
  }

  private static void jcmd(long pid, String... command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), String.valueOf(pid)));
    cmd.addAll(List.of(command));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("jcmd " + cmd + " failed: " + out);
    }
  }

  /** The figures of one process. */
  record Figures(double syncedSeconds, double appliedSeconds, double cpuSynced, double cpuApplied, double rssMiB,
                 double heapMiB, long pods) {
    String line(String who) {
      return String.format("%s: %,d pods, synced %.2f s, every Ready pod applied %.2f s after start; CPU %.1f s (%.1f s at synced);"
          + " RSS %,.0f MiB; heap after full GC %,.1f MiB", who, pods, syncedSeconds, appliedSeconds, cpuApplied, cpuSynced, rssMiB, heapMiB);
    }
  }

  private static Figures runBare(List<String> jvm, BenchApiServer server, long pageSize) throws Exception {
    List<String> cmd = new ArrayList<>(jvm);
    cmd.addAll(List.of(BareInformerProcess.class.getName(), server.kubeconfig.toString(), String.valueOf(pageSize)));
    long t0 = micros(Instant.now());
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null && !line.startsWith("synced ")) {
        System.out.println("  bare informer: " + line);
      }
      if (line == null) {
        throw new IllegalStateException("the bare informer exited with " + p.waitFor());
      }
      String[] f = line.split(" ");
      double synced = (Long.parseLong(f[1]) - t0) / 1e6;
      double cpu = ProcessProbe.cpuSeconds(p.pid());
      double rss = ProcessProbe.rssMiB(p.pid());
      double heap = ProcessProbe.heapAfterFullGcMiB(p.pid());
      return new Figures(synced, synced, cpu, cpu, rss, heap, Long.parseLong(f[2]));
    } finally {
      p.destroy();
      p.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** The daemon's process and the reader of its standard output. */
  static final class DaemonRun implements AutoCloseable {
    final Process process;
    final DaemonOutput output;
    final long t0;

    private DaemonRun(Process process, DaemonOutput output, long t0) {
      this.process = process;
      this.output = output;
      this.t0 = t0;
    }

    static DaemonRun start(List<String> jvm, Path dir, Path kubeconfig, long pageSize, int expectedReady) throws Exception {
      Path config = dir.resolve("k8s-sync.yaml");
      Files.writeString(config, String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: " + CLUSTER + ", kubeconfig: '" + kubeconfig + "', listPageSize: " + pageSize + "}]",
          "sinks: [{name: bench, type: log, config: {stream: stdout, onlyRegistrationChanges: true}}]", ""));
      List<String> cmd = new ArrayList<>(jvm);
      cmd.addAll(List.of("io.k8ssync.daemon.Main", "run", "--config", config.toString()));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
      // INFO for the one line "all informers synced"; the log sink prints regardless of the level.
      pb.environment().put("LOG_LEVEL", "INFO");
      long t0 = micros(Instant.now());
      Process p = pb.start();
      DaemonOutput out = new DaemonOutput(p.getInputStream(), expectedReady);
      Thread reader = new Thread(out, "daemon-stdout");
      reader.setDaemon(true);
      reader.start();
      return new DaemonRun(p, out, t0);
    }

    Figures awaitInitialSync() throws Exception {
      await(output.synced, "synced");
      double cpuSynced = ProcessProbe.cpuSeconds(process.pid());
      await(output.allReady, "every Ready pod applied");
      double cpu = ProcessProbe.cpuSeconds(process.pid());
      double rss = ProcessProbe.rssMiB(process.pid());
      double heap = ProcessProbe.heapAfterFullGcMiB(process.pid());
      return new Figures((output.syncedMicros - t0) / 1e6, (output.allReadyMicros - t0) / 1e6, cpuSynced, cpu, rss, heap,
          output.syncedPods);
    }

    private void await(CountDownLatch latch, String what) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(60);
      while (!latch.await(30, TimeUnit.SECONDS)) {
        if (!process.isAlive() || System.nanoTime() > deadline) {
          throw new IllegalStateException("the daemon did not reach " + what + " (exit: " + (process.isAlive() ? "running" : process.exitValue())
              + "): online lines " + output.online);
        }
        System.out.printf("  daemon: waiting for %s, %.0f s after start: synced %s, online lines %,d, CPU %.1f s%n", what,
            (micros(Instant.now()) - t0) / 1e6, output.synced.getCount() == 0, output.online, ProcessProbe.cpuSeconds(process.pid()));
      }
    }

    @Override
    public void close() throws Exception {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  /**
   * Reads the daemon's standard output: the log sink's lines (JSON with "sink":"bench", and its own
   * "ts") and logback's JSON lines (the "timestamp" of "all informers synced"). Plain string search,
   * so that this process spends little CPU beside the daemon.
   */
  static final class DaemonOutput implements Runnable {
    private final java.io.InputStream in;
    private final int expectedReady;
    final CountDownLatch synced = new CountDownLatch(1);
    final CountDownLatch allReady = new CountDownLatch(1);
    volatile long syncedMicros;
    volatile long syncedPods;
    volatile long allReadyMicros;
    volatile int online;
    volatile ChurnLag churn;
    volatile Path warnings;
    private int warned;

    DaemonOutput(java.io.InputStream in, int expectedReady) {
      this.in = in;
      this.expectedReady = expectedReady;
    }

    static String field(String line, String name) {
      String k = "\"" + name + "\":";
      int i = line.indexOf(k);
      if (i < 0) {
        return null;
      }
      int s = i + k.length();
      if (line.charAt(s) == '"') {
        return line.substring(s + 1, line.indexOf('"', s + 1));
      }
      int e = s;
      while (e < line.length() && line.charAt(e) != ',' && line.charAt(e) != '}') {
        e++;
      }
      return line.substring(s, e);
    }

    @Override
    public void run() {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
        String line;
        while ((line = r.readLine()) != null) {
          if (line.startsWith("{\"ts\":")) {
            long ts = micros(Instant.parse(field(line, "ts")));
            boolean on = "true".equals(field(line, "online"));
            ChurnLag c = churn;
            if (c != null) {
              c.onLine(field(line, "pod"), on, ts);
            } else if ("online".equals(field(line, "action")) && ++online == expectedReady) {
              allReadyMicros = ts;
              allReady.countDown();
            }
          } else if (line.contains("all informers synced")) {
            syncedMicros = Long.parseLong(field(line, "timestamp")) * 1000;
            String msg = field(line, "formattedMessage");
            syncedPods = Long.parseLong(msg.substring(msg.indexOf("pods=") + 5).replaceAll("[^0-9].*", ""));
            synced.countDown();
          } else if (line.contains("\"level\":\"WARN\"") || line.contains("\"level\":\"ERROR\"")) {
            if (warnings != null) {
              Files.writeString(warnings, line + "\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
            }
            if (++warned <= 5) {
              System.out.println("  daemon: " + (line.length() > 300 ? line.substring(0, 300) + "..." : line)
                  + (warned == 5 ? " (further WARN/ERROR lines only in daemon-warnings.log)" : ""));
            }
          }
        }
      } catch (Exception e) {
        System.out.println("  daemon output reader failed: " + e);
      }
    }
  }
}

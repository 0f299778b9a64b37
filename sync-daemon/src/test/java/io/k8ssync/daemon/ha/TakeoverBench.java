package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;

import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * How long a takeover takes: two daemon processes with leader election on their default Lease
 * timings feed all five systems; {@code -Dtakeover.rounds} times (default 5) the leader is killed
 * with SIGKILL and a new pod is made ready at once, the first change the dead leader never saw. Per
 * round it measures, from the kill: the standby becoming leader, and the new pod reaching each
 * system. The killed replica comes back as the next standby, as a Deployment would restart it. Run
 * with {@code scripts/takeover.sh}; not part of the test command (tag "soak"): it measures, it does
 * not judge.
 */
@Tag("soak")
@ExtendWith(KubeApiServerExtension.class)
class TakeoverBench {

  @Test
  @Timeout(value = 2, unit = TimeUnit.HOURS) // 10,000 pods take minutes to create and to agree
  void measureTakeovers(KubeApi api, @TempDir Path dir) throws Exception {
    int rounds = Integer.getInteger("takeover.rounds", 5);
    int pods = Integer.getInteger("takeover.pods", 50);
    String lease = System.getProperty("takeover.lease", "");
    Map<String, List<Double>> seconds = new LinkedHashMap<>();
    try (AllSystems all = new AllSystems(api, "takeover", dir, false)) {
      Path kubeconfig = dir.resolve("kubeconfig");
      Files.writeString(kubeconfig, api.kubeconfig());
      createAll(all, pods);
      Replica leader = Replica.start(dir, "replica-0", kubeconfig, all, lease);
      await().atMost(Duration.ofSeconds(90)).until(leader::leads);
      Replica standby = startStandby(dir, "replica-1", kubeconfig, all, lease);
      await().atMost(Duration.ofSeconds(90)).untilAsserted(all::assertAgree);
      WriteStamps stamps = all.stampWrites(); // the table and the topic exist now
      ExecutorService pollers = Executors.newFixedThreadPool(AllSystems.SINKS.size());
      try {
        for (int round = 0; round < rounds; round++) {
          String pod = "t-" + round;
          AllSystems.EventTail tail = all.tailEvents(); // from the topic's end before the kill: only what comes after
          leader.kill();
          long killed = System.nanoTime();
          long killedAtMillis = System.currentTimeMillis();
          all.create(pod);
          String uid = all.client.pods().inNamespace(all.ns).withName(pod).get().getMetadata().getUid();
          String address = all.ip(pod) + ":8080";
          CompletableFuture<Long> consulUp = all.consulUp(address); // Consul keeps no time on a key: a blocking query's return
          // Each system polled on its own thread, so a slow reader (a Kafka consumer) delays only its own figure.
          Map<String, CompletableFuture<Double>> arrival = new LinkedHashMap<>();
          for (String sink : AllSystems.SINKS) {
            arrival.put(sink, CompletableFuture.supplyAsync(() -> {
              // The pod's own key, row, calls and the events since the kill: a listing of every entry per poll would time the reader.
              await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(10)).until(() -> all.hasPod(sink, address, uid, tail));
              return (System.nanoTime() - killed) / 1e9;
            }, pollers));
          }
          Map<String, Double> seen = new LinkedHashMap<>();
          Replica next = standby;
          await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).until(next::leads);
          long leaderAt = leaderSince(next); // from the new leader's own log line
          double leaderAfter = (leaderAt - killedAtMillis) / 1e3;
          seen.put("leader", leaderAfter);
          for (Map.Entry<String, CompletableFuture<Double>> e : arrival.entrySet()) {
            seen.put(e.getKey(), e.getValue().get(120, TimeUnit.SECONDS));
          }
          // The new leader's first write of the pod to each system, from the moment it holds the Lease (issue 19: <= 100 ms).
          for (String sink : AllSystems.SINKS) {
            seen.put(sink + " after lease", seen.get(sink) - leaderAfter);
          }
          // The same writes by each system's own clock: a poll on these busy cores sees a write some ms after it landed.
          for (String sink : AllSystems.SINKS) {
            all.stampOf(sink, address, uid, tail, stamps, false).ifPresent(at -> seen.put(sink + " stamped", (at - leaderAt) / 1e3));
          }
          seen.put("consul stamped", (consulUp.get(120, TimeUnit.SECONDS) - leaderAt) / 1e3);
          // Kafka's ready event is the pod's second: its first (added) goes in a round of its own before it.
          all.stampOf("kafka", address, uid, tail, stamps, true).ifPresent(at -> seen.put("kafka first event stamped", (at - leaderAt) / 1e3));
          tail.close();
          // What one poll of the full listings (AllSystems.has, this bench's reader until 2026-12-05) costs at this size.
          for (String sink : AllSystems.SINKS) {
            long t0 = System.nanoTime();
            all.has(sink, address, uid);
            seen.put(sink + " listing poll", (System.nanoTime() - t0) / 1e9);
          }
          seen.forEach((what, s) -> seconds.computeIfAbsent(what, k -> new ArrayList<>()).add(s));
          dumpRecording(next, round);
          System.out.println("takeover round " + round + ": seconds after the kill " + seen);
          leader = standby;
          standby = startStandby(dir, "replica-" + (round + 2), kubeconfig, all, lease);
        }
      } finally {
        pollers.shutdownNow();
        leader.kill();
        standby.kill();
        keepLogs(dir);
      }
    }
    StringBuilder report = new StringBuilder("takeover: " + rounds + " rounds, " + pods + " ready pods, lease settings: "
        + (lease.isEmpty() ? "defaults (leaseDuration 15s, renewDeadline 10s, retryPeriod 2s)" : lease) + "\n");
    report.append("seconds after the kill -9 of the leader: min / median / max (leader: from its log line; systems:"
        + " each polled every 10 ms on its own thread for the pod's own key, row, gateway calls and the events since the kill,"
        + " a figure is when its poll saw the pod; listing poll: one read of every entry, the reader used before;"
        + " stamped: seconds after the leader's log line by the system's own clock, ZooKeeper's mtime, MariaDB's SYSDATE(6)"
        + " in a trigger, the broker's append time, the gateway's arrival; Consul keeps none: a blocking query's return)\n");
    seconds.forEach((what, l) -> {
      double[] s = l.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      report.append(String.format("  %-7s %6.2f / %6.2f / %6.2f   all: %s%n", what.equals("leader") || what.endsWith(" poll") ? what : "in " + what,
          s[0], s[s.length / 2], s[s.length - 1], Arrays.toString(l.stream().map(x -> Math.round(x * 1000) / 1000.0).toArray())));
    });
    System.out.print(report);
    Files.writeString(Path.of("target/takeover-report.txt"), report.toString());
  }

  /**
   * With a flight recording in {@code -Dreplica.jvmArgs}, the new leader's recording so far goes to
   * target/takeover-logs (a SIGKILL at the end would lose it): the profile across its takeover.
   */
  private static void dumpRecording(Replica r, int round) throws Exception {
    if (!System.getProperty("replica.jvmArgs", "").contains("StartFlightRecording")) {
      return;
    }
    Path out = Files.createDirectories(Path.of("target/takeover-logs")).toAbsolutePath().resolve(r.identity() + "-round" + round + ".jfr");
    Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(r.process().pid()), "JFR.dump", "filename=" + out).inheritIO().start();
    jcmd.waitFor(60, TimeUnit.SECONDS);
  }

  /** Every replica's log to target/takeover-logs (the temporary directory goes with the test): where a takeover's time went. */
  private static void keepLogs(Path dir) throws java.io.IOException {
    Path out = Files.createDirectories(Path.of("target/takeover-logs"));
    try (var logs = Files.newDirectoryStream(dir, "replica-*.log")) {
      for (Path log : logs) {
        Files.copy(log, out.resolve(log.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /** The ready pods every round starts with, created by several threads (10,000 one by one would take minutes). */
  private static void createAll(AllSystems all, int pods) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<CompletableFuture<Void>> done = new ArrayList<>();
      for (int i = 0; i < pods; i++) {
        String name = "s-" + i;
        done.add(CompletableFuture.runAsync(() -> all.create(name), pool));
      }
      CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.MINUTES);
    } finally {
      pool.shutdownNow();
    }
  }

  /** When the replica's log says it became the leader (epoch millis, from the log line). */
  private static long leaderSince(Replica r) throws Exception {
    for (String line : r.log().split("\n")) {
      if (line.contains(r.identity() + " is now the leader")) {
        Matcher m = Pattern.compile("\"timestamp\":(\\d+)").matcher(line);
        if (m.find()) {
          return Long.parseLong(m.group(1));
        }
      }
    }
    throw new IllegalStateException("no leader line with a timestamp in the log of " + r.identity());
  }

  private static Replica startStandby(Path dir, String identity, Path kubeconfig, AllSystems all, String lease) throws Exception {
    Replica r = Replica.start(dir, identity, kubeconfig, all, lease);
    await().atMost(Duration.ofMinutes(5)).until(r::standsBy); // a JVM starting on a loaded machine
    // Warm, as the target has it: a standby still receiving its initial list is not what a takeover at this size measures.
    await().atMost(Duration.ofMinutes(5)).until(() -> r.log().contains("all informers synced"));
    return r;
  }
}

package io.k8ssync.benchmarks;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * CPU of another process on this host by thread, from {@code /proc/PID/task/TID/stat}: which of its
 * threads spent a phase's CPU (the JIT compilers and G1's threads are not in a JFR execution sample,
 * so a per-thread split is what says whether the Java code or the JVM's own work costs per change).
 * Threads are grouped by name with their numbers folded ({@code GC Thread#0..N} is one group; the
 * kernel keeps 15 characters of a name, so {@code C2 CompilerThre} is C2's compiler threads).
 */
final class ThreadCpu {

  /** CPU ticks (1/100 s) by thread id, and each thread's group. */
  private final Map<Long, Long> ticks;
  private final Map<Long, String> groups;

  private ThreadCpu(Map<Long, Long> ticks, Map<Long, String> groups) {
    this.ticks = ticks;
    this.groups = groups;
  }

  static ThreadCpu of(long pid) throws IOException {
    Map<Long, Long> ticks = new HashMap<>();
    Map<Long, String> groups = new HashMap<>();
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
      for (Path t : tasks) {
        try {
          String stat = Files.readString(t.resolve("stat"));
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          long tid = Long.parseLong(t.getFileName().toString());
          ticks.put(tid, Long.parseLong(f[11]) + Long.parseLong(f[12]));
          groups.put(tid, name.replaceAll("(?<=[#-])[0-9]+|[0-9]+$", "N"));
        } catch (IOException | RuntimeException gone) {
          // the thread ended between the listing and the read
        }
      }
    }
    return new ThreadCpu(ticks, groups);
  }

  /** CPU seconds by group from {@code before} to this snapshot, largest first, as "group 1.23 s" items. */
  List<String> since(ThreadCpu before, int top) {
    Map<String, Long> byGroup = new HashMap<>();
    ticks.forEach((tid, t) -> byGroup.merge(groups.get(tid), t - before.ticks.getOrDefault(tid, 0L), Long::sum));
    List<Map.Entry<String, Long>> sorted = new ArrayList<>(byGroup.entrySet());
    sorted.sort(Map.Entry.<String, Long>comparingByValue().reversed());
    List<String> out = new ArrayList<>();
    for (Map.Entry<String, Long> e : sorted.subList(0, Math.min(top, sorted.size()))) {
      if (e.getValue() > 0) {
        out.add(String.format("%s %.2f s", e.getKey(), e.getValue() / 100.0));
      }
    }
    return out;
  }
}

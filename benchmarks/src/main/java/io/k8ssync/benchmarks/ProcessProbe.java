package io.k8ssync.benchmarks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What another JVM on this host uses: CPU seconds and RSS from /proc, heap after a full GC through jcmd. */
final class ProcessProbe {

  private static final Pattern G1_USED = Pattern.compile("garbage-first heap\\s+total \\d+K, used (\\d+)K");
  private static final Pattern GEN_USED = Pattern.compile("generation\\s+total \\d+K, used (\\d+)K");

  private ProcessProbe() {}

  /** utime + stime of the process (all its threads), in seconds. */
  static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // After the command: state is field 3, utime 14 and stime 15 (1-based) -> indexes 11 and 12 here.
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
  }

  /** Resident set size in MiB. */
  static double rssMiB(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
      }
    }
    return Double.NaN;
  }

  /** Runs a full GC in the process (jcmd GC.run), then returns its used heap in MiB (GC.heap_info). */
  static double heapAfterFullGcMiB(long pid) throws IOException, InterruptedException {
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    Matcher g1 = G1_USED.matcher(info);
    if (g1.find()) {
      return Long.parseLong(g1.group(1)) / 1024.0;
    }
    long used = 0;
    Matcher gen = GEN_USED.matcher(info);
    while (gen.find()) {
      used += Long.parseLong(gen.group(1));
    }
    if (used == 0) {
      throw new IllegalStateException("cannot read the heap from jcmd GC.heap_info: " + info);
    }
    return used / 1024.0;
  }

  private static String jcmd(long pid, String command) throws IOException, InterruptedException {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(pid), command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("jcmd " + pid + " " + command + " failed: " + out);
    }
    return out;
  }
}

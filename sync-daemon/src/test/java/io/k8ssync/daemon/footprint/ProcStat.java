package io.k8ssync.daemon.footprint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A Linux process's CPU time and resident set, read from /proc as {@code ps} and {@code top} do. */
final class ProcStat {

  /** USER_HZ: the unit of utime and stime in /proc/PID/stat; 100 on every Linux this runs on (getconf CLK_TCK). */
  private static final double TICKS_PER_SECOND = 100;

  private ProcStat() {}

  /** User plus system CPU seconds the process has used so far. */
  static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
  }

  /** Resident set size in KiB (VmRSS). */
  static long rssKib(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("\\D", ""));
      }
    }
    throw new IOException("no VmRSS in /proc/" + pid + "/status");
  }
}

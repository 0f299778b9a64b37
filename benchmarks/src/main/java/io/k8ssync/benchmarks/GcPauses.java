package io.k8ssync.benchmarks;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;

/**
 * Stop-the-world GC pauses of one JVM within a window, to read a latency tail beside them: each pause
 * delays whatever that JVM had in flight. Of this JVM from the collectors' notifications ({@link #watch}),
 * of another from its {@code -Xlog:gc:file=...:time} log ({@link #fromLog}).
 */
record GcPauses(String collector, List<Double> pausesMs) {

  @Override
  public String toString() {
    double total = pausesMs.stream().mapToDouble(Double::doubleValue).sum();
    double max = pausesMs.stream().mapToDouble(Double::doubleValue).max().orElse(0);
    return String.format("%s %d pauses, %.1f ms in all, longest %.1f ms", collector, pausesMs.size(), total, max);
  }

  /** Pauses of this JVM from now until {@link Watch#stop}. */
  static Watch watch() {
    return new Watch();
  }

  static final class Watch {
    private final List<Double> pauses = java.util.Collections.synchronizedList(new ArrayList<>());
    private final List<Runnable> removers = new ArrayList<>();
    private final String collector;

    private Watch() {
      List<String> names = new ArrayList<>();
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        names.add(gc.getName());
        if (gc instanceof NotificationEmitter emitter) {
          javax.management.NotificationListener l = (n, hb) -> {
            if (com.sun.management.GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
              var info = com.sun.management.GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
              // G1's and ZGC's concurrent cycles report too: only the pauses stop the sink.
              if (!info.getGcCause().equals("No GC") && !info.getGcName().contains("Concurrent") && !info.getGcName().contains("Cycles")) {
                pauses.add((double) info.getGcInfo().getDuration());
              }
            }
          };
          emitter.addNotificationListener(l, null, null);
          removers.add(() -> {
            try {
              emitter.removeNotificationListener(l);
            } catch (javax.management.ListenerNotFoundException e) {
              // gone already
            }
          });
        }
      }
      collector = String.join("+", names);
    }

    GcPauses stop() {
      removers.forEach(Runnable::run);
      synchronized (pauses) {
        return new GcPauses(collector, List.copyOf(pauses));
      }
    }
  }

  private static final Pattern LINE = Pattern.compile("^\\[([^\\]]+)\\].*? GC\\(\\d+\\) Pause .*?([\\d.]+)ms$");
  private static final Pattern USING = Pattern.compile("\\] Using (.+)$");
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSZ");

  /** The pauses a JVM's {@code -Xlog:gc:file=...:time} log shows ending between the two instants. */
  static GcPauses fromLog(Path log, long fromEpochMillis, long toEpochMillis) {
    String collector = "unknown";
    List<Double> pauses = new ArrayList<>();
    try {
      for (String l : Files.readAllLines(log)) {
        Matcher u = USING.matcher(l);
        if (u.find()) {
          collector = u.group(1);
          continue;
        }
        Matcher m = LINE.matcher(l);
        if (m.find()) {
          long at = OffsetDateTime.parse(m.group(1), TIME).toInstant().toEpochMilli();
          if (at >= fromEpochMillis && at <= toEpochMillis) {
            pauses.add(Double.parseDouble(m.group(2)));
          }
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      return new GcPauses("unreadable log " + log + " (" + e + ")", List.of());
    }
    return new GcPauses(collector, pauses);
  }
}

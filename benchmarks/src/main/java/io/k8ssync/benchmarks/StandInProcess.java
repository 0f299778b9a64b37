package io.k8ssync.benchmarks;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Starts {@link NginxStandIn} in a child JVM and hands its sightings, with the child's own
 * timestamps, to the benchmark. Both processes read {@code System.nanoTime()}, which on Linux is
 * {@code CLOCK_MONOTONIC}, one clock for the whole host; before it starts reading, a ping-pong checks
 * that: each of the child's answers must fall between the parent's send and receipt.
 */
final class StandInProcess implements AutoCloseable {

  /** JVM flags of the child: a small heap with serial GC, its pauses short as nginx has none. */
  private static final List<String> CHILD_FLAGS = List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=4");

  private final Process process;
  private final OutputStream commands;
  private final BufferedReader answers;
  private final Thread pump;
  private final java.util.concurrent.CompletableFuture<String> stats = new java.util.concurrent.CompletableFuture<>();
  /** Longest ping-pong round trip of the clock check, ns: the bound of any clock difference between the two. */
  final long clockCheckRoundTripNanos;

  private StandInProcess(Process process, NginxStandIn.Seen seen) throws Exception {
    this.process = process;
    this.commands = process.getOutputStream();
    this.answers = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    long worst = 0;
    // The first answer waits for the child JVM to start: checked, but not counted in the round trip.
    for (int i = 0; i <= 20; i++) {
      long sent = System.nanoTime();
      send("ping");
      String line = answers.readLine();
      long received = System.nanoTime();
      if (line == null || !line.startsWith("pong ")) {
        throw new IllegalStateException("nginx stand-in: expected pong, got " + line + " (exit " + exitOrRunning() + ")");
      }
      long child = Long.parseLong(line.substring(5));
      if (child < sent || child > received) {
        throw new IllegalStateException("nginx stand-in reads another clock: its nanoTime " + child + " not within ["
            + sent + ", " + received + "]: the latencies would be meaningless");
      }
      worst = i == 0 ? 0 : Math.max(worst, received - sent);
    }
    clockCheckRoundTripNanos = worst;
    send("start");
    String line = answers.readLine();
    if (!"ready".equals(line)) {
      throw new IllegalStateException("nginx stand-in: expected ready, got " + line + " (exit " + exitOrRunning() + ")");
    }
    pump = new Thread(() -> {
      try {
        String l;
        while ((l = answers.readLine()) != null) {
          if (l.startsWith("seen ")) {
            int sp = l.indexOf(' ', 5);
            seen.seen(l.substring(5, sp), Long.parseLong(l.substring(sp + 1)));
          } else if (l.startsWith("stats ")) {
            stats.complete(l.substring(6));
          }
        }
      } catch (java.io.IOException e) {
        // the child ended
      }
    }, "stand-in-pump");
    pump.setDaemon(true);
    pump.start();
  }

  /** Starts the child with {@code args} (see {@link NginxStandIn}) and returns once it has read the state at start. */
  static StandInProcess start(NginxStandIn.Seen seen, String... args) throws Exception {
    List<String> cmd = ChildJvm.command(CHILD_FLAGS, "registry.readerFlags", NginxStandIn.class.getName(), args);
    return new StandInProcess(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start(), seen);
  }

  private void send(String line) throws java.io.IOException {
    commands.write((line + "\n").getBytes(StandardCharsets.UTF_8));
    commands.flush();
  }

  private String exitOrRunning() {
    return process.isAlive() ? "running" : Integer.toString(process.exitValue());
  }

  /** The child's CPU so far, seconds (from /proc). */
  double cpuSeconds() throws java.io.IOException {
    return ProcessProbe.cpuSeconds(process.pid());
  }

  /** The child's own account of what reading cost ({@link NginxStandIn.UpstreamReader#stats}). */
  String stats() throws Exception {
    send("stats");
    return stats.get(10, java.util.concurrent.TimeUnit.SECONDS);
  }

  @Override
  public void close() throws Exception {
    commands.close();
    if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
    pump.join(5000);
  }
}

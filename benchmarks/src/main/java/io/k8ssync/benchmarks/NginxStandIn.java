package io.k8ssync.benchmarks;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;

/**
 * The reader that plays nginx for {@link RegistryLatencyBenchmark}, in its own JVM so that its CPU,
 * heap and GC are not the measured process's (nginx runs beside the registry, not inside the
 * daemon). It shares the host's cores, as nginx would.
 *
 * <p>Protocol on stdin/stdout, one line each: {@code ping} is answered {@code pong <nanoTime>} (the
 * parent checks that both processes read the same monotonic clock); {@code start} starts the reader,
 * which prints {@code ready} once it holds the registry's current state and then {@code seen <address>
 * <nanoTime>} each time an address becomes visible with {@code down:0}; {@code stats} is answered
 * {@code stats <one line>} (what reading cost). It exits when stdin closes.
 * Args: {@code consul <agent url> <kv prefix>} ({@link ConsulUpsyncReader}) or {@code zookeeper
 * <connect string> <upstream path>} ({@link ZooKeeperWatchReader}).
 */
public final class NginxStandIn {

  private NginxStandIn() {}

  /** Told when an address becomes visible up; {@code nanos} is this process's {@code System.nanoTime()} then. */
  interface Seen {
    void seen(String address, long nanos);
  }

  /** A reader of one upstream that calls {@code seen} after it has read the current state once. */
  interface UpstreamReader extends AutoCloseable {
    /** Starts reading; returns once the state at start is read (and not reported). */
    void start(Seen seen) throws Exception;

    /** What reading cost so far, one line. */
    default String stats() {
      return "";
    }
  }

  public static void main(String[] args) throws Exception {
    // One buffered stream, flushed per line: the parent reads the timestamps, not our flush time.
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
    UpstreamReader reader = switch (args[0]) {
      case "consul" -> new ConsulUpsyncReader(args[1], args[2]);
      case "zookeeper" -> new ZooKeeperWatchReader(args[1], args[2]);
      default -> throw new IllegalArgumentException("reader kind: consul or zookeeper, not " + args[0]);
    };
    Object lock = new Object();
    Seen seen = (address, nanos) -> {
      synchronized (lock) {
        out.print("seen ");
        out.print(address);
        out.print(' ');
        out.println(nanos);
        out.flush();
      }
    };
    CountDownLatch stop = new CountDownLatch(1);
    Thread commands = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          if (line.equals("ping")) {
            long now = System.nanoTime();
            synchronized (lock) {
              out.println("pong " + now);
              out.flush();
            }
          } else if (line.equals("stats")) {
            synchronized (lock) {
              out.println("stats " + reader.stats());
              out.flush();
            }
          } else if (line.equals("start")) {
            reader.start(seen);
            synchronized (lock) {
              out.println("ready");
              out.flush();
            }
          }
        }
      } catch (Exception e) {
        e.printStackTrace();
      } finally {
        stop.countDown();
      }
    }, "stand-in-commands");
    commands.start();
    stop.await();
    reader.close();
    System.exit(0);
  }
}

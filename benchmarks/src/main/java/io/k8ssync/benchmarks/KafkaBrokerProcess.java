package io.k8ssync.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A single-node KRaft broker (combined broker and controller) in its own JVM, for {@code -Dkafka.brokerProcess=true}:
 * the sink's JVM then runs with the flags it ships with while the broker keeps the JVM's defaults, and each one's CPU is
 * counted apart, as in production, where the broker runs elsewhere. The child runs {@link #main} on the benchmark's
 * class path and stops when its standard input closes (the benchmark ends or dies).
 */
final class KafkaBrokerProcess implements AutoCloseable {

  private final Process process;
  private final String bootstrapServers;
  private final Path dir;

  private KafkaBrokerProcess(Process process, String bootstrapServers, Path dir) {
    this.process = process;
    this.bootstrapServers = bootstrapServers;
    this.dir = dir;
  }

  static KafkaBrokerProcess start() throws Exception {
    Path dir = Files.createTempDirectory("kafka-bench");
    Path ready = dir.resolve("bootstrap");
    List<String> cmd = ChildJvm.command(List.of("-Xmx1g"), "kafka.brokerFlags", KafkaBrokerProcess.class.getName(), ready.toString());
    Path log = dir.resolve("broker.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (!Files.exists(ready)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new IllegalStateException("the Kafka broker did not start; its log: " + log);
      }
      java.util.concurrent.locks.LockSupport.parkNanos(50_000_000L); // polling a starting broker, not a test wait
    }
    return new KafkaBrokerProcess(p, Files.readString(ready).strip(), dir);
  }

  String bootstrapServers() {
    return bootstrapServers;
  }

  long pid() {
    return process.pid();
  }

  @Override
  public void close() throws Exception {
    process.getOutputStream().close();
    if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
    }
    // Its folder holds only the ready file and the broker's log (the broker's data is in the test kit's own temp folders).
    try (java.util.stream.Stream<Path> all = Files.walk(dir)) {
      all.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }

  /** The child: starts the broker, names its address in {@code args[0]} once ready, and stops when stdin closes. */
  public static void main(String[] args) throws Exception {
    try (KafkaClusterTestKit kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
        .setNumBrokerNodes(1).setNumControllerNodes(1).build()).build()) {
      kafka.format();
      kafka.startup();
      kafka.waitForReadyBrokers();
      Path ready = Path.of(args[0]);
      Path tmp = ready.resolveSibling("bootstrap.tmp");
      Files.writeString(tmp, kafka.bootstrapServers());
      Files.move(tmp, ready, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      try {
        while (System.in.read() >= 0) {
          // the parent writes nothing; EOF means it is done
        }
      } catch (IOException e) {
        // the parent went away
      }
    }
  }
}

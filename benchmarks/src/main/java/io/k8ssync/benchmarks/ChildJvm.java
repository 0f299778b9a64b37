package io.k8ssync.benchmarks;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of a helper JVM the benchmarks start beside themselves (a ZooKeeper server, a Kafka broker, the
 * nginx stand-in): this JVM's {@code java}, the given flags, then any the user passes in {@code extraFlagsProperty},
 * this JVM's class path, the main class and its arguments.
 */
final class ChildJvm {

  private ChildJvm() {}

  static List<String> command(List<String> flags, String extraFlagsProperty, String mainClass, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(flags);
    String extra = System.getProperty(extraFlagsProperty, "");
    if (!extra.isBlank()) {
      cmd.addAll(List.of(extra.trim().split("\\s+")));
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
    cmd.addAll(List.of(args));
    return cmd;
  }
}

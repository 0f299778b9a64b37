package io.k8ssync.daemon.ship;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a command to its end, with a time limit: its exit code, its standard output, and both streams together. */
final class Exec {

  record Result(int code, String stdout, String out) {}

  private Exec() {}

  static Result run(List<String> cmd, Duration timeout) throws Exception {
    Path stdout = Files.createTempFile("k8s-sync-exec", ".out");
    Path stderr = Files.createTempFile("k8s-sync-exec", ".err");
    try {
      Process p = new ProcessBuilder(cmd).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
      if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new AssertionError(String.join(" ", cmd) + " did not finish in " + timeout);
      }
      String out = Files.readString(stdout, StandardCharsets.UTF_8);
      return new Result(p.exitValue(), out, out + Files.readString(stderr, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(stdout);
      Files.deleteIfExists(stderr);
    }
  }
}

package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CommonPoolSizeTest {

  @Test
  void aSmallMachineGetsTwoCommonPoolWorkers() {
    assertEquals(Optional.of(2), CommonPoolSize.parallelismToSet(null, 1));
    assertEquals(Optional.of(2), CommonPoolSize.parallelismToSet(null, 2));
  }

  @Test
  void aLargerMachineAndAnOperatorsChoiceAreLeftAlone() {
    assertEquals(Optional.empty(), CommonPoolSize.parallelismToSet(null, 3));
    assertEquals(Optional.empty(), CommonPoolSize.parallelismToSet(null, 64));
    assertEquals(Optional.empty(), CommonPoolSize.parallelismToSet("1", 1));
  }

  /**
   * In a JVM that sees one CPU, an async stage runs on a common-pool worker, not on a thread started
   * for it (the default below two workers), once the daemon's start has sized the pool.
   */
  @Test
  void onOneCpuAsyncStagesRunOnPoolWorkers() throws Exception {
    Process p = new ProcessBuilder(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:ActiveProcessorCount=1", "-cp", System.getProperty("java.class.path"), Probe.class.getName()))
        .redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertEquals("parallelism=2 pooled=true", out);
  }

  /** Run in its own JVM by the test above: applies the daemon's sizing, then reports what it got. */
  public static final class Probe {
    public static void main(String[] args) throws IOException {
      CommonPoolSize.apply();
      boolean pooled = CompletableFuture
          .supplyAsync(() -> Thread.currentThread() instanceof ForkJoinWorkerThread).join();
      System.out.println("parallelism=" + ForkJoinPool.getCommonPoolParallelism() + " pooled=" + pooled);
    }
  }
}

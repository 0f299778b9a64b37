package io.k8ssync.daemon;

import java.util.Optional;

/**
 * Gives the JVM's common fork-join pool at least two workers. On one or two CPUs its default is
 * {@code CPUs - 1} (0 or 1), and below two workers {@code CompletableFuture}'s async stages each start
 * a new thread instead: the Kubernetes client's responses among them, at every watch event and call.
 * An operator's own {@code -Djava.util.concurrent.ForkJoinPool.common.parallelism} is kept.
 */
final class CommonPoolSize {

  static final String PROPERTY = "java.util.concurrent.ForkJoinPool.common.parallelism";
  static final int MINIMUM = 2;

  private CommonPoolSize() {}

  /** Must run before anything touches the common pool: the first use fixes its size. */
  static void apply() {
    parallelismToSet(System.getProperty(PROPERTY), Runtime.getRuntime().availableProcessors())
        .ifPresent(n -> System.setProperty(PROPERTY, Integer.toString(n)));
  }

  static Optional<Integer> parallelismToSet(String configured, int processors) {
    if (configured != null || processors - 1 >= MINIMUM) {
      return Optional.empty();
    }
    return Optional.of(MINIMUM);
  }
}

package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A standby holding 10,000 pods' changes takes over with two workers: the change that came since
 * the old leader went is the first apply, alone, and no replay is applied until it is done.
 */
class SinkRunnerTakeoverTest {

  private static final int HELD = 10_000;
  private static final Duration WINDOW = Duration.ofMillis(300);

  /** One apply: its pods, and when it started and ended (nanoTime). */
  private record Apply(List<String> keys, long start, long end) {}

  private static final class Recorder implements Sink {
    final List<Apply> applies = new CopyOnWriteArrayList<>();

    @Override
    public int maxBatchSize() {
      return 64;
    }

    @Override
    public void apply(List<PodChange> batch) {
      long start = System.nanoTime();
      Thread.onSpinWait();
      applies.add(new Apply(batch.stream().map(PodChange::key).toList(), start, System.nanoTime()));
    }

    @Override
    public void close() {}
  }

  @Test
  void theFreshChangeIsTheFirstApplyAloneAndNoReplayOverlapsIt() throws Exception {
    Recorder sink = new Recorder();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    SinkRunner runner = new SinkRunner("takeover", sink, Selector.ALL,
        new SinkRunner.Settings(2, 0, 5, false, RetryBackoff.Settings.DEFAULTS, 64L << 20), timer,
        new DaemonMetrics(new PrometheusRegistry()));
    AtomicBoolean leading = new AtomicBoolean();
    runner.leadWhere(cluster -> leading.get());
    runner.replayFreshFirst(WINDOW);
    runner.start();
    try {
      for (int i = 0; i < HELD; i++) {
        PodState p = ready("s-" + i, "10.1." + (i / 250) + "." + (i % 250 + 1));
        runner.offer(PodChange.of(p.key(), null, p));
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> runner.queue().parkedCount() == HELD);
      runner.initialListDone("c1"); // those were the standby's initial list, in a moment ago: inside the window, not news
      PodState fresh = ready("t-0", "10.2.0.1");
      runner.offer(PodChange.of(fresh.key(), null, fresh)); // the old leader is gone: nobody applies it
      await().atMost(Duration.ofSeconds(10)).until(() -> runner.queue().parkedCount() == HELD + 1);

      leading.set(true);
      long t0 = System.nanoTime();
      runner.leadershipChanged();
      long released = System.nanoTime() - t0;
      await().atMost(Duration.ofSeconds(60)).until(() -> runner.queue().unfinished() == 0);

      Apply first = sink.applies.stream().min(java.util.Comparator.comparingLong(Apply::start)).orElseThrow();
      assertEquals(List.of(fresh.key()), first.keys(), "the fresh change first, alone");
      for (Apply a : sink.applies) {
        assertTrue(a == first || a.start() >= first.end(), "a replay overlapped the fresh change: " + a.keys().size() + " pods");
      }
      System.out.printf("release of %d held pods took %.1f ms; the fresh change's apply started %.1f ms after the release began%n",
          HELD + 1, released / 1e6, (first.start() - t0) / 1e6);
    } finally {
      runner.drain(Duration.ofSeconds(5));
      runner.stop();
      timer.shutdownNow();
    }
  }
}

package io.k8ssync.daemon.dispatch;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.lang.management.ManagementFactory;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Retained heap per queued change, the figures behind {@link QueueBudget}: a coalescing queue with
 * one pending change per pod, and a queue that keeps every change (as Kafka's), each change a new
 * version of its pod with the fresh strings a projection of a watch event has (name, uid, address,
 * resourceVersion). It measures, it does not judge: tag "soak", run with
 * {@code ./mvnw -pl sync-daemon verify -Dtest=QueueHeapBench -Dk8ssync.excludedGroups= -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("soak")
class QueueHeapBench {

  private static final int N = 200_000;

  /** Version {@code v} of pod {@code i}, every string of the watch event a copy of its own. */
  static PodState version(int i, int v) {
    return new PodState("prod", "ns-" + (i % 20), new String("svc-" + (i % 400) + "-7d9f8b6c4-" + i),
        new String("0f8e3c2a-6b1d-4e5f-9a7b-" + String.format("%012d", i)), "svc-" + (i % 400),
        new String("10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255)), "192.168.0.1", 8080,
        "node-" + (i % 50), PodState.Phase.RUNNING, v % 2 == 0, false, 1, Map.of(), Map.of("version", "v3"), Map.of(),
        Long.toString(100_000_000L + (long) i * 10 + v), 1_700_000_000_000L, 1_700_000_000_000L, null);
  }

  @Test
  void bytesPerQueuedChange() {
    System.out.printf("changes=%d jvm=%s %s%n", N, System.getProperty("java.vm.name"), System.getProperty("java.version"));
    long before = usedHeap();
    WorkQueue coalescing = new WorkQueue(Integer.MAX_VALUE, System::nanoTime, true);
    for (int i = 0; i < N; i++) {
      PodState older = version(i, 1);
      coalescing.add(PodChange.of(older.key(), older, version(i, 2)));
    }
    long coalesced = usedHeap() - before;
    System.out.printf("coalescing queue: %.0f bytes per pending pod (its oldest before and newest after held)%n", coalesced / (double) N);
    coalescing = null;

    before = usedHeap();
    WorkQueue keeping = new WorkQueue(Integer.MAX_VALUE, System::nanoTime, false);
    int pods = N / 10;
    PodState[] last = new PodState[pods];
    for (int v = 0; v < 10; v++) {
      for (int i = 0; i < pods; i++) {
        PodState next = version(i, v);
        keeping.add(PodChange.of(next.key(), last[i], next));
        last[i] = next;
      }
    }
    last = null;
    long kept = usedHeap() - before;
    System.out.printf("queue keeping every change: %.0f bytes per change (10 changes per pod)%n", kept / (double) N);
    java.lang.ref.Reference.reachabilityFence(keeping);
  }

  private static long usedHeap() {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }
}

package io.k8ssync.daemon.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import org.junit.jupiter.api.Test;

/** A queue that keeps every change is sized against the heap; one that merges a pod's changes, in pods. */
class QueueBudgetTest {

  private static final long MIB = 1 << 20;

  @Test
  void aQueueKeepingEveryChangeFillsItsShareOfTheHeapAtTheMeasuredCost() {
    assertEquals(512 * MIB / 5 / 700, QueueBudget.defaultCapacity(false, 512 * MIB / 5), "a fifth of 512 MiB: ~153,000 changes");
    assertEquals(10_000, QueueBudget.defaultCapacity(false, MIB), "never below the floor");
    assertEquals(1_000_000, QueueBudget.defaultCapacity(true, MIB), "a merging queue is bounded by the pods watched");
    assertEquals(1_300_000_000L, QueueBudget.bytes(true, 1_000_000));
    assertEquals(700_000_000L, QueueBudget.bytes(false, 1_000_000), "the old default held ~0.7 GB of Kafka events");
  }

  private static DaemonConfig config(String extra) throws Exception {
    return new ConfigLoader(SinkTypes.discover()).parse("test.yaml", String.join("\n",
        "clusters: [{name: c1}]",
        extra,
        "sinks: [{name: a, type: recording}, {name: b, type: recording, queueCapacity: 7}]", ""));
  }

  @Test
  void configDerivesTheHeapOfEachQueueAndSinksMayOverrideTheCapacity() throws Exception {
    DaemonConfig c = config("dispatch: {queueHeapShare: 0.5}");
    SinkRunner.Settings a = c.runnerSettings(c.sinks().get(0), false);
    assertEquals(0, a.queueCapacity(), "unset: the sink's kind of queue decides");
    assertEquals((long) (Runtime.getRuntime().maxMemory() * 0.5), a.queueHeapBytes());
    assertEquals(7, c.runnerSettings(c.sinks().get(1), false).queueCapacity());

    DaemonConfig le = config("dispatch: {queueCapacity: 100}\nleaderElection: {enabled: true}");
    assertEquals(100, le.runnerSettings(le.sinks().get(0), false).queueCapacity());
    assertEquals((long) (Runtime.getRuntime().maxMemory() * 0.2 / 2), le.runnerSettings(le.sinks().get(0), false).queueHeapBytes(),
        "with leader election, changes held for another replica may fill the other half");
  }
}

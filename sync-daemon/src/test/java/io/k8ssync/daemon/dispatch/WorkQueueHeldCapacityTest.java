package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Changes held for another replica (parked) and changes this replica applies are bounded and
 * counted apart: a standby's backlog for a cluster led elsewhere never crowds out the changes of a
 * cluster it leads.
 */
class WorkQueueHeldCapacityTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private static PodChange added(String name) {
    PodState p = ready(name, "10.0.0.1");
    return PodChange.of(p.key(), null, p);
  }

  /** Parks {@code names}, as a worker does with the changes of a cluster another replica leads. */
  private static void park(WorkQueue q, String... names) throws InterruptedException {
    for (String n : names) {
      q.add(added(n), true);
    }
    for (WorkQueue.Item item : q.take(100, 0, TimeUnit.MILLISECONDS)) {
      q.park(item, "west");
    }
  }

  @ParameterizedTest(name = "coalesce: {0}")
  @ValueSource(booleans = {true, false})
  void heldChangesDoNotUseTheCapacityOfChangesAppliedHere(boolean coalesce) throws Exception {
    WorkQueue q = new WorkQueue(2, now::get, coalesce);
    park(q, "w1", "w2");
    assertEquals(2, q.parkedChanges());
    assertEquals(WorkQueue.Outcome.QUEUED, q.add(added("e1")), "the led cluster's change is taken");
    assertEquals(WorkQueue.Outcome.QUEUED, q.add(added("e2")));
    assertEquals(WorkQueue.Outcome.FULL, q.add(added("e3")), "applied-here changes have their own bound");
    assertEquals(WorkQueue.Outcome.FULL_HELD, q.add(added("w3"), true), "and so do held ones");
    assertEquals(2, q.parkedChanges());
    assertEquals(4, q.depth());
  }

  @Test
  void parkedChangesAreCountedAsTheyComeAndGo() throws Exception {
    WorkQueue q = new WorkQueue(10, now::get, false);
    park(q, "w1", "w2");
    PodState w1 = ready("w1", "10.0.0.1");
    q.add(PodChange.of(w1.key(), w1, withReady(w1, false)), true); // a parked key keeps every change
    assertEquals(3, q.parkedChanges());
    assertEquals(3, q.expireParked(-1), "expiry forgets them all");
    assertEquals(0, q.parkedChanges());
    park(q, "w3");
    assertEquals(1, q.parkedChanges());
    q.releaseParked("west"::equals);
    assertEquals(0, q.parkedChanges(), "released: applied here now");
    List<WorkQueue.Item> released = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(1, released.size());
    park(q, "w4");
    q.shutDown();
    q.discardParked();
    assertEquals(0, q.parkedChanges());
  }

  /**
   * A takeover replays what was held newest first: the newest changes are the ones the old leader
   * most likely never applied (it was dying), and a pod that turned ready while nobody led must not
   * wait behind thousands of replays its old leader already wrote (issue 19: first write within
   * 100 ms of the Lease at 10,000 pods).
   */
  @Test
  void aTakeoverReplaysTheNewestHeldChangesFirst() throws Exception {
    WorkQueue q = new WorkQueue(100, now::get, true);
    for (String name : List.of("old-1", "old-2", "old-3", "old-4", "new")) {
      now.addAndGet(1_000_000);
      park(q, name);
    }
    now.addAndGet(1_000_000);
    PodState old2 = ready("old-2", "10.0.0.1");
    q.add(PodChange.of(old2.key(), old2, withReady(old2, false)), true); // old-2 changed again since: newest but one
    q.releaseParked("west"::equals);
    List<String> order = q.take(100, 0, TimeUnit.MILLISECONDS).stream().map(WorkQueue.Item::key).toList();
    assertEquals(List.of(ready("old-2", "10.0.0.1").key(), ready("new", "10.0.0.1").key(), ready("old-4", "10.0.0.1").key(),
        ready("old-3", "10.0.0.1").key(), ready("old-1", "10.0.0.1").key()), order);
  }
}

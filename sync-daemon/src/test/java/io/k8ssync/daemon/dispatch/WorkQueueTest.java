package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Transition;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class WorkQueueTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final WorkQueue queue = new WorkQueue(3, now::get);

  private final PodState a0 = withReady(ready("a", "10.0.0.1"), false);
  private final PodState a1 = ready("a", "10.0.0.1");
  private final PodState a2 = withTerminating(a1);

  private List<WorkQueue.Item> takeAll() throws InterruptedException {
    return queue.take(100, 0, TimeUnit.MILLISECONDS);
  }

  /**
   * What a reconcile pass may leave to the queue (SinkContext.changePending): a change bringing the pod
   * to the very state asked about, waiting for its turn or being applied; not an older state, not one
   * waiting out a retry's backoff (it failed: the pass is what repairs what keeps failing).
   */
  @Test
  void aStateIsOnItsWayWhileQueuedOrAppliedAndNotOnceItFailed() throws Exception {
    PodState v1 = io.k8ssync.sink.PodStates.withVersion(a0, "1");
    PodState v2 = io.k8ssync.sink.PodStates.withVersion(a1, "2");
    assertFalse(queue.onItsWay(v1), "nothing queued");
    queue.add(PodChange.of(v1.key(), null, v1));
    assertTrue(queue.onItsWay(v1), "queued");
    List<WorkQueue.Item> items = takeAll();
    assertTrue(queue.onItsWay(v1), "being applied");
    assertFalse(queue.onItsWay(v2), "an older state is not the newer one on its way");
    queue.add(PodChange.of(v2.key(), v1, v2));
    assertTrue(queue.onItsWay(v2), "queued behind the one being applied");
    assertFalse(queue.onItsWay(v1), "superseded");
    queue.retry(items.get(0));
    assertFalse(queue.onItsWay(v2), "waiting out a retry's backoff: it failed");
    queue.release(v2.key());
    assertTrue(queue.onItsWay(v2), "its turn again");
    queue.done(takeAll().get(0));
    assertFalse(queue.onItsWay(v2), "applied");
  }

  @Test
  void duplicatesCoalesceToOldestBeforeAndLatestAfter() throws Exception {
    assertEquals(WorkQueue.Outcome.QUEUED, queue.add(PodChange.of(a1.key(), null, a0)));
    assertEquals(WorkQueue.Outcome.MERGED, queue.add(PodChange.of(a1.key(), a0, a1)));
    assertEquals(WorkQueue.Outcome.MERGED, queue.add(PodChange.of(a1.key(), a1, a2)));
    List<WorkQueue.Item> items = takeAll();
    assertEquals(1, items.size());
    assertNull(items.get(0).change().before());
    assertSame(a2, items.get(0).change().after());
    assertEquals(Transition.ADDED, items.get(0).change().transition());
  }

  @Test
  void keysComeOutInArrivalOrder() throws Exception {
    PodState b = ready("b", "10.0.0.2");
    PodState c = ready("c", "10.0.0.3");
    queue.add(PodChange.of(b.key(), null, b));
    queue.add(PodChange.of(a1.key(), null, a1));
    queue.add(PodChange.of(c.key(), null, c));
    assertEquals(List.of(b.key(), a1.key(), c.key()), takeAll().stream().map(WorkQueue.Item::key).toList());
  }

  @Test
  void aKeyInFlightIsNotHandedOutAgainAndRunsAgainAfterDone() throws Exception {
    queue.add(PodChange.of(a1.key(), null, a1));
    WorkQueue.Item inFlight = takeAll().get(0);
    queue.add(PodChange.of(a1.key(), a1, a2));
    assertTrue(takeAll().isEmpty(), "the key is being processed; nobody else may take it");
    queue.done(inFlight);
    List<WorkQueue.Item> again = takeAll();
    assertEquals(1, again.size());
    assertSame(a1, again.get(0).change().before());
    assertSame(a2, again.get(0).change().after());
  }

  @Test
  void aBatchHandedBackWithTheNextTakeIsDoneFirstAndItsNewerChangeRunsAgain() throws Exception {
    PodState b = ready("b", "10.0.0.2");
    queue.add(PodChange.of(a1.key(), null, a1));
    WorkQueue.Item inFlight = takeAll().get(0);
    queue.add(PodChange.of(a1.key(), a1, a2));
    queue.add(PodChange.of(b.key(), null, b));
    List<WorkQueue.Item> next = queue.take(List.of(inFlight), 100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(b.key(), a1.key()), next.stream().map(WorkQueue.Item::key).toList(),
        "the finished key is ready again, behind what was already waiting");
    assertSame(a2, next.get(1).change().after());
    assertTrue(takeAll().isEmpty(), "both keys are in flight now");
    assertEquals(List.of(), queue.take(next, 100, 0, TimeUnit.MILLISECONDS));
    assertTrue(queue.awaitIdle(0, TimeUnit.MILLISECONDS), "handed back with an empty take: nothing pending or in flight");
  }

  @Test
  void aRetriedChangeStaysInFrontOfNewerOnesAndWaitsForRelease() throws Exception {
    queue.add(PodChange.of(a1.key(), a0, a1));
    WorkQueue.Item failed = takeAll().get(0);
    queue.add(PodChange.of(a1.key(), a1, a2));
    queue.retry(failed);
    assertTrue(takeAll().isEmpty(), "blocked during backoff");
    queue.add(PodChange.of(a1.key(), a2, null));
    assertTrue(takeAll().isEmpty(), "still blocked");
    queue.release(a1.key());
    List<WorkQueue.Item> items = takeAll();
    assertEquals(1, items.size());
    assertSame(a0, items.get(0).change().before(), "the failed change's before is kept");
    assertNull(items.get(0).change().after(), "the newest after wins");
    assertEquals(failed.since(), items.get(0).since(), "lag counts from the first attempt");
  }

  @Test
  void boundRefusesNewKeysButStillMergesKnownOnes() {
    for (String n : List.of("a", "b", "c")) {
      PodState p = ready(n, "10.0.0.1");
      assertEquals(WorkQueue.Outcome.QUEUED, queue.add(PodChange.of(p.key(), null, p)));
    }
    PodState d = ready("d", "10.0.0.4");
    assertEquals(WorkQueue.Outcome.FULL, queue.add(PodChange.of(d.key(), null, d)));
    assertEquals(WorkQueue.Outcome.MERGED, queue.add(PodChange.of(a1.key(), a1, a2)));
    assertEquals(3, queue.depth());
  }

  @Test
  void refusesAfterShutdownButHandsOutWhatIsLeft() throws Exception {
    queue.add(PodChange.of(a1.key(), null, a1));
    queue.shutDown();
    assertEquals(WorkQueue.Outcome.SHUT_DOWN, queue.add(PodChange.of("c1/ns/z", null, ready("z", "10.0.0.9"))));
    assertEquals(1, takeAll().size());
  }

  @Test
  void oldestPendingAgeCoversQueuedAndInFlight() throws Exception {
    assertEquals(0.0, queue.oldestPendingSeconds());
    queue.add(PodChange.of(a1.key(), null, a1));
    now.addAndGet(2_000_000_000L);
    PodState b = ready("b", "10.0.0.2");
    queue.add(PodChange.of(b.key(), null, b));
    WorkQueue.Item first = queue.take(1, 0, TimeUnit.MILLISECONDS).get(0);
    now.addAndGet(1_000_000_000L);
    assertEquals(3.0, queue.oldestPendingSeconds(), 1e-9);
    queue.done(first);
    assertEquals(1.0, queue.oldestPendingSeconds(), 1e-9);
  }

  @Test
  void aQueueThatKeepsEveryChangeHandsThemOutInOrderAndRetriesThemInFront() throws Exception {
    WorkQueue events = new WorkQueue(3, now::get, false);
    PodChange c1 = PodChange.of(a1.key(), null, a0);
    PodChange c2 = PodChange.of(a1.key(), a0, a1);
    PodChange c3 = PodChange.of(a1.key(), a1, a2);
    events.add(c1);
    assertEquals(WorkQueue.Outcome.MERGED, events.add(c2));
    List<WorkQueue.Item> first = events.take(10, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(c1, c2), first.get(0).changes(), "both, in order, not merged");
    events.add(c3);
    events.retry(first.get(0));
    events.release(a1.key());
    assertEquals(List.of(c1, c2, c3), events.take(10, 0, TimeUnit.MILLISECONDS).get(0).changes());
  }

  @Test
  void aQueueThatKeepsEveryChangeBoundsTheChangesNotTheKeys() {
    WorkQueue events = new WorkQueue(3, now::get, false);
    assertEquals(WorkQueue.Outcome.QUEUED, events.add(PodChange.of(a1.key(), null, a0)));
    assertEquals(WorkQueue.Outcome.MERGED, events.add(PodChange.of(a1.key(), a0, a1)));
    assertEquals(WorkQueue.Outcome.MERGED, events.add(PodChange.of(a1.key(), a1, a2)));
    assertEquals(WorkQueue.Outcome.FULL, events.add(PodChange.of(a1.key(), a2, null)));
  }

  @Test
  void awaitIdleReturnsOnceEverythingIsDone() throws Exception {
    queue.add(PodChange.of(a1.key(), null, a1));
    assertTrue(!queue.awaitIdle(0, TimeUnit.MILLISECONDS));
    queue.done(takeAll().get(0));
    assertTrue(queue.awaitIdle(0, TimeUnit.MILLISECONDS));
  }

  @Test
  void aFullQueueStillTakesTheNextStateOfAKeyInFlight() throws Exception {
    PodState b = ready("b", "10.0.0.2");
    PodState c = ready("c", "10.0.0.3");
    PodState d = ready("d", "10.0.0.4");
    queue.add(PodChange.of(a1.key(), null, a1));
    WorkQueue.Item inFlight = takeAll().get(0);
    queue.add(PodChange.of(b.key(), null, b));
    queue.add(PodChange.of(c.key(), null, c));
    queue.add(PodChange.of(d.key(), null, d));
    assertEquals(WorkQueue.Outcome.FULL, queue.add(PodChange.of("ns/e", null, ready("e", "10.0.0.5"))), "a new key is refused");
    assertEquals(WorkQueue.Outcome.QUEUED, queue.add(PodChange.of(a1.key(), a1, a2)), "the pod being applied is not");
    queue.done(inFlight);
    List<WorkQueue.Item> rest = takeAll();
    assertEquals(4, rest.size());
    assertSame(a2, rest.get(3).change().after(), "its newest state runs after the one in flight");
  }

  @Test
  void expireForgetsOnlyParkedPodsWhoseNewestChangeIsOld() throws Exception {
    WorkQueue big = new WorkQueue(10, now::get);
    PodState b = ready("b", "10.0.0.2");
    PodState c = ready("c", "10.0.0.3");
    PodState d = ready("d", "10.0.0.4");
    big.add(PodChange.of(a1.key(), null, a1));
    big.add(PodChange.of(b.key(), null, b));
    big.add(PodChange.of(c.key(), null, c));
    List<WorkQueue.Item> taken = big.take(100, 0, TimeUnit.MILLISECONDS);
    big.retry(taken.get(0)); // a: our cluster, waiting for its backoff
    big.park(taken.get(1), "west");
    big.park(taken.get(2), "west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(90));
    big.add(PodChange.of(c.key(), c, withReady(c, false))); // c changed again just now
    big.add(PodChange.of(d.key(), null, d)); // d: our cluster, waiting in line
    now.addAndGet(TimeUnit.SECONDS.toNanos(90));
    assertEquals(1, big.expireParked(TimeUnit.SECONDS.toNanos(120)), "only b: c changed recently, a and d are ours");
    assertEquals(1, big.parkedCount());
    big.release(a1.key());
    assertEquals(List.of(d.key(), a1.key()), big.take(100, 0, TimeUnit.MILLISECONDS).stream().map(WorkQueue.Item::key).toList());
    big.releaseParked("west"::equals);
    List<WorkQueue.Item> left = big.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(c.key()), left.stream().map(WorkQueue.Item::key).toList());
    assertSame(c, left.get(0).change().before(), "c keeps what it queued: it was online, then went unready");
  }

  @Test
  void aParkedKeyWaitsForItsClusterNotForATimerAndIsNotLag() throws Exception {
    PodState b = ready("b", "10.0.0.2");
    queue.add(PodChange.of(a1.key(), null, a1));
    queue.add(PodChange.of(b.key(), null, b));
    List<WorkQueue.Item> taken = takeAll();
    queue.park(taken.get(0), "west");
    queue.done(taken.get(1));
    queue.add(PodChange.of(a1.key(), a1, a2));
    assertTrue(takeAll().isEmpty(), "a parked key is not handed out");
    now.addAndGet(TimeUnit.SECONDS.toNanos(90));
    assertEquals(0.0, queue.oldestPendingSeconds(), "parked changes are not lag");
    queue.release(a1.key()); // a stale retry timer
    assertTrue(takeAll().isEmpty(), "only its cluster's leadership releases it");
    queue.releaseParked("east"::equals);
    assertTrue(takeAll().isEmpty());
    queue.releaseParked("west"::equals);
    WorkQueue.Item a = takeAll().get(0);
    assertSame(a1, a.change().before(), "released: it was online, then terminating");
    assertSame(a2, a.change().after());
  }

  @Test
  void atShutdownParkedChangesAreDiscardedAndNothingMoreIsParked() throws Exception {
    PodState b = ready("b", "10.0.0.2");
    queue.add(PodChange.of(a1.key(), null, a1));
    queue.add(PodChange.of(b.key(), null, b));
    List<WorkQueue.Item> taken = takeAll();
    queue.park(taken.get(0), "west");
    queue.add(PodChange.of(b.key(), b, withReady(b, false))); // b in flight gets a newer change
    queue.shutDown();
    assertEquals(1, queue.discardParked());
    assertEquals(2, queue.park(taken.get(1), "west"), "parking after shutdown drops the item and what came meanwhile");
    assertTrue(queue.awaitIdle(0, TimeUnit.MILLISECONDS), "nothing left: shutdown does not wait for another replica's work");
    assertEquals(0, queue.parkedCount());
  }

  @Test
  void aParkedPodThatWasOnlineAndWentOfflineKeepsTheOnlineStateAsBefore() throws Exception {
    queue.add(PodChange.of(a1.key(), null, a1)); // new and ready: the leader may have put it online
    queue.park(takeAll().get(0), "west");
    queue.add(PodChange.of(a1.key(), a1, a2)); // then terminating
    queue.releaseParked("west"::equals);
    PodChange replayed = takeAll().get(0).change();
    assertSame(a1, replayed.before(), "the takeover knows what to take offline");
    assertSame(a2, replayed.after());
    assertEquals(Transition.TERMINATING, replayed.transition());
  }

  @Test
  void aReleasedReplayNotYetTakenStillKeepsTheOnlineState() throws Exception {
    queue.add(PodChange.of(a1.key(), null, a1));
    queue.park(takeAll().get(0), "west");
    queue.releaseParked("west"::equals); // takeover: the replay waits behind others
    queue.add(PodChange.of(a1.key(), a1, a2)); // and the pod goes meanwhile
    WorkQueue.Item item = takeAll().get(0);
    assertSame(a1, item.change().before(), "the new leader still knows what the old one put online");
    queue.done(item);
    queue.add(PodChange.of(a1.key(), a2, null));
    assertNull(takeAll().get(0).change().after(), "once taken, merging is ordinary again");
  }

  @Test
  void everyIncarnationAnotherReplicaMayHavePutOnlineIsHandedOutOneAtATime() throws Exception {
    // While another replica led, pod a was replaced twice: a1 and b1 may both be online there.
    PodState b1 = withUid(withIp(a1, "10.0.0.2"), "uid-a2");
    PodState c0 = withReady(withUid(withIp(a1, "10.0.0.3"), "uid-a3"), false);
    queue.add(PodChange.of(a1.key(), null, a1), true);
    queue.park(takeAll().get(0), "west");
    queue.add(PodChange.of(a1.key(), a1, null), true);
    queue.add(PodChange.of(a1.key(), null, b1), true);
    queue.add(PodChange.of(a1.key(), b1, null), true);
    queue.add(PodChange.of(a1.key(), null, c0), true);
    queue.releaseParked("west"::equals);

    WorkQueue.Item first = takeAll().get(0);
    assertEquals(List.of(PodChange.of(a1.key(), a1, c0)), first.changes());
    assertTrue(takeAll().isEmpty(), "one change of a pod at a time");
    queue.add(PodChange.of(a1.key(), c0, null)); // the newest incarnation goes too, while the first change is applied
    queue.retry(first); // and the first failed
    queue.release(a1.key());
    WorkQueue.Item again = takeAll().get(0);
    assertEquals(List.of(PodChange.of(a1.key(), a1, null)), again.changes(), "the retry ends at the newest state");
    queue.done(again);
    WorkQueue.Item second = takeAll().get(0);
    assertEquals(List.of(PodChange.of(a1.key(), b1, null)), second.changes(), "b1 still goes offline");
    queue.done(second);
    assertTrue(takeAll().isEmpty());
    assertTrue(queue.awaitIdle(0, TimeUnit.MILLISECONDS));
  }

  @Test
  void changesAddedWhileAnotherReplicaLedMergeKeepingWhatWasOnline() throws Exception {
    PodState b1 = withUid(withIp(a1, "10.0.0.2"), "uid-a2");
    queue.add(PodChange.of(a1.key(), null, a1), true);
    queue.add(PodChange.of(a1.key(), a1, null), true);
    queue.add(PodChange.of(a1.key(), null, b1), true);
    queue.add(PodChange.of(a1.key(), b1, null), true);
    WorkQueue.Item first = takeAll().get(0);
    assertEquals(List.of(PodChange.of(a1.key(), a1, null)), first.changes());
    assertTrue(takeAll().isEmpty(), "one change of a pod at a time");
    assertEquals(1, queue.unfinished(), "one pod");
    queue.done(first);
    WorkQueue.Item second = takeAll().get(0);
    assertEquals(List.of(PodChange.of(a1.key(), b1, null)), second.changes(), "b1 may be online too");
    queue.done(second);
    assertEquals(0, queue.unfinished());
  }
}

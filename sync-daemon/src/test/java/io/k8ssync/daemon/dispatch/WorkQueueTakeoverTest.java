package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A takeover writes the changes nobody applied first: held changes that came within the fresh
 * window before the takeover (the old leader was dying or dead) are handed out ahead of everything,
 * in batches of their own, and nothing else is handed out while one of them is being applied. The
 * replays of what the old leader most likely wrote run behind them (issue 19, target 7: the new
 * leader's first write within 100 ms of the Lease at 10,000 pods; measured by TakeoverBench, where a
 * pod made ready after the kill went out in a batch of 64 to 1,000 replays, and behind their locks).
 */
class WorkQueueTakeoverTest {

  private static final long FRESH = TimeUnit.SECONDS.toNanos(5);

  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  /** Both queue kinds, each finding its fresh keys among those held in the window, and in a pass over all held keys. */
  static Stream<Arguments> kinds() {
    return Stream.of(Arguments.of(true, true), Arguments.of(true, false), Arguments.of(false, true), Arguments.of(false, false));
  }

  /** A queue; {@code recorded}: it keeps the keys held in the fresh window, as a sink runner's does. */
  private WorkQueue queue(boolean coalesce, boolean recorded) {
    WorkQueue q = new WorkQueue(100, now::get, coalesce);
    if (recorded) {
      q.holdFreshFor(FRESH);
    }
    return q;
  }

  private static String key(String name) {
    return ready(name, "10.0.0.1").key();
  }

  private static void park(WorkQueue q, String... names) throws InterruptedException {
    for (String name : names) {
      PodState p = ready(name, "10.0.0.1");
      q.add(PodChange.of(p.key(), null, p), true);
    }
    parkTaken(q, "west");
  }

  /** {@code pod} added as held for another replica, taken and parked for {@code cluster}. */
  private static void parkIn(WorkQueue q, String cluster, PodState pod) throws InterruptedException {
    q.add(PodChange.of(pod.key(), null, pod), true);
    parkTaken(q, cluster);
  }

  private static void parkTaken(WorkQueue q, String cluster) throws InterruptedException {
    for (WorkQueue.Item item : q.take(100, 0, TimeUnit.MILLISECONDS)) {
      q.park(item, cluster);
    }
  }

  private static List<String> keys(List<WorkQueue.Item> items) {
    return items.stream().map(WorkQueue.Item::key).toList();
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void freshChangesGoFirstInABatchOfTheirOwnAndTheRestWaitsUntilTheyAreApplied(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    for (String name : List.of("old-1", "old-2", "old-3")) {
      now.addAndGet(1_000_000);
      park(q, name);
    }
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "new"); // made ready while nobody led
    PodState waiting = ready("ours", "10.0.0.2");
    q.add(PodChange.of(waiting.key(), null, waiting)); // a change of a cluster led here already, waiting in line
    now.addAndGet(TimeUnit.SECONDS.toNanos(4));

    q.releaseParked("west"::equals, FRESH);
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new")), keys(first), "the fresh change first, not batched with replays");
    assertTrue(q.take(100, 0, TimeUnit.MILLISECONDS).isEmpty(), "nothing else while it is applied");
    q.done(first);
    assertEquals(List.of(waiting.key(), key("old-3"), key("old-2"), key("old-1")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)),
        "then what waited, and the replays newest first");
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aFreshChangeThatFailsLetsTheOthersGoWhileItWaitsForItsRetry(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    park(q, "old-1");
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "new");
    q.releaseParked("west"::equals, FRESH);
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new")), keys(first));
    q.retry(first.get(0));
    assertEquals(List.of(key("old-1")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)), "a retry's backoff holds back no replay");
    q.release(key("new"));
    assertEquals(List.of(key("new")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)), "and it runs again after its backoff");
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void freshChangesBeyondOneBatchAreHandedOutTogetherAheadOfTheReplays(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    park(q, "old-1");
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    for (String name : List.of("new-1", "new-2", "new-3")) {
      now.addAndGet(1_000_000);
      park(q, name);
    }
    q.releaseParked("west"::equals, FRESH);
    List<WorkQueue.Item> a = q.take(2, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new-3"), key("new-2")), keys(a), "newest first");
    List<WorkQueue.Item> b = q.take(2, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new-1")), keys(b), "another worker takes the last fresh one, and no replay with it");
    q.done(a);
    assertTrue(q.take(2, 0, TimeUnit.MILLISECONDS).isEmpty(), "new-1 is still being applied");
    q.done(b);
    assertEquals(List.of(key("old-1")), keys(q.take(2, 0, TimeUnit.MILLISECONDS)));
  }

  /**
   * A standby whose initial list lands just before the takeover holds thousands of changes inside
   * the window; they are the cluster's state, not news, and most likely applied by the old leader.
   * TakeoverBench at 10,000 pods: all 10,001 went as "fresh", in batches of 64 and 500, and the one
   * change nobody applied waited 2–4 s behind them.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void theInitialListsChangesAreNotFreshEvenWhenItLandsInsideTheWindow(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    for (String name : List.of("listed-1", "listed-2", "listed-3")) {
      now.addAndGet(1_000_000);
      park(q, name);
    }
    now.addAndGet(1_000_000);
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(1));
    park(q, "new"); // a watch event: made ready after the list, while nobody led
    now.addAndGet(TimeUnit.SECONDS.toNanos(2));

    q.releaseParked("west"::equals, FRESH);
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new")), keys(first), "only the watch event is fresh");
    assertTrue(q.take(100, 0, TimeUnit.MILLISECONDS).isEmpty(), "nothing else while it is applied");
    q.done(first);
    assertEquals(List.of(key("listed-3"), key("listed-2"), key("listed-1")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)),
        "the listed ones are replays, newest first");
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aListedPodThatChangedAfterTheListIsFreshAndACutoffClusterNeverIs(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    park(q, "listed");
    PodState east = ready("e-1", "10.0.0.9");
    parkIn(q, "east", east);
    now.addAndGet(1_000_000);
    q.initialListDone("west"); // east's list is still coming when the takeover happens
    now.addAndGet(1_000_000);
    PodState changed = withReady(ready("listed", "10.0.0.1"), false);
    q.add(PodChange.of(changed.key(), ready("listed", "10.0.0.1"), changed), true); // its watch event
    now.addAndGet(1_000_000);

    q.releaseParked(c -> true, FRESH);
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("listed")), keys(first), "changed after the list: fresh; east, not listed yet: not");
    assertTrue(q.take(100, 0, TimeUnit.MILLISECONDS).isEmpty());
    q.done(first);
    assertEquals(List.of(east.key()), keys(q.take(100, 0, TimeUnit.MILLISECONDS)));
  }

  /**
   * The takeover's first step looks only at the keys held in the fresh window, not at every held key:
   * TakeoverBench at 10,000 pods ran a pass over all of them per sink, sink after sink, and the fifth
   * sink's fresh change started 100 ms after the Lease. The rest are unparked by the step it returns.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void aTakeoversFirstStepLooksOnlyAtTheKeysHeldInTheFreshWindow(boolean coalesce) throws Exception {
    WorkQueue q = new WorkQueue(2000, now::get, coalesce);
    q.holdFreshFor(FRESH);
    for (int i = 0; i < 1000; i++) {
      now.addAndGet(1_000);
      park(q, "listed-" + i);
    }
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "new");
    AtomicInteger asked = new AtomicInteger();
    Runnable replays = q.releaseFreshFirst(c -> asked.incrementAndGet() > 0 && c.equals("west"), FRESH);
    assertEquals(1, asked.get(), "clusters asked for in the first step: the fresh key's only");
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new")), keys(first));
    replays.run();
    assertEquals(1001, asked.get(), "the step returned unparks the rest");
    assertTrue(q.take(100, 0, TimeUnit.MILLISECONDS).isEmpty(), "nothing else while the fresh change is applied");
    q.done(first);
    assertEquals(key("listed-999"), q.take(1, 0, TimeUnit.MILLISECONDS).get(0).key(), "then the replays, newest first");
    assertEquals(999, q.take(1000, 0, TimeUnit.MILLISECONDS).size());
  }

  /**
   * Two clusters taken over at the same moment: a cluster led only once the first cluster's first step
   * has run still gets its fresh change written first, alone, as one pass over all keys gives it.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aClusterLedOnlyAfterTheFirstStepStillHasItsFreshChangeFirst(boolean coalesce, boolean recorded) throws Exception {
    WorkQueue q = queue(coalesce, recorded);
    park(q, "old-1");
    PodState east = ready("e-new", "10.0.0.9");
    q.initialListDone("west");
    q.initialListDone("east");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "new");
    parkIn(q, "east", east);
    java.util.Set<String> led = new java.util.HashSet<>(List.of("west"));
    Runnable replays = q.releaseFreshFirst(led::contains, FRESH);
    led.add("east"); // east's Lease came a moment later
    List<WorkQueue.Item> first = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(key("new")), keys(first));
    replays.run();
    q.releaseFreshFirst(led::contains, FRESH).run(); // east's own takeover, as the dispatcher runs it
    q.done(first);
    List<WorkQueue.Item> second = q.take(100, 0, TimeUnit.MILLISECONDS);
    assertEquals(List.of(east.key()), keys(second), "east's fresh change alone, before the replays");
    q.done(second);
    assertEquals(List.of(key("old-1")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)));
  }

  /**
   * The keys held in the window are kept up to twice the queue's capacity: a burst beyond that (a held
   * pod changing hundreds of times) drops the oldest, and the takeover then looks at every parked key
   * in its first step, so the fresh change behind the burst is found there too, in its place, newest first.
   */
  @org.junit.jupiter.api.Test
  void aBurstOfHeldChangesBeyondWhatTheQueueKeepsLeavesNoFreshChangeBehind() throws Exception {
    WorkQueue q = queue(true, true);
    q.initialListDone("west");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "a");
    park(q, "b");
    PodState b = ready("b", "10.0.0.1");
    for (int i = 0; i < 300; i++) {
      now.addAndGet(1_000);
      q.add(PodChange.of(b.key(), b, withReady(b, i % 2 == 0)), true);
    }
    q.releaseParked("west"::equals, FRESH);
    assertEquals(List.of(key("b"), key("a")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)), "both fresh, newest first");
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void withoutAFreshWindowATakeoverReplaysAsBefore(boolean coalesce) throws Exception {
    WorkQueue q = new WorkQueue(100, now::get, coalesce);
    park(q, "old-1");
    now.addAndGet(TimeUnit.SECONDS.toNanos(60));
    park(q, "new");
    q.releaseParked("west"::equals);
    assertEquals(List.of(key("new"), key("old-1")), keys(q.take(100, 0, TimeUnit.MILLISECONDS)));
  }
}

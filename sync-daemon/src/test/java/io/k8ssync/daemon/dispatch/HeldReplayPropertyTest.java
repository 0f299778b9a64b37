package io.k8ssync.daemon.dispatch;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The queue's promise to a takeover, checked over thousands of random histories of one pod: a
 * standby holds the pod's changes (taking and parking them as its worker would) while another
 * replica leads and may apply any of them, then takes over while changes keep coming and its own
 * applies fail and retry at random. Whatever the interleaving, every registration the old leader
 * may have made is handed to the new leader's sink (as a "before" to undo, or as a state it applied
 * itself), no stale state is ever handed out to be put online, and the sink ends at the newest state.
 */
class HeldReplayPropertyTest {

  private static final int RUNS = 5_000;

  @Test
  @Timeout(60) // a key the queue never hands out again would spin the loop below
  void aTakeoverIsHandedEveryRegistrationTheOldLeaderMayHaveMadeAndOnlyTheNewestState() throws Exception {
    Random random = new Random(20261125);
    for (int run = 0; run < RUNS; run++) {
      replay(random, run);
    }
  }

  private static void replay(Random random, int run) throws InterruptedException {
    List<PodState> history = history(random);
    int takeover = random.nextInt(history.size() + 1); // changes before this one arrive while another replica leads
    WorkQueue queue = new WorkQueue(10, System::nanoTime);
    List<PodChange> applied = new ArrayList<>();
    PodState newest = null;
    boolean leading = false;
    WorkQueue.Item inFlight = null;
    boolean inFlightLed = false;
    int next = 0;
    while (next < history.size() || inFlight != null || queue.unfinished() > 0) {
      if (!leading && next >= takeover) {
        leading = true;
        queue.releaseParked(cluster -> true);
      }
      int action = random.nextInt(3);
      if (action == 0 && next < history.size()) {
        PodState after = history.get(next++);
        queue.add(PodChange.of(after != null ? after.key() : newest.key(), newest, after), !leading);
        newest = after;
      } else if (inFlight == null) {
        List<WorkQueue.Item> taken = queue.take(1, 0, TimeUnit.MILLISECONDS);
        if (!taken.isEmpty()) {
          inFlight = taken.get(0);
          inFlightLed = leading;
          String where = "run " + run + " history " + brief(history) + " takeover " + takeover;
          assertEquals(1, inFlight.changes().size(), "one change of a pod at a time: " + where);
          assertEquals(newest, inFlight.changes().get(0).after(), "only the newest state is handed out: " + where);
        }
      } else if (!inFlightLed) {
        queue.park(inFlight, "c1");
        if (leading) {
          queue.releaseParked(cluster -> true); // leadership came while parking, as SinkRunner does
        }
        inFlight = null;
      } else if (random.nextInt(3) == 0) {
        queue.retry(inFlight); // the sink failed; its backoff passes at once
        queue.release(inFlight.key());
        inFlight = null;
      } else {
        applied.add(inFlight.changes().get(0));
        queue.done(inFlight);
        inFlight = null;
      }
    }
    String where = "run " + run + " history " + brief(history) + " takeover " + takeover + " applied "
        + applied.stream().map(c -> brief(c.before()) + "->" + brief(c.after())).toList();
    PodState last = history.get(history.size() - 1);
    assertEquals(last, applied.get(applied.size() - 1).after(), "the sink ends at the newest state: " + where);
    for (PodState s : history.subList(0, takeover)) {
      if (Registration.desiredOnline(s)) {
        assertTrue(applied.stream().anyMatch(c -> Registration.sameInstance(c.before(), s) || Registration.sameInstance(c.after(), s)),
            "the new leader's sink learns of " + s.uid() + "@" + s.address() + ", which the old leader may have put online: " + where);
      }
    }
  }

  private static List<String> brief(List<PodState> states) {
    return states.stream().map(HeldReplayPropertyTest::brief).toList();
  }

  private static String brief(PodState s) {
    return s == null ? "gone" : s.uid() + "@" + s.ip() + (s.terminating() ? ":terminating" : s.ready() ? ":ready" : ":unready");
  }

  /** 2 to 12 states of one pod: readiness flaps, termination, deletion and new incarnations, at a new address or the same. */
  private static List<PodState> history(Random random) {
    List<PodState> out = new ArrayList<>();
    PodState s = null;
    int incarnation = 0;
    int version = 0;
    int length = 2 + random.nextInt(11);
    while (out.size() < length) {
      int r = random.nextInt(5);
      if (s == null || r == 0 && out.isEmpty()) {
        incarnation++;
        String ip = random.nextBoolean() ? "10.0.0.1" : "10.0.0." + incarnation; // a sticky IP, or a new one
        s = withReady(withUid(withIp(ready("a", "10.0.0.1"), ip), "uid-" + incarnation), random.nextBoolean());
      } else if (r == 0 || r == 1) {
        s = withReady(s, !s.ready());
      } else if (r == 2) {
        s = null;
      } else if (r == 3) {
        s = s.terminating() ? null : withTerminating(s);
      } else {
        s = withVersion(s, Integer.toString(++version));
      }
      out.add(s);
    }
    return out;
  }
}

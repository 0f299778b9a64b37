package io.k8ssync.sink;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PodChangeTest {

  private final PodState up = ready("a", "10.0.0.1");
  private final PodState down = withReady(up, false);

  @Test
  void derivesEachTransition() {
    assertEquals(Transition.ADDED, PodChange.derive(null, down));
    assertEquals(Transition.BECAME_READY, PodChange.derive(down, up));
    assertEquals(Transition.BECAME_UNREADY, PodChange.derive(up, down));
    assertEquals(Transition.TERMINATING, PodChange.derive(up, withTerminating(up)));
    assertEquals(Transition.ADDRESS_CHANGED, PodChange.derive(up, withIp(up, "10.0.0.2")));
    assertEquals(Transition.ADDRESS_CHANGED, PodChange.derive(up, withUid(up, "other")));
    assertEquals(Transition.UPDATED, PodChange.derive(up, PodStates.withVersion(up, "2")));
    assertEquals(Transition.DELETED, PodChange.derive(up, null));
  }

  @Test
  void terminatingWinsOverUnreadyWhenBothHappen() {
    assertEquals(Transition.TERMINATING, PodChange.derive(up, withTerminating(down)));
  }

  @Test
  void gettingAnIpForTheFirstTimeIsNotAnAddressChange() {
    PodState pending = withIp(down, null);
    assertEquals(Transition.BECAME_READY, PodChange.derive(pending, up));
  }

  @Test
  void mergingKeepsOldestBeforeAndNewestAfter() {
    PodChange first = PodChange.of("k", down, up);
    PodChange second = PodChange.of("k", up, withTerminating(up));
    PodChange merged = first.then(second);
    assertSame(down, merged.before());
    assertEquals(withTerminating(up), merged.after());
    assertEquals(Transition.TERMINATING, merged.transition());
  }

  @Test
  void createdThenDeletedBeforeSeenMergesToDeletedOfTheLastState() {
    PodChange merged = PodChange.of("k", null, up).then(PodChange.of("k", up, null));
    assertEquals(Transition.DELETED, merged.transition());
    assertSame(up, merged.before());
    assertEquals(null, merged.after());
  }

  @Test
  void refusesToMergeChangesOfDifferentPods() {
    assertThrows(IllegalArgumentException.class,
        () -> PodChange.of("a", null, up).then(PodChange.of("b", null, up)));
  }

  @Test
  void mergingHeldChangesKeepsAStateThatWasOnline() {
    PodChange added = PodChange.of(up.key(), null, up);
    PodChange gone = added.thenKeepingOnline(PodChange.of(up.key(), up, down));
    assertSame(up, gone.before(), "another replica may have put it online: it must still go offline");
    assertEquals(Transition.BECAME_UNREADY, gone.transition());
    PodChange deleted = gone.thenKeepingOnline(PodChange.of(up.key(), down, null));
    assertSame(up, deleted.before());
    assertEquals(Transition.DELETED, deleted.transition());
    assertSame(null, added.then(PodChange.of(up.key(), up, down)).before(), "the ordinary merge forgets it");
    PodChange back = gone.thenKeepingOnline(PodChange.of(up.key(), down, up));
    assertSame(up, back.after(), "online again: an ordinary merge");
  }
}

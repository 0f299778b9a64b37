package io.k8ssync.sink;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
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
    String k = up.key();
    List<PodChange> gone = PodChange.keepingOnline(List.of(PodChange.of(k, null, up)), List.of(PodChange.of(k, up, down)));
    assertEquals(List.of(PodChange.of(k, up, down)), gone, "another replica may have put it online: it must still go offline");
    List<PodChange> deleted = PodChange.keepingOnline(gone, List.of(PodChange.of(k, down, null)));
    assertEquals(List.of(PodChange.of(k, up, null)), deleted);
    assertSame(null, PodChange.of(k, null, up).then(PodChange.of(k, up, down)).before(), "the ordinary merge forgets it");
    List<PodChange> back = PodChange.keepingOnline(gone, List.of(PodChange.of(k, down, up)));
    assertEquals(List.of(PodChange.of(k, up, up)), back, "online again as the same registration: nothing to undo");
  }

  @Test
  void mergingHeldChangesKeepsEveryIncarnationThatWasOnline() {
    // A rolling update twice over while another replica led: uid 1 online, replaced by uid 2
    // (online), replaced by uid 3 (not ready yet). Both 1 and 2 must go offline; 2 must not go online.
    String k = up.key();
    PodState second = withIp(withUid(up, "uid-2"), "10.0.0.2");
    PodState third = withReady(withIp(withUid(up, "uid-3"), "10.0.0.3"), false);
    List<PodChange> held = List.of(PodChange.of(k, up, null));
    held = PodChange.keepingOnline(held, List.of(PodChange.of(k, null, second)));
    held = PodChange.keepingOnline(held, List.of(PodChange.of(k, second, null)));
    held = PodChange.keepingOnline(held, List.of(PodChange.of(k, null, third)));
    assertEquals(List.of(PodChange.of(k, up, third), PodChange.of(k, second, third)), held);
    List<PodChange> ready = PodChange.keepingOnline(held, List.of(PodChange.of(k, third, withReady(third, true))));
    assertEquals(List.of(PodChange.of(k, up, withReady(third, true)), PodChange.of(k, second, withReady(third, true))), ready,
        "the newest state is what every change ends at");
  }

  @Test
  void mergingTwoHeldListsKeepsWhatBothKept() {
    String k = up.key();
    PodState second = withIp(withUid(up, "uid-2"), "10.0.0.2");
    PodState third = withIp(withUid(up, "uid-3"), "10.0.0.3");
    List<PodChange> older = List.of(PodChange.of(k, up, second), PodChange.of(k, withIp(up, "10.0.0.9"), second));
    List<PodChange> newer = List.of(PodChange.of(k, second, third));
    assertEquals(List.of(PodChange.of(k, up, third), PodChange.of(k, withIp(up, "10.0.0.9"), third), PodChange.of(k, second, third)),
        PodChange.keepingOnline(older, newer));
    assertEquals(PodChange.keepingOnline(older, newer),
        PodChange.keepingOnline(older, List.of(PodChange.of(k, second, third), PodChange.of(k, withIp(up, "10.0.0.9"), third))),
        "one change per registration");
  }

  @Test
  void aHeldRegistrationIsJudgedByTheSinksSelector() {
    // A sink that registers pods labelled gw=yes. The pod was registered as s1; its label then
    // changed to gw=no (same instance), it was deleted (a change this sink is not offered) and
    // recreated as s3 with gw=yes. s1 is what the sink's target holds: it must stay the "before".
    java.util.function.Predicate<PodState> selected = p -> Registration.desiredOnline(p) && "yes".equals(p.labels().get("gw"));
    String k = up.key();
    PodState s1 = gw(up, "yes");
    PodState s2 = gw(PodStates.withVersion(up, "2"), "no");
    PodState s3 = gw(withIp(withUid(up, "uid-3"), "10.0.0.3"), "yes");
    List<PodChange> held = PodChange.keepingOnline(List.of(PodChange.of(k, null, s1)), List.of(PodChange.of(k, s1, s2)), selected);
    held = PodChange.keepingOnline(held, List.of(PodChange.of(k, null, s3)), selected);
    assertEquals(List.of(PodChange.of(k, s1, s3)), held);
    assertEquals(List.of(PodChange.of(k, s2, s3)),
        PodChange.keepingOnline(List.of(PodChange.of(k, s1, s2)), List.of(PodChange.of(k, null, s3))),
        "judged without the selector, the newest state s2 would stand for it, and this sink ignores s2");
  }


  @Test
  void anOfflineIsRenderedFromTheNewestStateOfItsRegistration() {
    String k = up.key();
    PodState heavier = PodStates.withVersion(up, "2");
    List<PodChange> held = PodChange.keepingOnline(List.of(PodChange.of(k, null, up)), List.of(PodChange.of(k, up, heavier)));
    held = PodChange.keepingOnline(held, List.of(PodChange.of(k, heavier, null)));
    assertEquals(List.of(PodChange.of(k, heavier, null)), held);
  }

  private static PodState gw(PodState p, String value) {
    return PodStates.withLabels(p, java.util.Map.of("gw", value));
  }
}

package io.k8ssync.sink;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One change of one pod: the state a sink last saw ({@code before}, null when new) and the latest
 * state ({@code after}, null when deleted). Sinks act on {@code after}; {@code before} tells them
 * what to undo, such as an old address.
 *
 * <p>Changes that pile up while a sink is slow are coalesced with {@link #then}: the sink then sees
 * the oldest {@code before} and the newest {@code after}.
 */
public record PodChange(String key, PodState before, PodState after, Transition transition) {

  public PodChange {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(transition, "transition");
    if (before == null && after == null) {
      throw new IllegalArgumentException("a change needs a before or an after state");
    }
  }

  /** Builds the change between two states of the pod named by {@code key}. */
  public static PodChange of(String key, PodState before, PodState after) {
    return new PodChange(key, before, after, derive(before, after));
  }

  /**
   * The transition from {@code before} to {@code after}; the most consequential one wins when
   * several happened at once (a pod that turned unready while terminating is TERMINATING).
   */
  public static Transition derive(PodState before, PodState after) {
    if (after == null) {
      return Transition.DELETED;
    }
    if (before == null) {
      return Transition.ADDED;
    }
    if (!before.uid().equals(after.uid())) {
      return Transition.ADDRESS_CHANGED;
    }
    if (after.terminating() && !before.terminating()) {
      return Transition.TERMINATING;
    }
    if (before.ip() != null && !before.ip().isEmpty() && !Objects.equals(before.ip(), after.ip())) {
      return Transition.ADDRESS_CHANGED;
    }
    if (after.ready() && !before.ready()) {
      return Transition.BECAME_READY;
    }
    if (!after.ready() && before.ready()) {
      return Transition.BECAME_UNREADY;
    }
    return Transition.UPDATED;
  }

  /** This change followed by {@code next} of the same pod, as one change. */
  public PodChange then(PodChange next) {
    if (!key.equals(next.key)) {
      throw new IllegalArgumentException("cannot merge changes of " + key + " and " + next.key);
    }
    if (before == null && next.after == null) {
      // Created and deleted before the sink saw either: the sink still gets the deletion, so a
      // sink that was told nothing can treat it as a no-op and one that wrote early can undo.
      return new PodChange(key, after, null, Transition.DELETED);
    }
    return PodChange.of(key, before, next.after);
  }

  /**
   * Changes held for (or replayed from) another replica, followed by {@code newer}, as the list
   * whoever applies them must get one by one. Every state in between may have been put online by
   * the other replica, so each distinct registration that was desired online gets a change of its
   * own, from its newest such state to the pod's newest state: applying them takes each
   * registration offline unless the newest state keeps it (several incarnations of one pod may have
   * come and gone), and never puts a state in between online. {@code online} is the sink's rule
   * for "desired online", its selector included: a registration's newest state inside the selection
   * is what it was registered as. The first change keeps the oldest "before", unless that was not
   * online and another state was.
   */
  public static List<PodChange> keepingOnline(List<PodChange> older, List<PodChange> newer,
                                              java.util.function.Predicate<PodState> online) {
    PodChange last = newer.get(newer.size() - 1);
    if (!older.get(0).key.equals(last.key)) {
      throw new IllegalArgumentException("cannot merge changes of " + older.get(0).key + " and " + last.key);
    }
    PodState after = last.after;
    List<PodState> seen = new ArrayList<>();
    older.forEach(c -> seen.add(c.before));
    seen.add(older.get(older.size() - 1).after);
    newer.forEach(c -> seen.add(c.before));
    // One per registration, its newest state: what an offline of it is best rendered from.
    List<PodState> undo = new ArrayList<>();
    for (PodState s : seen) {
      if (online.test(s)) {
        int i = 0;
        while (i < undo.size() && !Registration.sameInstance(undo.get(i), s)) {
          i++;
        }
        if (i < undo.size()) {
          undo.set(i, s);
        } else {
          undo.add(s);
        }
      }
    }
    PodChange head = older.get(0).then(last);
    PodState headBefore = undo.stream().filter(u -> Registration.sameInstance(u, head.before)).findFirst()
        .orElse(online.test(head.before) || undo.isEmpty() ? head.before : undo.get(0));
    List<PodChange> out = new ArrayList<>(1 + undo.size());
    out.add(headBefore == head.before ? head : PodChange.of(head.key, headBefore, after));
    for (PodState s : undo) {
      if (!Registration.sameInstance(s, headBefore)) {
        out.add(PodChange.of(head.key, s, after));
      }
    }
    return List.copyOf(out);
  }

  /** As {@link #keepingOnline(List, List, java.util.function.Predicate)} for a sink without a selector. */
  public static List<PodChange> keepingOnline(List<PodChange> older, List<PodChange> newer) {
    return keepingOnline(older, newer, Registration::desiredOnline);
  }

  /** The pod's identity for logs: {@code key} plus uid of the newest state. */
  public PodState latest() {
    return after != null ? after : before;
  }
}

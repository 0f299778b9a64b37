package io.k8ssync.sink;

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
   * As {@link #then}, for a change another replica may have applied in part: a state in between
   * that was desired online stays the "before" once the pod is no longer online, so whoever
   * applies the merged change still takes that state offline.
   */
  public PodChange thenKeepingOnline(PodChange next) {
    PodChange merged = then(next);
    if (after == null || !Registration.desiredOnline(after) || Registration.desiredOnline(merged.after)) {
      return merged;
    }
    return merged.after == null ? new PodChange(key, after, null, Transition.DELETED) : PodChange.of(key, after, merged.after);
  }

  /** The pod's identity for logs: {@code key} plus uid of the newest state. */
  public PodState latest() {
    return after != null ? after : before;
  }
}

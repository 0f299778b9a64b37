package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registration ledger: which address this sink put online for each pod (also when the call's
 * outcome is unknown), and what it took offline during a change not yet complete.
 *
 * <p>Thread rules: a pod's entries change under that pod's lock ({@link PodLocks}); the one
 * exception, {@link #recordIfAbsent}, only adds a record where there is none. Reads need no lock.
 */
final class Ledger {

  /**
   * What this sink put online (or tried to) for a pod; {@code confirmed} once the target said yes.
   * A rejected online stays here unconfirmed: the target may hold it anyway, so its offline still goes out.
   * {@code uncertain}: some online call of it had an unknown outcome and may still land, so its
   * offline is repeated later ({@code repeatOfflineAfter}).
   */
  record Registered(PodState state, boolean confirmed, boolean uncertain, long term) {
    boolean sameInstance(PodState p) {
      return Registration.sameInstance(state, p);
    }
  }

  /** What was taken offline for a pod during one change, and in which leadership term. */
  record Offlined(List<PodState> states, long term) {
    boolean has(PodState p) {
      return states.stream().anyMatch(s -> Registration.sameInstance(s, p));
    }
  }

  private final Map<String, Registered> registered = new ConcurrentHashMap<>();
  /**
   * What this sink took offline for a pod during a change not yet completed, and in which
   * leadership term: a retry or deferral of the same change must not offline it again.
   */
  private final Map<String, Offlined> offlined = new ConcurrentHashMap<>();

  Registered registered(String key) {
    return registered.get(key);
  }

  void record(String key, Registered r) {
    registered.put(key, r);
  }

  /** A record for a pod that has none, without its lock: nothing of that pod is overwritten. */
  void recordIfAbsent(String key, Registered r) {
    registered.putIfAbsent(key, r);
  }

  void forget(String key) {
    registered.remove(key);
  }

  /** A snapshot of the pods with a record. */
  List<String> keys() {
    return new ArrayList<>(registered.keySet());
  }

  Set<String> keySet() {
    return Set.copyOf(registered.keySet());
  }

  Offlined offlined(String key) {
    return offlined.get(key);
  }

  /** Notes that {@code old} went offline during the pod's current change, in {@code term}. */
  void offlinedDuringChange(String key, PodState old, long term) {
    Offlined done = offlined.get(key);
    List<PodState> states = new ArrayList<>(done == null ? List.of() : done.states());
    states.add(old);
    offlined.put(key, new Offlined(List.copyOf(states), term));
  }

  /** The pod's change is complete (or belongs to an earlier term): its retries are over. */
  void changeComplete(String key) {
    offlined.remove(key);
  }

  /** A snapshot of the pods with offlines noted for a change not yet complete. */
  List<String> keysWithOfflines() {
    return new ArrayList<>(offlined.keySet());
  }
}

package io.k8ssync.daemon.informer;

import java.time.Duration;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mass-removal guard of a relist. After a lost watch the informer lists again and removes
 * every cached pod the list lacks. When that would remove more than {@code share} of the pods (an
 * API server answering from an empty or partial store, a permission narrowed by mistake), the
 * removals are held: the pods stay in the cache as they were, so nothing goes offline. A later,
 * independent list confirms: pods still absent are removed then, pods present are kept.
 *
 * <p>Thread rules: {@link #listed}, {@link #syncStarts} and {@link #holds} run on the informer's
 * thread; {@link #confirm} on a timer. The caller serializes them per store.
 */
public final class RelistGuard {

  private static final Logger LOG = LoggerFactory.getLogger(RelistGuard.class);

  /** How the guard decides; share 1.0 turns it off. */
  public record Settings(double share, Duration confirmAfter) {
    public static final Settings DEFAULTS = new Settings(0.5, Duration.ofSeconds(30));
  }

  /** What the guard reports: held, then confirmed (removed) or kept (still there). */
  interface Outcomes {
    void counted(String outcome, int pods);
  }

  private final String where;
  private final Settings settings;
  private final Outcomes outcomes;
  /** Keys put since the watch was lost: what the relist found. */
  private final Set<String> listed = ConcurrentHashMap.newKeySet();
  /** Held keys and the uid each had when held. */
  private final Map<String, String> held = new ConcurrentHashMap<>();

  RelistGuard(String where, Settings settings, Outcomes outcomes) {
    this.where = where;
    this.settings = settings;
    this.outcomes = outcomes;
  }

  /** The informer put {@code key} while not watching (a list, initial or not). */
  void listed(String key) {
    listed.add(key);
    held.remove(key); // fresh news of the pod: nothing to hold any more
  }

  /**
   * A relist is about to remove what it did not find. Returns true when the removals are held:
   * then {@link #holds} says which, and the caller schedules {@link #confirm} after
   * {@link Settings#confirmAfter}.
   */
  boolean syncStarts(Map<String, String> cachedUids) {
    Set<String> missing = new HashSet<>(cachedUids.keySet());
    missing.removeAll(listed);
    listed.clear();
    if (missing.size() < 2 || missing.size() <= settings.share() * cachedUids.size()) {
      return false;
    }
    for (String key : missing) {
      held.put(key, cachedUids.get(key));
    }
    outcomes.counted("held", missing.size());
    LOG.warn("relist would remove {} of {} cached pods: removals held, nothing goes offline;"
        + " a new list in {}s confirms: {}", missing.size(), cachedUids.size(), settings.confirmAfter().toSeconds(), where);
    return true;
  }

  boolean holds(String key) {
    return held.containsKey(key);
  }

  /** The watch brought news of {@code key} (an update or a real deletion): it is held no more. */
  void fresh(String key) {
    held.remove(key);
  }

  boolean holding() {
    return !held.isEmpty();
  }

  /**
   * A later list says what exists now (key to the listed object, {@code uid} of it). Held pods it
   * lacks are removed through {@code remove}; those it has are stored afresh through
   * {@code refresh} (their state may have changed while no watch ran; a new uid replaces the old
   * incarnation).
   */
  <T> void confirm(Map<String, T> existing, java.util.function.Function<T, String> uid, Consumer<String> remove,
                   java.util.function.BiConsumer<String, T> refresh) {
    int removed = 0;
    int kept = 0;
    for (Map.Entry<String, String> e : Map.copyOf(held).entrySet()) {
      if (held.remove(e.getKey()) == null) {
        continue; // put meanwhile: the informer knows better
      }
      T now = existing.get(e.getKey());
      if (now == null) {
        remove.accept(e.getKey());
        removed++;
        continue;
      }
      if (!e.getValue().equals(uid.apply(now))) {
        removed++; // that incarnation is gone; the new one takes its place
      } else {
        kept++;
      }
      refresh.accept(e.getKey(), now);
    }
    if (removed > 0) {
      outcomes.counted("confirmed", removed);
    }
    if (kept > 0) {
      outcomes.counted("kept", kept);
    }
    LOG.warn("relist removals checked by a new list: {} confirmed and removed, {} still exist and are kept: {}",
        removed, kept, where);
  }
}

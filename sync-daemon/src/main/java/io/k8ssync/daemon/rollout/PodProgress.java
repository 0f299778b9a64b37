package io.k8ssync.daemon.rollout;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongSupplier;

/**
 * Where each pod stands in each sink, as the sinks report it ({@link Progress}): the readiness gate,
 * the offline wait and the Kruise hooks decide from here, and people read it in the status API.
 * One entry per sink and pod, for the pod's latest incarnation; an entry goes once the pod is gone
 * from the cache and offline in that sink. Thread-safe; listeners run on the reporting thread and
 * must not block.
 */
public final class PodProgress {

  /** Where a pod stands in one sink. */
  public enum State { ONLINE, DRAINING, OFFLINE, FAILING }

  /**
   * The last report of a sink about a pod: which incarnation (uid) at which address, since when
   * (epoch millis, of the last change of state), the last error and how many failures in a row,
   * when it went offline (nanoTime, 0 if not), and whether it was online in this process.
   */
  public record Entry(String uid, long createdAtMillis, String address, State state, long sinceMillis, String error,
                      int attempts, long offlineAtNanos, boolean wasOnline) {}

  /** Told the pod key and sink of every report. */
  @FunctionalInterface
  public interface Listener {
    void reported(String podKey, String sink);
  }

  private final Map<String, Map<String, Entry>> bySink = new ConcurrentHashMap<>();
  private final java.util.List<Listener> listeners = new CopyOnWriteArrayList<>();
  private final LongSupplier nanoTime;
  private final LongSupplier millis;

  public PodProgress() {
    this(System::nanoTime, System::currentTimeMillis);
  }

  PodProgress(LongSupplier nanoTime, LongSupplier millis) {
    this.nanoTime = nanoTime;
    this.millis = millis;
  }

  public void addListener(Listener listener) {
    listeners.add(listener);
  }

  /** The reporting end handed to one sink. */
  public Progress forSink(String sink) {
    Map<String, Entry> entries = bySink.computeIfAbsent(sink, s -> new ConcurrentHashMap<>());
    return new Progress() {
      @Override public void online(PodState pod) {
        report(sink, entries, pod, State.ONLINE, null);
      }

      @Override public void draining(PodState pod) {
        report(sink, entries, pod, State.DRAINING, null);
      }

      @Override public void offline(PodState pod) {
        report(sink, entries, pod, State.OFFLINE, null);
      }

      @Override public void failing(PodState pod, String error) {
        report(sink, entries, pod, State.FAILING, error == null ? "unknown error" : error);
      }
    };
  }

  private void report(String sink, Map<String, Entry> entries, PodState pod, State state, String error) {
    String key = pod.key();
    entries.compute(key, (k, old) -> {
      boolean same = old != null && old.uid().equals(pod.uid());
      if (old != null && !same && pod.createdAtMillis() < old.createdAtMillis()) {
        return old; // a late word about an incarnation that is gone must not hide the current one's
      }
      boolean changed = !same || old.state() != state;
      long since = changed ? millis.getAsLong() : old.sinceMillis();
      int attempts = state == State.FAILING ? (same && old.state() == State.FAILING ? old.attempts() + 1 : 1) : 0;
      long offlineAt = state == State.OFFLINE ? (same && old.state() == State.OFFLINE ? old.offlineAtNanos() : nanoTime.getAsLong()) : 0;
      boolean wasOnline = state == State.ONLINE || state == State.DRAINING || (same && old.wasOnline());
      return new Entry(pod.uid(), pod.createdAtMillis(), pod.address(), state, since, error, attempts, offlineAt, wasOnline);
    });
    for (Listener l : listeners) {
      l.reported(key, sink);
    }
  }

  /** The last report of {@code sink} about {@code podKey}, or null. */
  public Entry get(String sink, String podKey) {
    Map<String, Entry> entries = bySink.get(sink);
    return entries == null ? null : entries.get(podKey);
  }

  /** Entries of one sink (a live view). */
  public Map<String, Entry> of(String sink) {
    return bySink.getOrDefault(sink, Map.of());
  }

  /** Forgets {@code podKey} in every sink where it is offline (the pod is gone); returns true when nothing of it is left. */
  public boolean forgetOffline(String podKey) {
    boolean empty = true;
    for (Map<String, Entry> entries : bySink.values()) {
      Entry e = entries.get(podKey);
      if (e != null && e.state() == State.OFFLINE) {
        entries.remove(podKey, e);
      } else if (e != null) {
        empty = false;
      }
    }
    return empty;
  }

  /**
   * Forgets what {@code sink} reported about the pods of {@code cluster}: this replica stopped
   * leading it, so its sink's word is stale (its timers were cancelled; the new leader's sinks report).
   */
  public void forgetCluster(String sink, String cluster) {
    Map<String, Entry> entries = bySink.get(sink);
    if (entries != null) {
      entries.keySet().removeIf(k -> k.startsWith(cluster + "/"));
    }
  }

  /** Forgets {@code podKey} in one sink. */
  public void forget(String sink, String podKey) {
    Map<String, Entry> entries = bySink.get(sink);
    if (entries != null) {
      entries.remove(podKey);
    }
  }

  /** Entries kept, over all sinks (for the memory bound's tests and a gauge). */
  public int size() {
    return bySink.values().stream().mapToInt(Map::size).sum();
  }
}

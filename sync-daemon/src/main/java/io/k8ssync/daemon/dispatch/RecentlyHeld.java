package io.k8ssync.daemon.dispatch;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Which held keys changed, or were parked, in the last {@code window} (nanoTime), oldest first: a
 * takeover finds its fresh keys here instead of in a pass over every held key ({@link WorkQueue};
 * TakeoverBench at 10,000 pods: one such pass per sink, sink after sink, and the fifth sink started
 * 100 ms after the Lease). At most {@code limit} entries: past that the oldest go, and {@link #covers}
 * then says no for a cutoff that reaches back to one of them. Not thread-safe: the queue's lock guards it.
 */
final class RecentlyHeld {

  private record Entry(String key, long at) {}

  private final ArrayDeque<Entry> entries = new ArrayDeque<>();
  private final long limit;
  private long window;
  /** When the newest entry dropped for room (not for age) came; Long.MIN_VALUE when none was. */
  private long droppedAt = Long.MIN_VALUE;

  RecentlyHeld(long limit) {
    this.limit = limit;
  }

  /** Keeps entries for {@code nanos}; 0 (the default) keeps none. */
  void window(long nanos) {
    window = nanos;
  }

  long window() {
    return window;
  }

  /** {@code key} held or parked at {@code now}; what is older than the window goes. */
  void add(String key, long now) {
    if (window <= 0) {
      return;
    }
    long oldest = now - window;
    while (!entries.isEmpty() && entries.peekFirst().at() - oldest < 0) {
      entries.pollFirst();
    }
    if (entries.size() >= limit) {
      droppedAt = entries.pollFirst().at(); // a burst of held changes: bounded, and a takeover then looks at every key
    }
    entries.addLast(new Entry(key, now));
  }

  /**
   * True when every key held in the last {@code nanos}, since {@code cutoff}, is here: the window
   * reaches that far back and nothing since was dropped for room.
   */
  boolean covers(long nanos, long cutoff) {
    return nanos > 0 && nanos <= window && (droppedAt == Long.MIN_VALUE || droppedAt - cutoff < 0);
  }

  /** The distinct keys held or parked since {@code cutoff}, newest first. */
  Set<String> since(long cutoff) {
    Set<String> keys = new LinkedHashSet<>();
    for (Iterator<Entry> it = entries.descendingIterator(); it.hasNext(); ) {
      Entry e = it.next();
      if (e.at() - cutoff < 0) {
        break;
      }
      keys.add(e.key());
    }
    return keys;
  }
}

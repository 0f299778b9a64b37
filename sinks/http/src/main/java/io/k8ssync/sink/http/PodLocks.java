package io.k8ssync.sink.http;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One lock per pod (not striped), which orders what happens to that pod's registration: the
 * daemon's changes and the sink's own timers (re-assertion, repeated offlines, housekeeping).
 *
 * <p>A holder may keep it across that pod's own call to the target (the order of one pod's calls is
 * the point), so it delays nothing but the same pod: the daemon waits for it ({@link #lock}), at most
 * one call's timeout; the timers never wait ({@link #tryLock}) and come back later instead. A lock
 * lives only while someone holds or waits for it.
 */
final class PodLocks {

  /** A held lock; {@link #close} releases it. */
  interface Held extends AutoCloseable {
    @Override
    void close();
  }

  private static final class Entry {
    final ReentrantLock lock = new ReentrantLock();
    int users; // changed only inside compute() of the map, so under its per-key lock
  }

  private final Map<String, Entry> locks = new ConcurrentHashMap<>();

  /** Waits for the pod's lock. */
  Held lock(String key) {
    Entry e = retain(key);
    e.lock.lock();
    return () -> release(key, e);
  }

  /** The pod's lock if it is free now; else null. */
  Held tryLock(String key) {
    Entry e = retain(key);
    if (!e.lock.tryLock()) {
      unretain(key);
      return null;
    }
    return () -> release(key, e);
  }

  private Entry retain(String key) {
    return locks.compute(key, (k, e) -> {
      Entry in = e == null ? new Entry() : e;
      in.users++;
      return in;
    });
  }

  private void release(String key, Entry e) {
    e.lock.unlock();
    unretain(key);
  }

  private void unretain(String key) {
    locks.computeIfPresent(key, (k, e) -> --e.users == 0 ? null : e);
  }
}

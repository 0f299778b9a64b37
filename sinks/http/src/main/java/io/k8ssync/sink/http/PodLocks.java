package io.k8ssync.sink.http;

/**
 * The per-pod lock that orders what happens to one pod's registration: the daemon's changes and the
 * sink's own timers (re-assertion, repeated offlines, housekeeping). Striped: pods share locks.
 */
final class PodLocks {

  private final Object[] locks = new Object[64];

  PodLocks() {
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new Object();
    }
  }

  Object of(String key) {
    return locks[Math.floorMod(key.hashCode(), locks.length)];
  }
}

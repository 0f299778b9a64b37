package io.k8ssync.daemon.status;

import java.util.Locale;

/**
 * Where a pod stands in one sink, as people ask it: {@link #PENDING} is "the sink wants it online
 * (or offline) and has not reported so yet"; {@link #STANDBY} is "this replica does not apply the
 * pod's cluster: ask the leader".
 */
public enum SinkPodState {
  ONLINE, DRAINING, OFFLINE, PENDING, FAILING, STANDBY;

  /** The lowercase name used in the API, the page and the command. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The state named {@code label}, or null. */
  public static SinkPodState of(String label) {
    for (SinkPodState s : values()) {
      if (s.label().equals(label)) {
        return s;
      }
    }
    return null;
  }
}

package io.k8ssync.sink;

import java.util.Collection;

/** Read access to the daemon's pod cache, for sinks that reconcile. */
public interface PodStateView {

  /** True once every informer has delivered its initial list; never reconcile before. */
  boolean synced();

  /**
   * Synced and every pod watch open: the cache is current, not only complete. While a watch is down
   * (the API server unreachable, a relist after 410 Gone) a pod Ready since then is missing from the
   * cache, though another replica may have registered it; a pass that removes what the cache lacks
   * waits for this.
   */
  default boolean current() {
    return synced();
  }

  /** A snapshot of all cached pods. */
  Collection<PodState> pods();

  /**
   * The pods of {@code clusters}. A reconcile pass takes {@link SinkContext#clusters()} once and
   * uses it for both sides, so a cluster that changes hands during the pass is on neither.
   */
  default Collection<PodState> pods(java.util.Set<String> clusters) {
    return pods().stream().filter(p -> clusters.contains(p.cluster())).toList();
  }

  /** The pods of one logical service. */
  Collection<PodState> podsOfService(String service);

  /** The pods holding an IP (more than one while an IP is reused before the old pod is gone). */
  default Collection<PodState> podsWithIp(String ip) {
    return pods().stream().filter(p -> ip.equals(p.ip())).toList();
  }
}

package io.k8ssync.daemon.status;

import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.rollout.PodProgress;
import java.util.List;
import java.util.Map;

/**
 * What the status API, page and Events read of a running replica, all from memory: the pod cache,
 * what each sink reported ({@link PodProgress}), the sinks' queues and this replica's leadership.
 */
public record StatusSource(PodStateCache cache, PodProgress progress, Dispatcher dispatcher,
                           List<DaemonConfig.SinkSpec> sinks, Replica replica) {

  /** This replica's place among its peers. */
  public interface Replica {

    /** {@code single} without leader election, else {@code leader}, {@code standby} or {@code partial}. */
    String role();

    /** This replica's name in the Leases; null without leader election. */
    String identity();

    /** Per cluster, the identity holding its Lease (null while unknown); empty without leader election. */
    Map<String, String> leaders();

    /** True while this replica applies the changes of {@code cluster}. */
    boolean leads(String cluster);

    boolean dryRun();

    /** When this replica last started leading {@code cluster} (epoch millis); Long.MIN_VALUE while unknown. */
    default long leadingSinceMillis(String cluster) {
      return Long.MIN_VALUE;
    }
  }
}

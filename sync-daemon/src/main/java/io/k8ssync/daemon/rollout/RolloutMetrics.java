package io.k8ssync.daemon.rollout;

import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.snapshots.Unit;

/** The rollout's series: every gate patch, offline wait and hook transition is counted here. */
final class RolloutMetrics {

  final Counter gatePatches;
  final Histogram gateWaitSeconds;
  final Counter offlineWaits;
  final Histogram offlineWaitSeconds;
  final Counter hookTransitions;

  RolloutMetrics(DaemonMetrics metrics) {
    String p = DaemonMetrics.PREFIX;
    gatePatches = Counter.builder().name(p + "readiness_gate_patches_total")
        .help("Patches of pods' readiness gate condition, by status sent (True, False) and result (ok, conflict, gone, error)")
        .labelNames("status", "result").register(metrics.registry());
    gateWaitSeconds = Histogram.builder().name(p + "readiness_gate_wait_seconds")
        .help("From a gated pod's containers turning ready to its gate set True")
        .unit(Unit.SECONDS)
        .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
        .register(metrics.registry());
    offlineWaits = Counter.builder().name(p + "offline_waits_total")
        .help("preStop offline waits, by outcome (offline, unmanaged, timeout, unknown_pod, bad_request, too_many, forwarded, no_leader, shutdown)")
        .labelNames("outcome").register(metrics.registry());
    offlineWaitSeconds = Histogram.builder().name(p + "offline_wait_seconds")
        .help("How long answered preStop offline waits took, by outcome (offline, timeout)")
        .unit(Unit.SECONDS)
        .classicUpperBounds(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
        .labelNames("outcome").register(metrics.registry());
    hookTransitions = Counter.builder().name(p + "lifecycle_hook_transitions_total")
        .help("OpenKruise lifecycle hook changes, by action (set, removed, left_alone) and result (ok, conflict, gone, error)")
        .labelNames("action", "result").register(metrics.registry());
  }
}

package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import io.k8ssync.sink.SinkContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the registry sink tells the daemon about each pod ({@link Progress}), from what it did to, or
 * found at, the pod's server. It reports what the registry holds, never what it asked for:
 * <ul>
 *   <li><b>online</b> once the pod's entry is written with {@code down:0} (a registration, a reconcile
 *       repair), or a reconcile pass finds it there, up, as the pod wants it: so a new leader learns
 *       what the old one did;</li>
 *   <li><b>draining</b> once its entry is written {@code down:1} and the drain delay runs;</li>
 *   <li><b>offline</b> once its entry is deleted after the drain delay. The last server of an upstream
 *       is never deleted (nginx-upsync would keep its old list): it stays {@code down:1}, and its pod is
 *       offline once the drain delay has passed, since nginx-upsync sends no traffic to a down server.
 *       Also offline when the sink knows nothing of the pod is there: a reconcile pass found no entry
 *       at its address for a pod not desired online, or an apply read the pod's key and found it absent
 *       for a pod whose entry this process never wrote. Never from ignorance: after a restart an entry
 *       of the earlier run may still be there, and a reconcile pass reports it once it is gone;</li>
 *   <li><b>failing</b> when a write of the sink's own fails for the pod (a drain timer's deletion, a
 *       reconcile repair or drain). A write held for want of Lease is a hold, not a failure; failures
 *       of {@code apply} the daemon reports itself.</li>
 * </ul>
 * A server's draining and offline are about its pod only while the pod is desired online nowhere in
 * this sink: a pod that moved to another upstream or address is as online as its new server.
 *
 * <p>Thread-safe: called by queue workers and the sink's scheduler, under the server's lock where
 * the order of a report and a write matters ({@link UpstreamLocks}).
 */
final class PodReports {

  private final Progress progress;
  private final DesiredServers desired;
  /**
   * Pods (key → uid) whose entry this process may have written up, or found up, in a term not yet
   * ended: only for other pods may an absent key mean "offline". Set before the write, cleared once
   * the pod is reported offline or its cluster is led elsewhere.
   */
  private final Map<String, String> mayBeUp = new ConcurrentHashMap<>();

  PodReports(SinkContext context, DesiredServers desired) {
    this.progress = context.progress();
    this.desired = desired;
  }

  /** False when nobody listens (a sink made outside a daemon): then the sink reads nothing to report. */
  boolean active() {
    return progress != Progress.NONE;
  }

  /** A write of {@code down:0} for the pod is about to start. */
  void writing(PodState p) {
    mayBeUp.put(p.key(), p.uid());
  }

  /** The pod's entry is up now, as it wants it. */
  void online(PodState p) {
    mayBeUp.put(p.key(), p.uid());
    progress.online(p);
  }

  /** True while this process may have written the pod's entry up (any incarnation of it). */
  boolean mayBeUp(String podKey) {
    return mayBeUp.containsKey(podKey);
  }

  /** The pods' server is {@code down:1} now, its drain delay running. */
  void draining(List<PodState> pods) {
    for (PodState p : leaving(pods)) {
      progress.draining(p);
    }
  }

  /** The pods' server is deleted, or kept {@code down:1} as the last of its upstream after the drain delay. */
  void offline(List<PodState> pods) {
    for (PodState p : leaving(pods)) {
      absent(p);
    }
  }

  /** Nothing of the pod is in the registry to send it traffic: the caller knows (deleted, or read absent). */
  void absent(PodState p) {
    mayBeUp.remove(p.key(), p.uid());
    progress.offline(p);
  }

  /** A write for the pod failed and will be tried again. */
  void failing(PodState p, String error) {
    progress.failing(p, error);
  }

  /** A write that takes the pods' server away failed: reported for those still leaving it. */
  void failingToLeave(List<PodState> pods, String error) {
    for (PodState p : leaving(pods)) {
      progress.failing(p, error);
    }
  }

  /** Another replica leads {@code cluster} now: what this one wrote there is no longer known here. */
  void forget(String cluster) {
    mayBeUp.keySet().removeIf(k -> k.startsWith(cluster + "/"));
  }

  /**
   * The pods a server's removal is about, each as the cache holds it now when it is the same
   * incarnation: those whose pod is not desired online in this sink (at another server) now, nor
   * replaced by a newer incarnation that is.
   */
  private List<PodState> leaving(List<PodState> pods) {
    List<PodState> out = new ArrayList<>(pods.size());
    for (PodState p : pods) {
      PodState now = desired.current(p);
      if (now == null) {
        out.add(p); // gone from the cache: the state the sink last knew
      } else if (!desired.online(now)) {
        out.add(now.uid().equals(p.uid()) ? now : p);
      }
    }
    return out;
  }
}

package io.k8ssync.sink;

/**
 * What a sink that routes traffic tells the daemon about each pod it acted on, as it happens: the
 * readiness gate turns True once every such sink reported {@link #online}, and a preStop offline
 * wait returns once every one that had the pod reported {@link #offline}. A sink reports what its
 * system holds, not what it asked for: "online" once the entry is written up (or the gateway
 * answered 2xx after warm-up, or nginx reloaded), "offline" once nothing of the registration is left
 * to send traffic (drain included). It reports again from its own state after a restart or a new
 * term (a reconcile pass or re-assertion reports every pod it looked at), so a new leader learns
 * what the old one did.
 *
 * <p>Calls never block and may come from any thread. Errors are short texts for people (what
 * {@code kubectl describe pod} shows): never a secret, never a rejected raw value.
 */
public interface Progress {

  /** This registration of the pod (its uid at its address) takes traffic through this sink now. */
  void online(PodState pod);

  /** This sink stopped sending new traffic to the pod (entry down, offline answered) and waits out the drain. */
  void draining(PodState pod);

  /** Nothing of the pod is left in this sink's system to send it traffic: taken offline, drain done, or never there. */
  void offline(PodState pod);

  /** The last attempt for the pod failed and will be retried; {@code error} says why, for people. */
  void failing(PodState pod, String error);

  /** Reports nothing: for sinks created outside a daemon (tests, tools). */
  Progress NONE = new Progress() {
    @Override public void online(PodState pod) {}
    @Override public void draining(PodState pod) {}
    @Override public void offline(PodState pod) {}
    @Override public void failing(PodState pod, String error) {}
  };
}

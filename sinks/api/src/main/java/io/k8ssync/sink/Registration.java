package io.k8ssync.sink;

/**
 * The one rule every registering sink shares: when a pod should receive traffic.
 *
 * <p>A pod is desired online when it is Running, Ready, not terminating, has an address, carries a
 * valid service identity and matches the sink's selector. Everything else is offline, so offline
 * happens on the first of: not ready, deletionTimestamp set, deleted, phase Succeeded/Failed, or
 * an address change (the old address goes offline, the new one online once ready).
 */
public final class Registration {

  private Registration() {}

  public static boolean desiredOnline(PodState pod) {
    return pod != null
        && pod.rejection() == null
        && pod.service() != null
        && pod.phase() == PodState.Phase.RUNNING
        && pod.ready()
        && !pod.terminating()
        && pod.address() != null;
  }

  public static boolean desiredOnline(PodState pod, Selector selector) {
    return desiredOnline(pod) && selector.matches(pod);
  }

  /**
   * True when both states are one registration at a target: the same incarnation (uid) of the pod
   * under the same service at the same address. A registration outlives changes of other fields.
   */
  public static boolean sameInstance(PodState a, PodState b) {
    return a != null && b != null && a.uid().equals(b.uid()) && java.util.Objects.equals(a.service(), b.service())
        && java.util.Objects.equals(a.address(), b.address());
  }

  /**
   * The address that must go offline because of this change, or {@code null}: the previous
   * address when it was online and the pod is no longer online at that same address.
   */
  public static String addressToRemove(PodChange change, Selector selector) {
    PodState before = change.before();
    if (!desiredOnline(before, selector)) {
      return null;
    }
    PodState after = change.after();
    if (desiredOnline(after, selector) && before.address().equals(after.address())) {
      return null;
    }
    return before.address();
  }
}

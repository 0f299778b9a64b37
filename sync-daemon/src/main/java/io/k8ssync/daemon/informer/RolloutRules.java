package io.k8ssync.daemon.informer;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodReadinessGate;
import io.fabric8.kubernetes.api.model.PodStatus;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How pods ask k8s-sync to hold their rollout: a readiness gate of type {@code gateCondition}, and
 * OpenKruise's lifecycle state with a hook label {@code hookLabel}={@code hookValue}. Either is off
 * when null.
 *
 * <p>A gated pod is "ready to register" once its containers are ready and every other readiness gate
 * is True: its own gate is the one thing missing, and only k8s-sync can set it. A Kruise pod that is
 * being prepared for an update or a deletion is not ready to register, whatever its containers say.
 */
public record RolloutRules(String gateCondition, String hookLabel, String hookValue) {

  public static final RolloutRules OFF = new RolloutRules(null, null, null);

  /** OpenKruise's lifecycle state label (apps.kruise.io/v1alpha1 CloneSet, v1beta1 Advanced StatefulSet). */
  public static final String KRUISE_STATE = "lifecycle.apps.kruise.io/state";
  /** The annotation k8s-sync sets beside each hook it sets: a hook without it was set by someone else. */
  public static final String HOOK_OWNER_ANNOTATION = PodRules.PREFIX + "lifecycle-hook";

  /** Kruise states in which the pod is to lose its traffic. */
  public static final Set<String> KRUISE_GOING = Set.of("PreparingUpdate", "Updating", "PreparingDelete");

  public boolean gateOn() {
    return gateCondition != null;
  }

  public boolean kruiseOn() {
    return hookLabel != null;
  }

  /** The current value of one condition, as the API server holds it. */
  public record Condition(String status, String reason, String message) {}

  /**
   * What k8s-sync needs to know of a pod beyond its {@code PodState} to drive its rollout, or null
   * when the pod neither lists the gate nor carries a Kruise state.
   */
  public Marks marks(Pod pod) {
    boolean gated = gateOn() && lists(pod, gateCondition);
    Map<String, String> labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    String state = kruiseOn() ? labels.get(KRUISE_STATE) : null;
    if (!gated && state == null) {
      return null;
    }
    PodCondition gate = gated ? condition(pod.getStatus(), gateCondition) : null;
    Map<String, String> annotations = pod.getMetadata().getAnnotations() == null ? Map.of() : pod.getMetadata().getAnnotations();
    boolean hooked = state != null && hookValue.equals(labels.get(hookLabel));
    return new Marks(pod.getMetadata().getUid(), pod.getMetadata().getResourceVersion(), gated,
        gate == null ? null : new Condition(gate.getStatus(), gate.getReason(), gate.getMessage()),
        state, hooked, hooked && hookLabel.equals(annotations.get(HOOK_OWNER_ANNOTATION)));
  }

  /**
   * Per pod: its uid and resourceVersion (the preconditions of a patch), whether it lists the gate
   * and the gate's current condition (null when not set yet), its Kruise state, and whether the
   * hook label is set, by k8s-sync ({@code hookOurs}) or by someone else.
   */
  public record Marks(String uid, String resourceVersion, boolean gated, Condition gate, String kruiseState,
                      boolean hooked, boolean hookOurs) {}

  /**
   * Whether the pod is ready to register, given its Ready condition: for a gated pod, containers
   * ready and every other gate True; for a Kruise pod on its way out, false.
   */
  boolean readyToRegister(Pod pod, boolean readyCondition) {
    boolean ready = readyCondition;
    if (gateOn() && lists(pod, gateCondition)) {
      ready = othersReady(pod);
    }
    if (ready && kruiseOn() && pod.getMetadata().getLabels() != null
        && KRUISE_GOING.contains(pod.getMetadata().getLabels().get(KRUISE_STATE))) {
      ready = false;
    }
    return ready;
  }

  /** For a gated pod: since when its containers are ready (the moment it became ready to register). */
  long containersReadySince(Pod pod) {
    PodCondition c = condition(pod.getStatus(), "ContainersReady");
    return c == null ? 0 : ApiTimestamps.millis(c.getLastTransitionTime());
  }

  boolean gated(Pod pod) {
    return gateOn() && lists(pod, gateCondition);
  }

  private boolean othersReady(Pod pod) {
    PodStatus status = pod.getStatus();
    if (!"True".equals(status(status, "ContainersReady"))) {
      return false;
    }
    for (PodReadinessGate g : pod.getSpec().getReadinessGates()) {
      String type = g.getConditionType();
      if (!gateCondition.equals(type) && !"True".equals(status(status, type))) {
        return false;
      }
    }
    return true;
  }

  private static boolean lists(Pod pod, String conditionType) {
    List<PodReadinessGate> gates = pod.getSpec() == null ? null : pod.getSpec().getReadinessGates();
    if (gates == null) {
      return false;
    }
    for (PodReadinessGate g : gates) {
      if (conditionType.equals(g.getConditionType())) {
        return true;
      }
    }
    return false;
  }

  private static String status(PodStatus status, String type) {
    PodCondition c = condition(status, type);
    return c == null ? null : c.getStatus();
  }

  static PodCondition condition(PodStatus status, String type) {
    if (status == null || status.getConditions() == null) {
      return null;
    }
    for (PodCondition c : status.getConditions()) {
      if (type.equals(c.getType())) {
        return c;
      }
    }
    return null;
  }
}

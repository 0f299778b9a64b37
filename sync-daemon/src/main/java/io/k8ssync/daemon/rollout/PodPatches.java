package io.k8ssync.daemon.rollout;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.k8ssync.daemon.informer.RolloutRules;
import io.k8ssync.sink.PodState;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The two writes the rollout makes to a pod, each with the pod's uid and resourceVersion as
 * preconditions, so a patch computed from a stale view fails (409) instead of overwriting: the
 * informer then brings the newer pod and the decision is made again.
 */
final class PodPatches {

  /** How a patch went. */
  enum Result { OK, CONFLICT, GONE, ERROR;
    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Kubernetes keeps condition messages short in practice; a long list of sinks is cut here. */
  static final int MAX_MESSAGE = 1024;

  private PodPatches() {}

  /**
   * Sets one condition with a strategic merge patch on pods/status: the conditions list merges by
   * type, so the kubelet's own conditions stay as they are. {@code lastTransitionTime} is sent only
   * when the status flips.
   */
  static Result condition(KubernetesClient client, PodState pod, RolloutRules.Marks marks, String type, boolean status,
                          String reason, String message, boolean flips, java.util.function.Consumer<Pod> patched) {
    ObjectNode patch = preconditions(pod, marks);
    ObjectNode c = patch.putObject("status").putArray("conditions").addObject();
    c.put("type", type);
    c.put("status", status ? "True" : "False");
    c.put("reason", reason);
    c.put("message", message.length() > MAX_MESSAGE ? message.substring(0, MAX_MESSAGE - 3) + "..." : message);
    if (flips) {
      c.put("lastTransitionTime", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    }
    return send(() -> client.pods().inNamespace(pod.namespace()).resource(named(pod)).subresource("status")
        .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch.toString()), patched);
  }

  /** Sets ({@code value} not null) or removes the hook label, with k8s-sync's mark beside it. */
  static Result hook(KubernetesClient client, PodState pod, RolloutRules.Marks marks, String label, String value,
                     java.util.function.Consumer<Pod> patched) {
    ObjectNode patch = preconditions(pod, marks);
    ObjectNode meta = (ObjectNode) patch.get("metadata");
    if (value != null) {
      meta.putObject("labels").put(label, value);
      meta.putObject("annotations").put(RolloutRules.HOOK_OWNER_ANNOTATION, label);
    } else {
      meta.putObject("labels").putNull(label);
      meta.putObject("annotations").putNull(RolloutRules.HOOK_OWNER_ANNOTATION);
    }
    return send(() -> client.pods().inNamespace(pod.namespace()).resource(named(pod))
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString()), patched);
  }

  /**
   * The pod by name only, to patch it in one round trip: fabric8's {@code withName(..).patch(..)} first
   * GETs the pod just to build the URL (a second round trip per patch, on the rollout's one thread).
   * The preconditions travel in the patch itself.
   */
  private static Pod named(PodState pod) {
    return new PodBuilder().withNewMetadata().withNamespace(pod.namespace()).withName(pod.name()).endMetadata().build();
  }

  private static ObjectNode preconditions(PodState pod, RolloutRules.Marks marks) {
    ObjectNode patch = JSON.createObjectNode();
    ObjectNode meta = patch.putObject("metadata");
    meta.put("uid", marks.uid());
    meta.put("resourceVersion", marks.resourceVersion());
    return patch;
  }

  /**
   * Sends a patch; {@code patched} gets the pod as the API server returned it (the version our patch
   * made from the one we read: the preconditions ensure nothing else came in between).
   */
  private static Result send(java.util.function.Supplier<Pod> call, java.util.function.Consumer<Pod> patched) {
    try {
      Pod after = call.get();
      if (after != null) {
        patched.accept(after);
      }
      return Result.OK;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return Result.CONFLICT;
      }
      if (e.getCode() == 404) {
        return Result.GONE;
      }
      throw e;
    }
  }
}

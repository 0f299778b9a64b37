package io.k8ssync.daemon.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.List;

/** Pods as a kubelet and a Deployment would make them, for tests against an API server. */
public final class TestPods {

  /** A fresh namespace named {@code prefix-<random>}. */
  public static String namespace(KubernetesClient client, String prefix) {
    String ns = prefix + "-" + java.util.UUID.randomUUID().toString().substring(0, 6);
    client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns).endMetadata()
        .build()).create();
    return ns;
  }

  public static final String FINALIZER = "k8s-sync.io/test-kubelet";

  private TestPods() {}

  public static Pod pending(String namespace, String name, String service) {
    return new PodBuilder().withNewMetadata().withName(name).withNamespace(namespace)
        .addToLabels("app", service).endMetadata()
        .withNewSpec().addNewContainer().withName("main").withImage("app:1")
        .addNewPort().withContainerPort(8080).endPort().endContainer().endSpec()
        .build();
  }

  /** A pod bound to a node: its deletion is graceful (the API server keeps it, terminating, for its kubelet). */
  public static Pod scheduled(String namespace, String name) {
    return new PodBuilder(pending(namespace, name, "web")).editSpec().withNodeName("node-1").endSpec().build();
  }

  /** Sets podIP, phase Running and the Ready condition, as the kubelet would. */
  public static Pod withReadyStatus(Pod p, String ip, boolean ready) {
    return new PodBuilder(p).withNewStatus().withPhase("Running").withPodIP(ip).withHostIP("192.168.0.1")
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False")
        .withLastTransitionTime(Instant.now().toString().replaceAll("\\.\\d+Z$", "Z")).endCondition()
        .endStatus().build();
  }

  public static void markReady(KubernetesClient client, String namespace, String name, String ip, boolean ready) {
    client.pods().inNamespace(namespace).withName(name).editStatus(p -> withReadyStatus(p, ip, ready));
  }

  /** True when the pod's Ready condition is True and it is not being deleted: what should take traffic. */
  public static boolean readyAndAlive(Pod p) {
    return p.getMetadata().getDeletionTimestamp() == null && p.getStatus() != null && p.getStatus().getConditions() != null
        && p.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  /** ip:8080 of every pod of the namespace that should take traffic, from the API server itself. */
  public static java.util.Set<String> readyAddresses(KubernetesClient client, String namespace) {
    java.util.Set<String> out = new java.util.TreeSet<>();
    for (Pod p : client.pods().inNamespace(namespace).list().getItems()) {
      if (readyAndAlive(p)) {
        out.add(p.getStatus().getPodIP() + ":8080");
      }
    }
    return out;
  }

  /**
   * Edits the pod {@code times} times (an annotation): enough writes that an API server restarted on
   * the same etcd cannot resume an older watch, so informers relist (410 Gone).
   */
  public static void touch(KubernetesClient client, String namespace, String name, int times) {
    for (int i = 0; i < times; i++) {
      String n = Integer.toString(i);
      client.pods().inNamespace(namespace).withName(name).edit(x -> new PodBuilder(x)
          .editMetadata().addToAnnotations("touch", n).endMetadata().build());
    }
  }

  public static Pod withFinalizer(Pod p) {
    return new PodBuilder(p).editMetadata().withFinalizers(List.of(FINALIZER)).endMetadata().build();
  }
}

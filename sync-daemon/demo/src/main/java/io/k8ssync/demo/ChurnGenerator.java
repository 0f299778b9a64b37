package io.k8ssync.demo;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Plays the part of the kubelet and of Deployments in the demo: pods are created Pending, become
 * Running and Ready, flap unready, are rolled (a new pod goes ready, then the old one terminates
 * and is deleted). Driven by {@link #tick()}; each tick runs the steps that are due.
 */
final class ChurnGenerator {

  static final String NAMESPACE = "demo";
  /** Keeps a deleted pod around as terminating until the generator removes it, like a kubelet would. */
  static final String FINALIZER = "k8s-sync.io/demo-kubelet";

  private record Step(long tick, Runnable action) {}

  private final KubernetesClient client;
  private final Map<String, Integer> replicas;
  private final Random random;
  private final List<Step> steps = new ArrayList<>();
  private final Map<String, Integer> revisions = new LinkedHashMap<>();
  private long tick;
  private int nextIp = 10;
  private int nextService;

  ChurnGenerator(KubernetesClient client, Map<String, Integer> replicas, long seed) {
    this.client = client;
    this.replicas = replicas;
    this.random = new Random(seed);
  }

  void seed() {
    replicas.forEach((service, n) -> {
      revisions.put(service, 1);
      for (int i = 0; i < n; i++) {
        startPod(service, 1 + i % 3);
      }
    });
    // A pod whose service label is hostile: the daemon rejects it and registers it nowhere.
    client.pods().inNamespace(NAMESPACE).resource(pod("mallory-0", "bad..name", 1)).create();
  }

  void tick() {
    tick++;
    for (Iterator<Step> it = List.copyOf(steps).iterator(); it.hasNext();) {
      Step s = it.next();
      if (s.tick() <= tick) {
        steps.remove(s);
        try {
          s.action().run();
        } catch (RuntimeException e) {
          // The demo goes on; the daemon's reaction to the API server is what is on show.
        }
      }
    }
    if (tick % 12 == 0) {
      roll(List.copyOf(replicas.keySet()).get(nextService++ % replicas.size()));
    }
    if (tick % 7 == 0) {
      flap();
    }
  }

  private void startPod(String service, long readyAfter) {
    String name = service + "-r" + revisions.get(service) + "-" + Integer.toString(random.nextInt(1 << 20), 36);
    client.pods().inNamespace(NAMESPACE).resource(pod(name, service, revisions.get(service))).create();
    at(readyAfter, () -> setStatus(name, "Running", "10.244.0." + ip(), true));
  }

  private void roll(String service) {
    int revision = revisions.merge(service, 1, Integer::sum);
    List<Pod> old = client.pods().inNamespace(NAMESPACE).withLabel("app", service).list().getItems().stream()
        .filter(p -> !String.valueOf(revision).equals(p.getMetadata().getLabels().get("revision")))
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .toList();
    long delay = 1;
    for (Pod p : old) {
      String oldName = p.getMetadata().getName();
      at(delay, () -> startPod(service, 2));
      at(delay + 3, () -> client.pods().inNamespace(NAMESPACE).withName(oldName).delete());
      at(delay + 5, () -> client.pods().inNamespace(NAMESPACE).withName(oldName)
          .edit(x -> new PodBuilder(x).editMetadata().withFinalizers(List.of()).endMetadata().build()));
      delay += 2;
    }
  }

  private void flap() {
    List<Pod> ready = client.pods().inNamespace(NAMESPACE).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null && p.getStatus() != null
            && "Running".equals(p.getStatus().getPhase()))
        .toList();
    if (ready.isEmpty()) {
      return;
    }
    Pod p = ready.get(random.nextInt(ready.size()));
    String name = p.getMetadata().getName();
    String ip = p.getStatus().getPodIP();
    setStatus(name, "Running", ip, false);
    at(2, () -> setStatus(name, "Running", ip, true));
  }

  private void setStatus(String name, String phase, String ip, boolean ready) {
    client.pods().inNamespace(NAMESPACE).withName(name).edit(p -> new PodBuilder(p).withNewStatus()
        .withPhase(phase).withPodIP(ip).withHostIP("192.168.0.1")
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False")
        .withLastTransitionTime(Instant.now().toString()).endCondition()
        .endStatus().build());
  }

  private void at(long ticksFromNow, Runnable action) {
    steps.add(new Step(tick + ticksFromNow, action));
  }

  private int ip() {
    nextIp = nextIp >= 250 ? 10 : nextIp + 1;
    return nextIp;
  }

  static Pod pod(String name, String service, int revision) {
    return new PodBuilder().withNewMetadata().withName(name).withNamespace(NAMESPACE)
        .addToLabels("app", service).addToLabels("revision", String.valueOf(revision))
        .withFinalizers(FINALIZER).endMetadata()
        .withNewSpec().withNodeName("node-" + (Math.abs(name.hashCode()) % 3))
        .addNewContainer().withName("main").withImage(service + ":" + revision)
        .addNewPort().withContainerPort(8080).endPort().endContainer().endSpec()
        .withNewStatus().withPhase("Pending").endStatus()
        .build();
  }
}

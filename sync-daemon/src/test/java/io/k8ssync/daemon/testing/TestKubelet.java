package io.k8ssync.daemon.testing;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodReadinessGate;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;

/**
 * Plays the kubelet for the pods of one namespace, as the real one computes readiness: it starts a
 * pod (phase Running, an IP, containers ready), and keeps its Ready condition True exactly while
 * ContainersReady is True and every readiness gate's condition is True. A pod being deleted runs
 * its preStop (given by the test), then is deleted for good (grace 0), as the kubelet does once the
 * containers stopped. Only pods created with {@link #containersReady} true start ready; a test can
 * flip a pod's containers with {@link #containers}.
 */
public final class TestKubelet implements AutoCloseable {

  /** A pod's preStop hook; its end lets the kubelet kill the containers. */
  @FunctionalInterface
  public interface PreStop {
    void run(Pod pod) throws Exception;
  }

  /** A pod's containers: started before the pod first reports its status, stopped when the kubelet kills them. */
  public interface Containers {
    void start(String pod, String ip);

    void stop(String pod);
  }

  private final KubernetesClient client;
  private final Containers running;
  private final String ns;
  private final Function<String, String> ipOf;
  private final PreStop preStop;
  private final SharedIndexInformer<Pod> informer;
  private final ExecutorService status = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-kubelet"));
  private final ExecutorService hooks = Executors.newCachedThreadPool(r -> new Thread(r, "test-kubelet-prestop"));
  private final Set<String> stopping = ConcurrentHashMap.newKeySet();
  private final Map<String, Boolean> containers = new ConcurrentHashMap<>();
  /** Every pod (name) when its containers were killed, in order. */
  public final List<String> killed = java.util.Collections.synchronizedList(new ArrayList<>());
  /** Errors of preStop hooks, for the test to assert there were none. */
  public final List<String> hookErrors = java.util.Collections.synchronizedList(new ArrayList<>());
  /** Set while the kubelet should start new pods' containers ready. */
  public volatile boolean containersReady = true;

  /** @param ipOf the IP of a pod by name */
  public TestKubelet(KubernetesClient client, String ns, Function<String, String> ipOf, PreStop preStop) {
    this(client, ns, ipOf, preStop, new Containers() {
      @Override public void start(String pod, String ip) {}

      @Override public void stop(String pod) {}
    });
  }

  /** @param running starts and stops the pods' containers (e.g. servers on their IPs) */
  public TestKubelet(KubernetesClient client, String ns, Function<String, String> ipOf, PreStop preStop, Containers running) {
    this.running = running;
    this.client = client;
    this.ns = ns;
    this.ipOf = ipOf;
    this.preStop = preStop;
    this.informer = client.pods().inNamespace(ns).inform(new ResourceEventHandler<>() {
      @Override public void onAdd(Pod p) {
        seen(p);
      }

      @Override public void onUpdate(Pod old, Pod p) {
        seen(p);
      }

      @Override public void onDelete(Pod p, boolean unknown) {
        containers.remove(p.getMetadata().getName());
      }
    });
  }

  /** Sets whether the containers of {@code pod} are ready (the readiness probe passes). */
  public void containers(String pod, boolean ready) {
    containers.put(pod, ready);
    Pod p = client.pods().inNamespace(ns).withName(pod).get();
    if (p != null) {
      seen(p);
    }
  }

  private void seen(Pod p) {
    String name = p.getMetadata().getName();
    if (p.getMetadata().getDeletionTimestamp() != null) {
      if (stopping.add(p.getMetadata().getUid())) {
        hooks.execute(() -> stop(p));
      }
      return;
    }
    status.execute(() -> sync(name));
  }

  private void stop(Pod p) {
    try {
      preStop.run(p);
    } catch (Exception e) {
      hookErrors.add(p.getMetadata().getName() + ": " + e);
    }
    running.stop(p.getMetadata().getName());
    killed.add(p.getMetadata().getName());
    try {
      client.pods().inNamespace(ns).withName(p.getMetadata().getName()).withGracePeriod(0).delete();
    } catch (KubernetesClientException e) {
      hookErrors.add(p.getMetadata().getName() + ": delete " + e.getCode());
    }
  }

  /** Makes the pod's status what a kubelet would report now. */
  private void sync(String name) {
    Pod p = informer.getStore().getByKey(ns + "/" + name);
    if (p == null || p.getMetadata().getDeletionTimestamp() != null) {
      return;
    }
    boolean cr = containers.computeIfAbsent(name, n -> containersReady);
    boolean gatesTrue = true;
    List<PodReadinessGate> gates = p.getSpec().getReadinessGates() == null ? List.of() : p.getSpec().getReadinessGates();
    for (PodReadinessGate g : gates) {
      gatesTrue &= "True".equals(status(p, g.getConditionType()));
    }
    boolean ready = cr && gatesTrue;
    boolean started = p.getStatus() != null && p.getStatus().getPodIP() != null;
    if (!started) {
      running.start(name, ipOf.apply(name));
    }
    if (started && String.valueOf(cr).equalsIgnoreCase(String.valueOf(status(p, "ContainersReady")))
        && String.valueOf(ready).equalsIgnoreCase(String.valueOf(status(p, "Ready")))) {
      return;
    }
    try {
      // An update with the resourceVersion read: a patch of the gate in between makes it fail (409), and it is redone.
      Pod x = client.pods().inNamespace(ns).withName(name).get();
      if (x == null || x.getMetadata().getDeletionTimestamp() != null) {
        return;
      }
      {
        String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        List<PodCondition> conditions = new ArrayList<>();
        if (x.getStatus() != null && x.getStatus().getConditions() != null) {
          for (PodCondition c : x.getStatus().getConditions()) {
            if (!"Ready".equals(c.getType()) && !"ContainersReady".equals(c.getType())) {
              conditions.add(c); // conditions the kubelet does not own (readiness gates) are kept
            }
          }
        }
        boolean readyNow = cr;
        for (PodReadinessGate g : gates) {
          readyNow &= "True".equals(status(x, g.getConditionType()));
        }
        conditions.add(condition(x, "ContainersReady", cr, now));
        conditions.add(condition(x, "Ready", readyNow, now));
        client.pods().inNamespace(ns).resource(new PodBuilder(x).editOrNewStatus().withPhase("Running")
            .withPodIP(ipOf.apply(name)).withHostIP("192.168.0.1").withConditions(conditions).endStatus().build()).updateStatus();
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404 && e.getCode() != 409) {
        throw e;
      }
      if (e.getCode() == 409) {
        status.execute(() -> sync(name));
      }
    }
  }

  private static PodCondition condition(Pod p, String type, boolean value, String now) {
    String was = status(p, type);
    String since = now;
    if (was != null && was.equalsIgnoreCase(String.valueOf(value))) {
      for (PodCondition c : p.getStatus().getConditions()) {
        if (type.equals(c.getType())) {
          since = c.getLastTransitionTime();
        }
      }
    }
    return new PodConditionBuilder().withType(type).withStatus(value ? "True" : "False").withLastTransitionTime(since).build();
  }

  /** The status of a condition of the pod, or null. */
  public static String status(Pod p, String type) {
    if (p.getStatus() == null || p.getStatus().getConditions() == null) {
      return null;
    }
    for (PodCondition c : p.getStatus().getConditions()) {
      if (type.equals(c.getType())) {
        return c.getStatus();
      }
    }
    return null;
  }

  /** The condition of the pod, or null. */
  public static PodCondition condition(Pod p, String type) {
    if (p == null || p.getStatus() == null || p.getStatus().getConditions() == null) {
      return null;
    }
    return p.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }

  @Override
  public void close() {
    informer.close();
    status.shutdownNow();
    hooks.shutdownNow();
  }
}

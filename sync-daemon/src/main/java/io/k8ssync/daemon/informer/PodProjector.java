package io.k8ssync.daemon.informer;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.k8ssync.sink.PodState;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Projects a full {@link Pod} into the compact {@link PodState} the cache keeps, validating every
 * value the pod's owner controls. A pod whose identity fails validation keeps its place in the
 * cache (so its deletion is still seen) but carries a {@code rejection} and is never registered.
 *
 * <p>A bad value that no sink registers (status.hostIP) is dropped instead: the pod is kept, and the
 * drop is logged and reported to a {@link DroppedValueListener} once per pod until the value is
 * valid again.
 *
 * <p>Strings shared by many pods (namespace, node, service, label values) are interned so that
 * 100,000 pods do not hold 100,000 copies of "default", and so are the small immutable maps of kept
 * labels, annotations and options (the pods of one Deployment hold the same ones); weakly, so that a
 * value no pod holds any more is forgotten. Thread-safe.
 */
public final class PodProjector {

  private static final Logger LOG = LoggerFactory.getLogger(PodProjector.class);
  /** Bounds the memory of pods already reported: deletions never reach the projector. */
  private static final int MAX_REPORTED = 10_000;

  /** Told of each pod whose value of {@code field} was dropped while the pod was kept; the daemon counts it. */
  @FunctionalInterface
  public interface DroppedValueListener {
    void dropped(String cluster, String field);
  }

  private final String cluster;
  private final PodRules rules;
  private final DroppedValueListener droppedValues;
  private final RolloutRules rollout;
  private final WeakInterner<String> interned = new WeakInterner<>();
  private final WeakInterner<Map<String, String>> internedMaps = new WeakInterner<>();
  /** Pods whose invalid hostIP was reported, so that their updates and relists do not report it again. */
  private final Set<String> reportedHostIps = ConcurrentHashMap.newKeySet();

  public PodProjector(String cluster, PodRules rules) {
    this(cluster, rules, (c, field) -> { });
  }

  public PodProjector(String cluster, PodRules rules, DroppedValueListener droppedValues) {
    this(cluster, rules, droppedValues, RolloutRules.OFF);
  }

  public PodProjector(String cluster, PodRules rules, DroppedValueListener droppedValues, RolloutRules rollout) {
    this.cluster = cluster;
    this.rules = rules;
    this.droppedValues = droppedValues;
    this.rollout = rollout;
  }

  /** How pods ask to hold their rollout (a readiness gate, Kruise hooks). */
  public RolloutRules rollout() {
    return rollout;
  }

  public String cluster() {
    return cluster;
  }

  public PodState project(Pod pod) {
    return project(pod, null);
  }

  /**
   * Projects a pod whose last cached state is {@code prior} (null: none): the new state shares the
   * prior's key string, so the cache holds one per pod however often the pod changes.
   */
  public PodState project(Pod pod, PodState prior) {
    ObjectMeta meta = pod.getMetadata();
    Map<String, String> labels = meta.getLabels() == null ? Map.of() : meta.getLabels();
    Map<String, String> annotations = meta.getAnnotations() == null ? Map.of() : meta.getAnnotations();
    PodStatus status = pod.getStatus();

    String rejection = null;
    String service = annotations.get(PodRules.SERVICE_ANNOTATION);
    String serviceSource = PodRules.SERVICE_ANNOTATION;
    if (service == null) {
      service = labels.get(rules.serviceLabel());
      serviceSource = "label " + rules.serviceLabel();
    }
    if (service != null) {
      String why = PodValidation.service(service);
      if (why != null) {
        rejection = "service (" + serviceSource + ") " + why;
        service = null;
      }
    }

    int port = 0;
    String portValue = annotations.get(PodRules.PORT_ANNOTATION);
    if (portValue != null) {
      String why = PodValidation.intInRange(portValue, 1, 65535);
      if (why != null) {
        rejection = first(rejection, PodRules.PORT_ANNOTATION + " " + why);
      } else {
        port = Integer.parseInt(portValue);
      }
    } else {
      port = firstContainerPort(pod);
    }
    if (service != null && port == 0 && rejection == null) {
      rejection = "port: no container port and no " + PodRules.PORT_ANNOTATION + " annotation";
    }

    int weight = rules.defaultWeight();
    String weightValue = annotations.get(PodRules.WEIGHT_ANNOTATION);
    if (weightValue != null) {
      String why = PodValidation.intInRange(weightValue, PodRules.MIN_WEIGHT, PodRules.MAX_WEIGHT);
      if (why != null) {
        rejection = first(rejection, PodRules.WEIGHT_ANNOTATION + " " + why);
      } else {
        weight = Integer.parseInt(weightValue);
      }
    }

    Map<String, String> options = Map.of();
    for (PodRules.Option option : PodRules.OPTIONS) {
      String v = annotations.get(option.annotation());
      if (v == null) {
        continue;
      }
      String why = option == PodRules.Option.BACKUP
          ? (v.equals("true") || v.equals("false") ? null : "is not true or false")
          : PodValidation.intInRange(v, option.min(), option.max());
      if (why != null) {
        rejection = first(rejection, option.annotation() + " " + why);
        continue;
      }
      if (options.isEmpty()) {
        options = new TreeMap<>();
      }
      options.put(intern(option.optionName()), intern(option == PodRules.Option.BACKUP ? (v.equals("true") ? "1" : "0") : v));
    }

    Map<String, String> keptLabels = keep(labels, rules.keepLabels());
    Map<String, String> keptAnnotations = keep(annotations, rules.keepAnnotations());
    for (Map.Entry<String, String> e : keptAnnotations.entrySet()) {
      String why = PodValidation.annotationValue(e.getValue());
      if (why != null) {
        rejection = first(rejection, "annotation " + e.getKey() + " " + why);
      }
    }

    String ip = status == null ? null : emptyToNull(status.getPodIP());
    if (ip != null && PodValidation.ip(ip) != null) {
      rejection = first(rejection, "status.podIP is not an IP address");
      ip = null;
    }
    String hostIp = status == null ? null : emptyToNull(status.getHostIP());
    if (hostIp != null && PodValidation.ip(hostIp) != null) {
      // Informational only: the pod stays registrable, the value is dropped and said so.
      hostIp = null;
      reportInvalidHostIp(meta);
    } else if (!reportedHostIps.isEmpty()) {
      reportedHostIps.remove(podId(meta));
    }

    PodCondition readyCondition = readyCondition(status);
    boolean ready = readyCondition != null && "True".equals(readyCondition.getStatus());
    long readySince = ready ? ApiTimestamps.millis(readyCondition.getLastTransitionTime()) : 0;
    if (rollout != RolloutRules.OFF) {
      // "Ready" here means ready to register: a gated pod waits for k8s-sync, not the reverse.
      boolean toRegister = rollout.readyToRegister(pod, ready);
      if (toRegister && !ready) {
        readySince = rollout.containersReadySince(pod);
      } else if (toRegister && rollout.gated(pod)) {
        readySince = Math.min(readySince, rollout.containersReadySince(pod));
      }
      ready = toRegister;
      readySince = ready ? readySince : 0;
    }

    return new PodState(
        prior,
        cluster,
        intern(meta.getNamespace()),
        meta.getName(),
        meta.getUid() == null ? "" : meta.getUid(),
        service == null ? null : intern(service),
        ip,
        hostIp, // held as an int when it is IPv4: nothing to intern
        port,
        intern(pod.getSpec() == null ? null : pod.getSpec().getNodeName()),
        PodState.Phase.of(status == null ? null : status.getPhase()),
        ready,
        meta.getDeletionTimestamp() != null,
        weight,
        options.isEmpty() ? Map.of() : internedMaps.intern(Map.copyOf(options)),
        keptLabels,
        keptAnnotations,
        meta.getResourceVersion(),
        ApiTimestamps.millis(meta.getCreationTimestamp()),
        readySince,
        rejection);
  }

  private void reportInvalidHostIp(ObjectMeta meta) {
    if (reportedHostIps.size() >= MAX_REPORTED) {
      reportedHostIps.clear();
    }
    if (reportedHostIps.add(podId(meta))) {
      droppedValues.dropped(cluster, "hostIP");
      LOG.warn("pod value dropped, pod kept: cluster={} pod={}/{} field=status.hostIP reason=is not an IP address",
          cluster, meta.getNamespace(), meta.getName());
    }
  }

  /** A recreated pod (same name, new uid) is reported again. */
  private static String podId(ObjectMeta meta) {
    return meta.getNamespace() + '/' + meta.getName() + '/' + meta.getUid();
  }

  private Map<String, String> keep(Map<String, String> from, java.util.Set<String> keys) {
    if (keys.isEmpty() || from.isEmpty()) {
      return Map.of();
    }
    Map<String, String> out = null;
    for (String k : keys) {
      String v = from.get(k);
      if (v != null) {
        if (out == null) {
          out = new TreeMap<>();
        }
        out.put(intern(k), intern(v));
      }
    }
    return out == null ? Map.of() : internedMaps.intern(Map.copyOf(out));
  }

  private static int firstContainerPort(Pod pod) {
    if (pod.getSpec() == null || pod.getSpec().getContainers() == null) {
      return 0;
    }
    for (Container c : pod.getSpec().getContainers()) {
      if (c.getPorts() != null) {
        for (ContainerPort p : c.getPorts()) {
          if (p.getContainerPort() != null && p.getContainerPort() > 0 && p.getContainerPort() <= 65535) {
            return p.getContainerPort();
          }
        }
      }
    }
    return 0;
  }

  private static PodCondition readyCondition(PodStatus status) {
    if (status == null || status.getConditions() == null) {
      return null;
    }
    for (PodCondition c : status.getConditions()) {
      if ("Ready".equals(c.getType())) {
        return c;
      }
    }
    return null;
  }

  private static String first(String existing, String next) {
    return existing != null ? existing : next;
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  /** Distinct strings and maps the interners hold now (for tests of its bound). */
  int internedCount() {
    return interned.size() + internedMaps.size();
  }

  private String intern(String s) {
    return interned.intern(s);
  }
}

package io.k8ssync.sink;

import java.util.Map;
import java.util.Set;

/**
 * Which pods a sink manages: by namespace, by service and by kept label values. An empty part
 * matches everything. Label keys used here are always kept on {@link PodState#labels()}.
 */
public record Selector(Set<String> namespaces, Set<String> services, Map<String, String> labels) {

  public static final Selector ALL = new Selector(Set.of(), Set.of(), Map.of());

  public Selector {
    namespaces = Set.copyOf(namespaces);
    services = Set.copyOf(services);
    labels = Map.copyOf(labels);
  }

  public boolean matches(PodState pod) {
    if (!namespaces.isEmpty() && !namespaces.contains(pod.namespace())) {
      return false;
    }
    if (!services.isEmpty() && (pod.service() == null || !services.contains(pod.service()))) {
      return false;
    }
    for (Map.Entry<String, String> e : labels.entrySet()) {
      if (!e.getValue().equals(pod.labels().get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }
}

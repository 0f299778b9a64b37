package io.k8ssync.daemon.informer;

import java.util.List;
import java.util.Set;

/**
 * How a pod states its identity and options, and what values are accepted. Pod labels and
 * annotations are written by whoever can create pods, so every value that may later become a
 * ZooKeeper path, a Consul key, a URL or SQL passes a strict check here first.
 *
 * @param serviceLabel   label holding the logical service (shared by canary and stable)
 * @param keepLabels     label keys copied onto {@code PodState.labels}
 * @param keepAnnotations annotation keys copied onto {@code PodState.annotations}
 * @param defaultWeight  weight when the pod does not set one
 */
public record PodRules(String serviceLabel, Set<String> keepLabels, Set<String> keepAnnotations, int defaultWeight) {

  public static final String PREFIX = "k8s-sync.io/";
  public static final String SERVICE_ANNOTATION = PREFIX + "service";
  public static final String PORT_ANNOTATION = PREFIX + "port";
  public static final String WEIGHT_ANNOTATION = PREFIX + "weight";

  /** Options a pod may set with {@code k8s-sync.io/<name>} annotations, with their accepted values. */
  public enum Option {
    MAX_FAILS("max-fails", 0, 1000),
    FAIL_TIMEOUT("fail-timeout", 0, 3600),
    BACKUP("backup", 0, 1),
    WARMUP("warmup", 0, 3600);

    private final String name;
    private final int min;
    private final int max;

    Option(String name, int min, int max) {
      this.name = name;
      this.min = min;
      this.max = max;
    }

    public String optionName() {
      return name;
    }

    public String annotation() {
      return PREFIX + name;
    }

    public int min() {
      return min;
    }

    public int max() {
      return max;
    }
  }

  public static final List<Option> OPTIONS = List.of(Option.values());

  public static final int MIN_WEIGHT = 1;
  public static final int MAX_WEIGHT = 100;
  public static final int MAX_SERVICE_LENGTH = 63;
  public static final int MAX_ANNOTATION_VALUE_LENGTH = 256;

  public static PodRules defaults() {
    return new PodRules("app", Set.of(), Set.of(), 1);
  }

  public PodRules {
    keepLabels = Set.copyOf(keepLabels);
    keepAnnotations = Set.copyOf(keepAnnotations);
  }
}

package io.k8ssync.sink.template;

import io.k8ssync.sink.PodState;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** The pod fields a request template may name, e.g. {@code {service}} or {@code {label.version}}. */
public final class PodFields {

  public static final Map<String, Function<PodState, Object>> FIELDS = Map.ofEntries(
      Map.entry("cluster", PodState::cluster),
      Map.entry("namespace", PodState::namespace),
      Map.entry("pod", PodState::name),
      Map.entry("uid", PodState::uid),
      Map.entry("service", PodState::service),
      Map.entry("ip", PodState::ip),
      Map.entry("port", PodState::port),
      Map.entry("address", PodState::address),
      Map.entry("weight", PodState::weight),
      Map.entry("node", PodState::node),
      Map.entry("hostIp", PodState::hostIp));

  /** Fields whose value is a number, written unquoted when a JSON value is exactly that field. */
  public static final List<String> NUMBERS = List.of("port", "weight");

  static final String LABEL = "label.";
  static final String ANNOTATION = "annotation.";

  private PodFields() {}

  public static boolean known(String field) {
    return FIELDS.containsKey(field)
        || (field.startsWith(LABEL) && field.length() > LABEL.length())
        || (field.startsWith(ANNOTATION) && field.length() > ANNOTATION.length());
  }

  /** The field's value as text; empty when the pod does not have it. */
  public static String value(PodState pod, String field) {
    Object v;
    if (field.startsWith(LABEL)) {
      v = pod.labels().get(field.substring(LABEL.length()));
    } else if (field.startsWith(ANNOTATION)) {
      v = pod.annotations().get(field.substring(ANNOTATION.length()));
    } else {
      v = FIELDS.get(field).apply(pod);
    }
    return v == null ? "" : v.toString();
  }

  public static String describe() {
    return "{" + String.join("}, {", new java.util.TreeSet<>(FIELDS.keySet())) + "}, {label.KEY}, {annotation.KEY}";
  }
}

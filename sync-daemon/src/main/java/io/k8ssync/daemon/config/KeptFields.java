package io.k8ssync.daemon.config;

import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.template.Template;
import java.util.Set;

/**
 * A template field {@code {label.X}} or {@code {annotation.X}} renders empty unless the pod's state
 * keeps X ({@code pods.keepLabels}, a selector's labels, {@code pods.keepAnnotations}): a typo or a
 * forgotten key would register every pod with an empty value. Checked across sections, once all are
 * parsed, in every string of a sink's config that is a template naming such a field.
 */
final class KeptFields {

  private static final String LABEL = "label.";
  private static final String ANNOTATION = "annotation.";

  private KeptFields() {}

  /** @param path where the sink's config is, e.g. {@code sinks[0].config} */
  static void check(String path, Object raw, Set<String> labels, Set<String> annotations) throws ConfigException {
    ConfigLoader.forEachString(path, raw, (keyPath, value) -> {
      Template template;
      try {
        template = Template.parse(value);
      } catch (IllegalArgumentException notATemplate) {
        return; // not a template, or one its sink's own checks refused already
      }
      for (String field : template.fields()) {
        if (field.startsWith(LABEL) && !labels.contains(field.substring(LABEL.length()))) {
          throw new ConfigException(keyPath, "found {" + field + "}, a label pods.keepLabels does not keep; expected labels"
              + " listed in pods.keepLabels (or a selector's labels): add " + field.substring(LABEL.length())
              + " there, else the field renders empty");
        }
        if (field.startsWith(ANNOTATION) && !annotations.contains(field.substring(ANNOTATION.length()))) {
          throw new ConfigException(keyPath, "found {" + field + "}, an annotation pods.keepAnnotations does not keep;"
              + " expected annotations listed in pods.keepAnnotations: add " + field.substring(ANNOTATION.length())
              + " there, else the field renders empty");
        }
      }
    });
  }
}

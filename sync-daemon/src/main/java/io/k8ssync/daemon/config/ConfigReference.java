package io.k8ssync.daemon.config;

import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import java.time.Duration;
import java.util.Map;

/** Renders every config key, the daemon's and each sink type's, as a Markdown table. */
public final class ConfigReference {

  private ConfigReference() {}

  public static String markdown(SinkTypes types) {
    StringBuilder out = new StringBuilder("### Daemon keys\n\n");
    table(out, DaemonConfig.ROOT);
    for (Map.Entry<String, SinkFactory> e : types.all().entrySet()) {
      out.append("\n### Sink type `").append(e.getKey()).append("` (under `config:`)\n\n");
      table(out, e.getValue().configDef());
    }
    return out.toString();
  }

  private static void table(StringBuilder out, ConfigDef def) {
    out.append("| key | type | default | meaning |\n|---|---|---|---|\n");
    rows(out, "", def);
  }

  private static void rows(StringBuilder out, String prefix, ConfigDef def) {
    for (ConfigDef.Key k : def.keys()) {
      String path = prefix + k.name();
      switch (k.type()) {
        case OBJECT:
          rows(out, path + ".", k.nested());
          break;
        case OBJECT_LIST:
          out.append("| `").append(path).append("` | list | ").append(k.required() ? "required" : "[]")
              .append(" | ").append(k.doc()).append(" |\n");
          rows(out, path + "[].", k.nested());
          break;
        default:
          out.append("| `").append(path).append("` | ").append(k.type().name().toLowerCase().replace('_', ' '))
              .append(" | ").append(k.required() ? "required" : show(k.defaultValue()))
              .append(" | ").append(k.doc()).append(" |\n");
      }
    }
  }

  private static String show(Object v) {
    if (v == null) {
      return "unset";
    }
    if (v instanceof Duration d) {
      return d.isZero() ? "0" : d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
    return "`" + v + "`";
  }
}

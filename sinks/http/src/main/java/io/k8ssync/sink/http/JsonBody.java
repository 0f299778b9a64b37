package io.k8ssync.sink.http;

import io.k8ssync.sink.template.PodFields;
import io.k8ssync.sink.template.Template;

import io.k8ssync.sink.PodState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request body declared as a YAML mapping whose string values are templates. It is rendered as
 * JSON by construction: every string is escaped, a value that is exactly {@code {port}} or
 * {@code {weight}} becomes a number, so no pod value can break out of its place.
 */
final class JsonBody {

  private final Object root;

  private JsonBody(Object root) {
    this.root = root;
  }

  /** Null when {@code raw} is a valid body (a mapping of templates, numbers, booleans, lists, mappings). */
  static String problem(Object raw) {
    try {
      parse(raw);
      return null;
    } catch (IllegalArgumentException e) {
      return "a mapping whose strings are templates naming pod fields; " + e.getMessage();
    }
  }

  static JsonBody parse(Object raw) {
    if (!(raw instanceof Map)) {
      throw new IllegalArgumentException("the body is not a mapping");
    }
    return new JsonBody(compile(raw, "body"));
  }

  private static Object compile(Object v, String where) {
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        out.put(String.valueOf(e.getKey()), compile(e.getValue(), where + "." + e.getKey()));
      }
      return out;
    }
    if (v instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (Object o : l) {
        out.add(compile(o, where + "[]"));
      }
      return out;
    }
    if (v instanceof String s) {
      try {
        return Template.parse(s);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + e.getMessage());
      }
    }
    if (v == null || v instanceof Number || v instanceof Boolean) {
      return v;
    }
    throw new IllegalArgumentException(where + " is neither text, number, boolean, list nor mapping");
  }

  String render(PodState pod) {
    StringBuilder out = new StringBuilder();
    write(out, root, pod);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, PodState pod) {
    if (v instanceof Map<?, ?> m) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        out.append('"').append(Template.jsonEscape(String.valueOf(e.getKey()))).append("\":");
        write(out, e.getValue(), pod);
      }
      out.append('}');
    } else if (v instanceof List<?> l) {
      out.append('[');
      for (int i = 0; i < l.size(); i++) {
        if (i > 0) {
          out.append(',');
        }
        write(out, l.get(i), pod);
      }
      out.append(']');
    } else if (v instanceof Template t) {
      String only = t.onlyField();
      if (only != null && PodFields.NUMBERS.contains(only)) {
        out.append(PodFields.value(pod, only));
      } else {
        out.append('"').append(t.render(pod, Template::jsonEscape)).append('"');
      }
    } else {
      out.append(v);
    }
  }
}

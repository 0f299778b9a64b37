package io.k8ssync.sink.config;

/**
 * A config value that cannot be used. The message names the path of the key, the value found and
 * what was expected, so the operator can fix the file without reading code.
 */
public class ConfigException extends Exception {

  private final String path;

  public ConfigException(String path, String message) {
    super("config error at " + path + ": " + message);
    this.path = path;
  }

  /** Where the bad value is, e.g. {@code sinks[1].config.timeout}. */
  public String path() {
    return path;
  }

  /** A value rendered for an error message: quoted, bounded, control characters escaped. */
  public static String show(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof java.util.Map || value instanceof java.util.List) {
      return value instanceof java.util.Map ? "a mapping" : "a list";
    }
    String s = String.valueOf(value);
    StringBuilder out = new StringBuilder("\"");
    for (int i = 0; i < s.length() && i < 80; i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    if (s.length() > 80) {
      out.append("...(").append(s.length()).append(" chars)");
    }
    return out.append('"').toString();
  }
}

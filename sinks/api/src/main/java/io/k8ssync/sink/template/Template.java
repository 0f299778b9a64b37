package io.k8ssync.sink.template;

import io.k8ssync.sink.PodState;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A text with {@code {field}} placeholders ({@code {{} and {@code }}} for literal braces). Parsed
 * once at start, so an unknown field is a config error; rendered with an escaper chosen for the
 * place the text goes (URL, header, JSON string), so a pod's values are never concatenated raw.
 */
public final class Template {

  /** Turns a field value into text that is safe where the template is used. */
  @FunctionalInterface
  public interface Escaper {
    String escape(String value);
  }

  private final List<String> literals;
  private final List<String> fields;
  private final String source;

  private Template(String source, List<String> literals, List<String> fields) {
    this.source = source;
    this.literals = literals;
    this.fields = fields;
  }

  /** Parses a template; throws IllegalArgumentException with what is wrong. */
  public static Template parse(String source) {
    List<String> literals = new ArrayList<>();
    List<String> fields = new ArrayList<>();
    StringBuilder lit = new StringBuilder();
    for (int i = 0; i < source.length(); i++) {
      char c = source.charAt(i);
      if (c == '{' && i + 1 < source.length() && source.charAt(i + 1) == '{') {
        lit.append('{');
        i++;
      } else if (c == '}' && i + 1 < source.length() && source.charAt(i + 1) == '}') {
        lit.append('}');
        i++;
      } else if (c == '{') {
        int end = source.indexOf('}', i);
        if (end < 0) {
          throw new IllegalArgumentException("an unclosed '{' at position " + i);
        }
        String field = source.substring(i + 1, end);
        if (!PodFields.known(field)) {
          throw new IllegalArgumentException("{" + field + "} is not a pod field; known: " + PodFields.describe());
        }
        literals.add(lit.toString());
        lit.setLength(0);
        fields.add(field);
        i = end;
      } else if (c == '}') {
        throw new IllegalArgumentException("a '}' without '{' at position " + i + " (write }} for a literal one)");
      } else {
        lit.append(c);
      }
    }
    literals.add(lit.toString());
    return new Template(source, List.copyOf(literals), List.copyOf(fields));
  }

  /** Null when {@code source} is a valid template, else what is wrong (for config validation). */
  public static String problem(Object source) {
    try {
      parse(String.valueOf(source));
      return null;
    } catch (IllegalArgumentException e) {
      return "a template naming only pod fields; " + e.getMessage();
    }
  }

  /**
   * A pod's value that cannot go where the template puts it. Names the template field, never the
   * value: pod values are untrusted, and whatever they hold stays out of logs.
   */
  public static final class RefusedValue extends IllegalArgumentException {
    private final String field;

    RefusedValue(List<String> fields, String why) {
      super("{" + String.join("}{", fields) + "}: " + why);
      this.field = String.join("+", fields);
    }

    /** The field, e.g. {@code annotation.team}; several joined by {@code +} when together they made it. */
    public String field() {
      return field;
    }
  }

  /** Throws {@link RefusedValue} when {@code escaper} refuses a field's value. */
  public String render(PodState pod, Escaper escaper) {
    return render(pod, escaper, new int[fields.size()]);
  }

  /** Renders, noting in {@code at} where each field's value starts in the result. */
  private String render(PodState pod, Escaper escaper, int[] at) {
    StringBuilder out = new StringBuilder(literals.get(0));
    for (int i = 0; i < fields.size(); i++) {
      at[i] = out.length();
      try {
        out.append(escaper.escape(PodFields.value(pod, fields.get(i))));
      } catch (RefusedValue e) {
        throw e;
      } catch (IllegalArgumentException e) {
        throw new RefusedValue(List.of(fields.get(i)), e.getMessage());
      }
      out.append(literals.get(i + 1));
    }
    return out.toString();
  }

  /**
   * Renders a URL: values percent-encoded ({@link #urlEscape}), and refused ({@link RefusedValue})
   * when they make a path segment empty or a dot segment. {@code /gw/{x}/online} with {@code ..}
   * would reach a server that normalises paths as {@code /gw/online}, and {@code //} may be read as
   * one slash or as another resource. Encoding the dots is no cure: many servers decode before they
   * normalise; so a segment is a dot segment also when its dots are written {@code %2E}, or when a
   * {@code ;parameter} follows them (Tomcat and Jetty drop it first). Only segments a value takes
   * part in are checked: what the configuration writes itself is the operator's choice.
   */
  public String renderUrl(PodState pod) {
    int[] at = new int[fields.size()];
    String url = render(pod, Template::urlEscape, at);
    // An escaped value holds no '/', '?', '#' or ':', so where the path begins and ends, and which
    // segment a value lies in, are the literals' doing.
    int path = pathStart(url);
    int end = firstOf(url, "?#", path);
    for (int s = path; s < end; ) {
      int e = firstOf(url, "/", s + 1);
      e = Math.min(e, end);
      List<String> made = new ArrayList<>();
      for (int i = 0; i < at.length; i++) {
        if (at[i] > s && at[i] <= e) {
          made.add(fields.get(i));
        }
      }
      if (!made.isEmpty()) {
        String segment = url.substring(s + 1, e);
        if (segment.isEmpty()) {
          throw new RefusedValue(made, "the value makes a URL path segment empty");
        }
        if (isDotSegment(segment)) {
          throw new RefusedValue(made, "the value makes a URL path segment a dot segment, which a server resolves to another path");
        }
      }
      s = e;
    }
    return url;
  }

  /** Index of the path's leading '/' (after {@code scheme://authority}), or where the path would be when there is none. */
  private static int pathStart(String url) {
    int scheme = url.indexOf("://");
    if (scheme < 0 || firstOf(url, "/?#", 0) < scheme) {
      return url.startsWith("/") ? 0 : url.length(); // not an absolute URL: nothing sendable to check
    }
    int p = firstOf(url, "/?#", scheme + 3);
    return p < url.length() && url.charAt(p) == '/' ? p : url.length();
  }

  private static int firstOf(String s, String chars, int from) {
    for (int i = from; i < s.length(); i++) {
      if (chars.indexOf(s.charAt(i)) >= 0) {
        return i;
      }
    }
    return s.length();
  }

  private static boolean isDotSegment(String segment) {
    int semicolon = segment.indexOf(';');
    String s = (semicolon >= 0 ? segment.substring(0, semicolon) : segment).replace("%2E", ".").replace("%2e", ".");
    return s.equals(".") || s.equals("..");
  }

  /** The fields it names, in order, e.g. {@code service} and {@code label.version}. */
  public List<String> fields() {
    return fields;
  }

  /** The single field this template consists of, or null when it has text around or several fields. */
  public String onlyField() {
    return fields.size() == 1 && literals.get(0).isEmpty() && literals.get(1).isEmpty() ? fields.get(0) : null;
  }

  @Override
  public String toString() {
    return source;
  }

  /** Percent-encodes everything but RFC 3986 unreserved characters: safe in a path segment and a query. */
  public static String urlEscape(String value) {
    StringBuilder out = new StringBuilder();
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
      }
    }
    return out.toString();
  }

  /** Refuses values that would split a header. */
  public static String headerEscape(String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new IllegalArgumentException("a header value may not contain control characters");
      }
      if (c > 0x7e) {
        // The JDK client refuses most of them with an unchecked error at send time; ASCII is what
        // every gateway reads the same way.
        throw new IllegalArgumentException("a header value may only contain printable ASCII");
      }
    }
    return value;
  }

  /** The contents of a JSON string (without the quotes). */
  public static String jsonEscape(String value) {
    StringBuilder out = new StringBuilder(value.length() + 8);
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '<': out.append("\\u003c"); break;
        case '>': out.append("\\u003e"); break;
        case '&': out.append("\\u0026"); break;
        default:
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    return out.toString();
  }
}

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

  public String render(PodState pod, Escaper escaper) {
    StringBuilder out = new StringBuilder(literals.get(0));
    for (int i = 0; i < fields.size(); i++) {
      out.append(escaper.escape(PodFields.value(pod, fields.get(i))));
      out.append(literals.get(i + 1));
    }
    return out.toString();
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

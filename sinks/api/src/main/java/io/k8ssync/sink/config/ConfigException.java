package io.k8ssync.sink.config;

import java.util.regex.Pattern;

/**
 * A config value that cannot be used. The message names the path of the key, the value found and
 * what was expected, so the operator can fix the file without reading code.
 */
public class ConfigException extends Exception {

  private final String path;

  /** {@code scheme://userinfo@}: up to the last '@' of the run, as a password may hold '@' or '/'. */
  private static final Pattern URL_USER_INFO = Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)[^\\s\"']*@");
  /** {@code user:password@host} without a scheme, as in a host list. */
  private static final Pattern BARE_USER_INFO = Pattern.compile("(^|[\\s\"',;(=])[^\\s\"',;(=@/:]+:[^\\s\"',;@/]*@");

  public ConfigException(String path, String message) {
    // Masked whole, whoever wrote the message: a URL's user info is never echoed.
    super(maskUserInfo("config error at " + path + ": " + message));
    this.path = maskUserInfo(path);
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
    String s = maskUserInfo(String.valueOf(value));
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

  /**
   * {@code text} with the user info of every URL ({@code http://user:secret@host}) and of every
   * {@code user:secret@host} replaced by {@code ***}. Errs on the side of masking too much.
   */
  public static String maskUserInfo(String text) {
    String out = URL_USER_INFO.matcher(text).replaceAll("$1***@");
    return BARE_USER_INFO.matcher(out).replaceAll("$1***@");
  }
}

package io.k8ssync.daemon.status;

import java.util.regex.Pattern;

/**
 * A sink's error as people see it in the status API and in Events. Sinks already keep secrets out
 * of their errors (see {@link io.k8ssync.sink.Progress}); this is the second fence: the query and
 * credentials of any URL in the text are cut (a gateway URL template may carry a token), control
 * characters go, and the text is bounded.
 */
final class ErrorText {

  static final int MAX = 512;

  private static final Pattern USER_INFO = Pattern.compile("(?i)\\b([a-z][a-z0-9+.-]*://)[^/\\s@]+@");
  private static final Pattern QUERY = Pattern.compile("(?i)(\\b[a-z][a-z0-9+.-]*://[^\\s?#]*)[?#][^\\s)\"']*");

  private ErrorText() {}

  static String forPeople(String error) {
    if (error == null) {
      return null;
    }
    String s = USER_INFO.matcher(error).replaceAll("$1***@");
    s = QUERY.matcher(s).replaceAll("$1?…");
    StringBuilder out = new StringBuilder(Math.min(s.length(), MAX));
    for (int i = 0; i < s.length() && out.length() < MAX; i++) {
      char c = s.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    if (s.length() > MAX) {
      out.append('…');
    }
    return out.toString();
  }
}

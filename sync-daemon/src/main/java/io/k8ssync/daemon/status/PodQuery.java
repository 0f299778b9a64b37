package io.k8ssync.daemon.status;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.config.ConfigException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A checked query of the status API: which pods ({@code service}, {@code namespace}, {@code name},
 * {@code ip}, {@code cluster}, free text {@code q}, a {@code state} in some or one {@code sink}),
 * and which page ({@code limit}, {@code continue}). Pages follow the pod key order
 * (cluster/namespace/name); a continue token carries the last key given and a fingerprint of the
 * filters, so it cannot be replayed against another query. Every refusal names the parameter, the
 * value as given (quoted, shortened) and what was expected.
 */
public final class PodQuery {

  /** A query the API refuses with 400; the message says which parameter and what it expects. */
  public static final class BadQuery extends Exception {
    public BadQuery(String message) {
      super(message);
    }
  }

  public static final int MAX_LIMIT = 1000;
  public static final List<String> PARAMS =
      List.of("service", "namespace", "name", "ip", "cluster", "q", "state", "sink", "limit", "continue");

  private static final Pattern NAMESPACE = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern POD_NAME = Pattern.compile("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?");
  private static final Pattern CLUSTER = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern SERVICE = Pattern.compile("[A-Za-z0-9._-]{1,253}");
  private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]{2,45}");

  final String service;
  final String namespace;
  final String name;
  final String ip;
  final String cluster;
  final String q;
  /** {@code q} in lowercase, and whether it is an IP address: worked out once, not once per pod. */
  private final String qLower;
  private final boolean qIp;
  final SinkPodState state;
  final String sink;
  final int limit;
  /** The last key of the previous page; null for the first page. */
  final String after;

  private PodQuery(Map<String, String> p, int limit, String after) {
    this.service = p.get("service");
    this.namespace = p.get("namespace");
    this.name = p.get("name");
    this.ip = p.get("ip");
    this.cluster = p.get("cluster");
    this.q = p.get("q");
    this.qLower = q == null ? null : q.toLowerCase(Locale.ROOT);
    this.qIp = q != null && (IPV4.matcher(q).matches() || (q.indexOf(':') >= 0 && IPV6.matcher(q).matches()));
    this.state = p.get("state") == null ? null : SinkPodState.of(p.get("state"));
    this.sink = p.get("sink");
    this.limit = limit;
    this.after = after;
  }

  /** All pods, first page of {@code limit}. */
  public static PodQuery all(int limit) {
    return new PodQuery(Map.of(), limit, null);
  }

  /**
   * Parses {@code rawQuery} (as in a URL, may be null). Empty values count as absent (an empty
   * search box); {@code sinks} are the configured sink names.
   */
  public static PodQuery parse(String rawQuery, Set<String> sinks, int defaultLimit) throws BadQuery {
    Map<String, String> p = params(rawQuery, PARAMS);
    check(p, "service", SERVICE, "a service name of letters, digits, '.', '_' and '-'");
    check(p, "namespace", NAMESPACE, "a namespace name (lowercase letters, digits and '-')");
    check(p, "name", POD_NAME, "a pod name (lowercase letters, digits, '-' and '.')");
    check(p, "cluster", CLUSTER, "a cluster name as configured");
    String ip = p.get("ip");
    if (ip != null && !IPV4.matcher(ip).matches() && !(ip.indexOf(':') >= 0 && IPV6.matcher(ip).matches())) {
      throw bad("ip", ip, "an IPv4 or IPv6 address, such as 10.1.2.3");
    }
    String q = p.get("q");
    if (q != null && (q.length() > 253 || !q.chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
      throw bad("q", q, "a pod name, service or IP to search for (printable ASCII without spaces, at most 253)");
    }
    String state = p.get("state");
    if (state != null && SinkPodState.of(state) == null) {
      throw bad("state", state, "one of online, draining, offline, pending, failing, standby");
    }
    String sink = p.get("sink");
    if (sink != null && !sinks.contains(sink)) {
      throw bad("sink", sink, "a configured sink: " + String.join(", ", new java.util.TreeSet<>(sinks)));
    }
    int limit = limit(p.get("limit"), defaultLimit);
    PodQuery filters = new PodQuery(p, limit, null);
    String token = p.get("continue");
    return token == null ? filters : new PodQuery(p, limit, filters.resume(token));
  }

  /**
   * The parameters of {@code rawQuery}: each once at most, each in {@code allowed}; empty values
   * are left out.
   */
  static Map<String, String> params(String rawQuery, List<String> allowed) throws BadQuery {
    Map<String, String> out = new LinkedHashMap<>();
    if (rawQuery == null || rawQuery.isEmpty()) {
      return out;
    }
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String pair : rawQuery.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String key;
      String value;
      try {
        key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw new BadQuery("the query is not URL-encoded properly (" + e.getMessage() + ")");
      }
      if (!allowed.contains(key)) {
        throw new BadQuery("unknown parameter " + ConfigException.show(key) + "; expected any of: " + String.join(", ", allowed));
      }
      if (!seen.add(key)) {
        throw new BadQuery("parameter " + key + " is given more than once; expected it at most once");
      }
      if (!value.isEmpty()) {
        out.put(key, value);
      }
    }
    return out;
  }

  static int limit(String v, int defaultLimit) throws BadQuery {
    if (v == null) {
      return defaultLimit;
    }
    try {
      int n = Integer.parseInt(v);
      if (n >= 1 && n <= MAX_LIMIT) {
        return n;
      }
    } catch (NumberFormatException e) {
      // refused below
    }
    throw bad("limit", v, "an integer from 1 to " + MAX_LIMIT);
  }

  private static void check(Map<String, String> p, String key, Pattern pattern, String expected) throws BadQuery {
    String v = p.get(key);
    if (v != null && !pattern.matcher(v).matches()) {
      throw bad(key, v, expected);
    }
  }

  static BadQuery bad(String key, String value, String expected) {
    return new BadQuery(key + " " + ConfigException.show(value) + ": expected " + expected);
  }

  /** True when {@code pod} passes the filters that need no sink state (all but state and sink). */
  boolean matches(PodState pod) {
    if (cluster != null && !cluster.equals(pod.cluster())
        || namespace != null && !namespace.equals(pod.namespace())
        || name != null && !name.equals(pod.name())
        || service != null && !service.equals(pod.service())
        || ip != null && !ip.equals(pod.ip())) {
      return false;
    }
    if (q == null) {
      return true;
    }
    if (qIp) {
      return q.equals(pod.ip());
    }
    String lower = qLower;
    return (pod.service() != null && pod.service().equalsIgnoreCase(q))
        || pod.name().contains(lower) || (lower.length() == pod.namespace().length() + 1 + pod.name().length()
            && lower.startsWith(pod.namespace()) && lower.charAt(pod.namespace().length()) == '/' && lower.endsWith(pod.name()));
  }

  /** The IP the query pins exactly (the cache's index answers it), from {@code ip} or an address typed as {@code q}; or null. */
  String pinnedIp() {
    return ip != null ? ip : qIp ? q : null;
  }

  /** The token that continues this query after {@code lastKey}. */
  String continueAfter(String lastKey) {
    return token(fingerprint(), lastKey);
  }

  private String resume(String token) throws BadQuery {
    return resume(token, fingerprint());
  }

  /** A continue token: the query's fingerprint and the last key given. */
  static String token(String fingerprint, String lastKey) {
    String raw = fingerprint + "\n" + lastKey;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  /** The last key {@code token} carries, if it was made for a query of {@code fingerprint}. */
  static String resume(String token, String fingerprint) throws BadQuery {
    String raw;
    try {
      raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw bad("continue", token, "a token from the 'continue' field of the previous page");
    }
    int nl = raw.indexOf('\n');
    if (nl < 0 || nl == raw.length() - 1) {
      throw bad("continue", token, "a token from the 'continue' field of the previous page");
    }
    if (!raw.substring(0, nl).equals(fingerprint)) {
      throw new BadQuery("continue: the token belongs to a query with other filters; repeat the same filters"
          + " (limit may change), or drop continue to start over");
    }
    return raw.substring(nl + 1);
  }

  /** A short digest of the filters (not the page): a token is only good for the query that made it. */
  private String fingerprint() {
    Map<String, String> f = filters();
    f.put("kind", "pods");
    return digest(new TreeMap<>(f).toString());
  }

  static String digest(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  private static void put(Map<String, String> m, String k, String v) {
    if (v != null) {
      m.put(k, v);
    }
  }

  /** The query as parameters, for links to the next page. */
  public Map<String, String> filters() {
    Map<String, String> f = new LinkedHashMap<>();
    put(f, "q", q);
    put(f, "service", service);
    put(f, "namespace", namespace);
    put(f, "name", name);
    put(f, "ip", ip);
    put(f, "cluster", cluster);
    put(f, "state", state == null ? null : state.label());
    put(f, "sink", sink);
    return f;
  }

  public int limit() {
    return limit;
  }
}

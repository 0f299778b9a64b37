package io.k8ssync.sink.nginx;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Which server line a pod gets, in which upstream: the registry sinks' upstream template and
 * options (weight, max-fails, fail-timeout, backup), in nginx's address syntax ({@code [v6]:port}).
 * Stateless; reads only the pods it is given.
 */
final class PodServers {

  private static final Pattern UPSTREAM = Pattern.compile(NginxSinkFactory.NAME);
  private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");
  private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:]{2,39}");

  /** The live servers of the ready pods by upstream and address, and the pod behind each server ({@link UpstreamPlan#key}). */
  record Desired(Map<String, Map<String, ServerLine>> lines, Map<String, PodState> podOf) {}

  private final SinkContext context;
  private final NginxSinkConfig config;

  PodServers(SinkContext context, NginxSinkConfig config) {
    this.context = context;
    this.config = config;
  }

  Desired of(Collection<PodState> pods) {
    Map<String, Map<String, ServerLine>> lines = new TreeMap<>();
    Map<String, PodState> podOf = new HashMap<>();
    for (PodState p : pods) {
      if (context.desiredOnline(p) && unrenderable(p) == null) {
        String u = upstreamOf(p);
        ServerLine s = line(p);
        if (lines.computeIfAbsent(u, x -> new TreeMap<>()).putIfAbsent(s.address(), s) == null) {
          podOf.put(UpstreamPlan.key(u, s.address()), p);
        }
      }
    }
    return new Desired(lines, podOf);
  }

  /** True for a pod that should be online but cannot be written (see {@link #unrenderable}). */
  boolean refused(PodState p) {
    return context.desiredOnline(p) && unrenderable(p) != null;
  }

  /** Null when the pod can be written, else why not: {@code address} (not an IP) or {@code upstream_name}. */
  String unrenderable(PodState p) {
    if (p.ip() == null || !(IPV4.matcher(p.ip()).matches() || (p.ip().contains(":") && IPV6.matcher(p.ip()).matches()))) {
      return "address";
    }
    return upstreamOf(p) == null ? "upstream_name" : null;
  }

  /** The upstream name the template gives, or null when it is not [A-Za-z0-9._-] (a pod's values are untrusted). */
  String upstreamOf(PodState p) {
    try {
      String name = config.upstream().render(p, v -> v);
      return UPSTREAM.matcher(name).matches() && !name.contains("..") ? name : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  ServerLine line(PodState p) {
    Map<String, String> o = p.options();
    String host = p.ip().contains(":") ? "[" + p.ip() + "]" : p.ip();
    return new ServerLine(host + ":" + p.port(), p.weight(),
        o.containsKey("max-fails") ? Integer.parseInt(o.get("max-fails")) : config.maxFails(),
        o.containsKey("fail-timeout") ? Integer.parseInt(o.get("fail-timeout")) : config.failTimeout(),
        "1".equals(o.get("backup")), false);
  }
}

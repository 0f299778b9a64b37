package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the pods want in the registry: the server and upsync entry of a pod, and whether a server is
 * wanted right now. Reads the pod cache, never the registry; stateless and thread-safe.
 */
final class DesiredServers {

  private static final Pattern UPSTREAM = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?");
  private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)");

  private final SinkContext context;
  private final UpstreamConfig config;

  DesiredServers(SinkContext context, UpstreamConfig config) {
    this.context = context;
    this.config = config;
  }

  /** nginx-upsync reads a server key's last segment as IPv4:port; any other address would break the upstream. */
  static boolean ipv4(PodState p) {
    return p.ip() != null && IPV4.matcher(p.ip()).matches();
  }

  /** Desired online by the shared rule and registrable (IPv4). */
  boolean online(PodState p) {
    return context.desiredOnline(p) && ipv4(p);
  }

  Server server(PodState p) throws SinkException {
    return new Server(p.cluster(), upstreamOf(p), p.address());
  }

  /** The server a pod would have, or null when it can have none (no IPv4 address, no valid upstream name). */
  Server serverIfAny(PodState p) {
    if (p.address() == null || !ipv4(p)) {
      return null;
    }
    try {
      return server(p);
    } catch (SinkException e) {
      return null;
    }
  }

  String upstreamOf(PodState p) throws SinkException {
    String name;
    try {
      name = config.upstream().render(p, v -> v);
    } catch (RuntimeException e) {
      throw SinkException.fatal("upstream name of " + p.key() + " cannot be built", e);
    }
    if (!UPSTREAM.matcher(name).matches() || name.contains("..")) {
      throw SinkException.fatal("upstream name of " + p.key() + " is not [A-Za-z0-9._-] (from template "
          + config.upstream() + ")", null);
    }
    return name;
  }

  UpsyncEntry entryOf(PodState p, boolean down) {
    Map<String, String> o = p.options();
    return UpsyncEntry.of(p.weight(),
        o.containsKey("max-fails") ? Integer.parseInt(o.get("max-fails")) : config.maxFails(),
        o.containsKey("fail-timeout") ? Integer.parseInt(o.get("fail-timeout")) : config.failTimeout(),
        down, "1".equals(o.get("backup")));
  }

  /** True when a cached pod is desired online at this server right now. */
  boolean wanted(Server s) {
    for (PodState p : context.pods().podsWithIp(s.ip())) {
      if (p.cluster().equals(s.cluster()) && s.address().equals(p.address()) && online(p)) {
        try {
          if (upstreamOf(p).equals(s.upstream())) {
            return true;
          }
        } catch (SinkException e) {
          // a pod whose upstream name is invalid is never wanted anywhere
        }
      }
    }
    return false;
  }

  /** The cached pods at a server, in any state: of its cluster, at its address, whose upstream is its upstream. */
  List<PodState> podsAt(Server s) {
    List<PodState> out = new ArrayList<>();
    for (PodState p : context.pods().podsWithIp(s.ip())) {
      if (p.cluster().equals(s.cluster()) && s.address().equals(p.address())) {
        try {
          if (upstreamOf(p).equals(s.upstream())) {
            out.add(p);
          }
        } catch (SinkException e) {
          // an invalid upstream name was never written
        }
      }
    }
    return out;
  }

  /** The cached pods that want a server now. */
  List<PodState> podsWanting(Server s) {
    return podsAt(s).stream().filter(this::online).toList();
  }

  /** The cache's state of {@code p}'s pod (same key, any incarnation), or null when it is gone. */
  PodState current(PodState p) {
    // By address first (a few pods), the whole service only when the pod moved: every drain and
    // deletion reports through here, and a service may hold thousands of pods.
    if (p.ip() != null) {
      for (PodState c : context.pods().podsWithIp(p.ip())) {
        if (c.key().equals(p.key())) {
          return c;
        }
      }
    }
    if (p.service() != null) {
      for (PodState c : context.pods().podsOfService(p.service())) {
        if (c.key().equals(p.key())) {
          return c;
        }
      }
    }
    return null;
  }

  /** The upstreams the cached pods of every cluster want a server in, by cluster (what a standby may write once it leads). */
  Map<String, Set<String>> upstreamsByCluster() {
    Map<String, Set<String>> out = new HashMap<>();
    for (PodState p : context.pods().pods()) {
      if (online(p)) {
        try {
          out.computeIfAbsent(p.cluster(), c -> new java.util.TreeSet<>()).add(server(p).upstream());
        } catch (SinkException e) {
          // an invalid upstream name: its write reports it
        }
      }
    }
    return out;
  }

  /** Every wanted server of these clusters with its entry. */
  Map<Server, UpsyncEntry> of(Set<String> clusters) {
    Map<Server, UpsyncEntry> desired = new HashMap<>();
    for (PodState p : context.pods().pods(clusters)) {
      if (online(p)) {
        try {
          desired.put(server(p), entryOf(p, false));
        } catch (SinkException e) {
          // counted when the change was applied
        }
      }
    }
    return desired;
  }
}

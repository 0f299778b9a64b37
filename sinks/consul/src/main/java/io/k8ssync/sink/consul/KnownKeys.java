package io.k8ssync.sink.consul;

import io.k8ssync.sink.Interner;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What a {@link ConsulRegistry} last saw of each key under its prefix, from its own writes (a
 * transaction answers with each key's new ModifyIndex), its listings and its reads: the index, the
 * ownership flags and the value. A hint, never proof: every write made from it is a check-and-set
 * at that index, which Consul refuses when anyone changed the key since, so a stale hint costs a
 * fresh read and never overwrites a key that is not ours. Bounded by the keys under the prefix:
 * deletions forget theirs, and each listing replaces everything.
 *
 * <p>Kept small per key (issue 19: 100,000 keys): a value is held as one shared copy of its text (the
 * servers of an upstream hold a handful of distinct values), and a listing keeps the address strings
 * already held for the keys it finds again (those of the writes: the pod's own), not its own copies.
 */
final class KnownKeys {

  /** Distinct values shared, at most this many; a value beyond them is held as given. */
  static final int SHARED_VALUES = 1024;
  private static final Interner<String> VALUES = new Interner<>(SHARED_VALUES);

  /** A key as last seen: at {@code index}, with {@code flags} and {@code value}. */
  record Known(long index, long flags, String value) {
    Known {
      value = shared(value);
    }
  }

  /** The one copy of {@code value} kept for every key that holds it (or itself, once SHARED_VALUES are kept). */
  static String shared(String value) {
    return VALUES.intern(value);
  }

  private volatile Map<String, Map<String, Known>> byUpstream = new ConcurrentHashMap<>();

  Known get(String upstream, String address) {
    Map<String, Known> servers = byUpstream.get(upstream);
    return servers == null ? null : servers.get(address);
  }

  void saw(String upstream, String address, Known k) {
    byUpstream.computeIfAbsent(upstream, u -> new ConcurrentHashMap<>()).put(address, k);
  }

  void forget(String upstream, String address) {
    Map<String, Known> servers = byUpstream.get(upstream);
    if (servers != null) {
      servers.remove(address);
    }
  }

  /** Everything under the prefix as a listing just found it: upstream → address → key. */
  void replaceAll(Map<String, Map<String, Known>> listed) {
    Map<String, Map<String, Known>> fresh = new ConcurrentHashMap<>();
    listed.forEach((u, servers) -> fresh.put(u, keepingAddresses(byUpstream.get(u), servers)));
    byUpstream = fresh;
  }

  /** One upstream as a read of it just found it. */
  void replaceUpstream(String upstream, Map<String, Known> servers) {
    byUpstream.put(upstream, keepingAddresses(byUpstream.get(upstream), servers));
  }

  /** {@code listed} as a map keyed by the address strings {@code held} has for the same addresses, where it has them. */
  private static Map<String, Known> keepingAddresses(Map<String, Known> held, Map<String, Known> listed) {
    Map<String, Known> fresh = new ConcurrentHashMap<>(listed);
    if (held != null) {
      for (String address : held.keySet()) {
        Known k = fresh.remove(address);
        if (k != null) {
          fresh.put(address, k); // the held key object, not the listing's copy
        }
      }
    }
    return fresh;
  }

  /** The address string held for {@code address} of the upstream (for tests), or null. */
  String heldAddress(String upstream, String address) {
    Map<String, Known> servers = byUpstream.get(upstream);
    if (servers != null) {
      for (String a : servers.keySet()) {
        if (a.equals(address)) {
          return a;
        }
      }
    }
    return null;
  }

  /** The keys of one upstream as last seen: address → key (a copy). */
  Map<String, Known> servers(String upstream) {
    Map<String, Known> servers = byUpstream.get(upstream);
    return servers == null ? Map.of() : Map.copyOf(servers);
  }

  /** A server of the upstream other than {@code address} ({@code IPv4:port}, any owner), as last seen, or null. */
  Map.Entry<String, Known> otherServer(String upstream, String address) {
    Map<String, Known> servers = byUpstream.get(upstream);
    if (servers == null) {
      return null;
    }
    for (Map.Entry<String, Known> e : servers.entrySet()) {
      if (!e.getKey().equals(address) && io.k8ssync.sink.upstream.UpstreamRegistry.isServer(e.getKey())) {
        return Map.entry(e.getKey(), e.getValue());
      }
    }
    return null;
  }
}

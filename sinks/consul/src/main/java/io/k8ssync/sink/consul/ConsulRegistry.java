package io.k8ssync.sink.consul;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.kiwiproject.consul.ConsulException;
import org.kiwiproject.consul.KeyValueClient;
import org.kiwiproject.consul.model.kv.Value;
import org.kiwiproject.consul.option.ImmutableDeleteOptions;
import org.kiwiproject.consul.option.ImmutablePutOptions;

/**
 * Upstreams in Consul KV: {@code <prefix>/<upstream>/<ip>:<port>} → upsync JSON. Ownership is the
 * key's {@code flags}, which nginx-upsync ignores: a 64-bit mark derived from "k8s-sync" and the
 * pod's cluster. Every write and delete is a check-and-set on the index read just before, so an
 * entry that someone else wrote or changed meanwhile is never overwritten or removed.
 */
final class ConsulRegistry implements UpstreamRegistry {

  private final KeyValueClient kv;
  private final String prefix;
  private final Runnable closer;
  private final SinkMetrics.Counter refused;

  ConsulRegistry(KeyValueClient kv, String prefix, Runnable closer, SinkMetrics metrics) {
    this.kv = kv;
    this.prefix = prefix;
    this.closer = closer;
    this.refused = metrics.counter("consul_refused_total",
        "Calls Consul refused, retried, by reason: acl_denied (401/403: the token or its policy does not allow it),"
            + " cas_conflict (the key changed since it was read)", "reason");
  }

  /**
   * The ownership mark of entries written for {@code cluster}: FNV-1a 64 of "k8s-sync/" + cluster,
   * kept to 63 bits (clients render flags as a signed long) and never 0 (everyone else's default).
   */
  static long ownerFlags(String cluster) {
    long h = 0xcbf29ce484222325L;
    for (byte b : ("k8s-sync/" + cluster).getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h &= Long.MAX_VALUE;
    return h == 0 ? 1 : h;
  }

  private String key(String upstream, String address) {
    return prefix + "/" + upstream + "/" + address;
  }

  @Override
  public Map<String, Map<String, Map<String, UpsyncEntry>>> listOwned(Set<String> clusters) throws SinkException {
    Map<Long, String> byFlags = new HashMap<>();
    clusters.forEach(c -> byFlags.put(ownerFlags(c), c));
    Map<String, Map<String, Map<String, UpsyncEntry>>> out = new HashMap<>();
    for (Value v : values(prefix + "/")) {
      String cluster = byFlags.get(v.getFlags());
      String[] parts = v.getKey().substring(prefix.length() + 1).split("/");
      if (cluster == null || parts.length != 2) {
        continue;
      }
      out.computeIfAbsent(cluster, c -> new HashMap<>()).computeIfAbsent(parts[0], u -> new HashMap<>())
          .put(parts[1], UpsyncEntry.parse(v.getValueAsString(StandardCharsets.UTF_8).orElse("")));
    }
    return out;
  }

  private List<Value> values(String keyPrefix) throws SinkException {
    try {
      return kv.getValues(keyPrefix);
    } catch (RuntimeException e) {
      throw failure("list " + keyPrefix, e);
    }
  }

  @Override
  public int countServers(String upstream) throws SinkException {
    String p = prefix + "/" + upstream + "/";
    try {
      // Keys only: nginx-upsync counts every key under the upstream, whoever wrote it.
      return (int) kv.getKeys(p).stream().filter(k -> k.length() > p.length()).count();
    } catch (ConsulException e) {
      if (e.getCode() == 404) {
        return 0;
      }
      throw failure("count " + p, e);
    } catch (RuntimeException e) {
      throw failure("count " + p, e);
    }
  }

  @Override
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry) throws SinkException {
    String key = key(upstream, address);
    long flags = ownerFlags(cluster);
    try {
      Optional<Value> current = kv.getValue(key);
      if (current.isPresent() && current.get().getFlags() != flags) {
        return false;
      }
      long cas = current.map(Value::getModifyIndex).orElse(0L);
      if (current.isPresent() && current.get().getValueAsString(StandardCharsets.UTF_8).orElse("").equals(entry.toJson())) {
        return true;
      }
      if (!kv.putValue(key, entry.toJson(), flags, ImmutablePutOptions.builder().cas(cas).build(), StandardCharsets.UTF_8)) {
        refused.inc("cas_conflict");
        throw SinkException.retriable("put " + key + " lost a check-and-set race; trying again", null);
      }
      return true;
    } catch (RuntimeException e) {
      throw failure("put " + key, e);
    }
  }

  /**
   * One transaction per chunk of 64 (Consul's limit): each key is a check-and-set on the index of
   * one listing taken just before, with index 0 for keys that must not exist yet. Keys written by
   * someone else are refused without being sent. If a transaction fails (a key changed meanwhile),
   * that chunk is written one key at a time, which re-reads each key.
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> refused = new java.util.ArrayList<>();
    if (writes.isEmpty()) {
      return refused;
    }
    Map<String, Value> current = new HashMap<>();
    for (Value v : values(prefix + "/")) {
      current.put(v.getKey(), v);
    }
    List<Write> toSend = new java.util.ArrayList<>();
    for (Write w : writes) {
      Value v = current.get(key(w.upstream(), w.address()));
      if (v != null && v.getFlags() != ownerFlags(w.cluster())) {
        refused.add(w);
      } else {
        toSend.add(w);
      }
    }
    for (int from = 0; from < toSend.size(); from += 64) {
      List<Write> chunk = toSend.subList(from, Math.min(toSend.size(), from + 64));
      org.kiwiproject.consul.model.kv.Operation[] ops = new org.kiwiproject.consul.model.kv.Operation[chunk.size()];
      for (int i = 0; i < ops.length; i++) {
        Write w = chunk.get(i);
        Value v = current.get(key(w.upstream(), w.address()));
        ops[i] = org.kiwiproject.consul.model.kv.Operation.builder(org.kiwiproject.consul.model.kv.Verb.CHECK_AND_SET)
            .key(key(w.upstream(), w.address())).value(w.entry().toJson()).flags(ownerFlags(w.cluster()))
            .index(java.math.BigInteger.valueOf(v == null ? 0 : v.getModifyIndex())).build();
      }
      boolean ok;
      try {
        var response = kv.performTransaction(ops).getResponse();
        ok = response.errors() == null || response.errors().isEmpty();
      } catch (RuntimeException e) {
        ok = false;
      }
      if (!ok) {
        for (Write w : chunk) {
          if (!put(w.cluster(), w.upstream(), w.address(), w.entry())) {
            refused.add(w);
          }
        }
      }
    }
    return refused;
  }

  @Override
  public boolean delete(String cluster, String upstream, String address) throws SinkException {
    String key = key(upstream, address);
    try {
      Optional<Value> current = kv.getValue(key);
      if (current.isEmpty() || current.get().getFlags() != ownerFlags(cluster)) {
        return false;
      }
      kv.deleteKey(key, ImmutableDeleteOptions.builder().cas(current.get().getModifyIndex()).build());
      return kv.getValue(key).isEmpty();
    } catch (RuntimeException e) {
      throw failure("delete " + key, e);
    }
  }

  private SinkException failure(String what, RuntimeException e) {
    if (e instanceof ConsulException ce && (ce.getCode() == 401 || ce.getCode() == 403)) {
      // An operator can fix the token or its policy; dropping the change would lose it for good.
      refused.inc("acl_denied");
      return SinkException.retriable(what + ": not allowed by the ACL token (" + ce.getCode() + "); retried until an operator"
          + " fixes the token or its policy", e);
    }
    return SinkException.retriable(what + " failed: " + e.getClass().getSimpleName() + " " + e.getMessage(), e);
  }

  @Override
  public void close() {
    closer.run();
  }
}

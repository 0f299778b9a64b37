package io.k8ssync.sink.consul;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.upstream.Owner;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.kiwiproject.consul.ConsulException;
import org.kiwiproject.consul.KeyValueClient;
import org.kiwiproject.consul.model.kv.Operation;
import org.kiwiproject.consul.model.kv.Value;
import org.kiwiproject.consul.model.kv.Verb;
import org.kiwiproject.consul.option.ImmutableDeleteOptions;
import org.kiwiproject.consul.option.ImmutablePutOptions;

/**
 * Upstreams in Consul KV: {@code <prefix>/<upstream>/<ip>:<port>} → upsync JSON. Ownership is the
 * key's {@code flags}, which nginx-upsync ignores: a 63-bit mark derived from "k8s-sync", the
 * pod's cluster and the sink's owner id. Every write and delete is a check-and-set on the index read just before, so an
 * entry that someone else wrote or changed meanwhile is never overwritten or removed.
 */
final class ConsulRegistry implements UpstreamRegistry {

  private final KeyValueClient kv;
  private final String prefix;
  private final Runnable closer;
  private final Duration timeout;
  private final SinkMetrics.Counter refused;
  private final Owner owner;

  ConsulRegistry(KeyValueClient kv, String prefix, Duration timeout, Runnable closer, SinkMetrics metrics) {
    this(kv, prefix, timeout, closer, metrics, new Owner(null));
  }

  ConsulRegistry(KeyValueClient kv, String prefix, Duration timeout, Runnable closer, SinkMetrics metrics, Owner owner) {
    this.kv = kv;
    this.owner = owner;
    this.timeout = timeout;
    this.prefix = prefix;
    this.closer = closer;
    this.refused = metrics.counter("consul_refused_total",
        "Calls Consul refused, retried, by reason: acl_denied (401/403: the token or its policy does not allow it),"
            + " cas_conflict (the key changed since it was read)", "reason");
  }

  /**
   * The ownership mark of entries written for {@code cluster} by its default owner (and by every
   * version before owner ids): FNV-1a 64 of "k8s-sync/" + cluster, kept to 63 bits (clients render
   * flags as a signed long) and never 0 (everyone else's default).
   */
  static long ownerFlags(String cluster) {
    return fnv("k8s-sync/" + cluster);
  }

  /**
   * The mark of entries of {@code cluster} owned by {@code ownerId}: the default mark when the id is
   * the cluster's name, else FNV-1a 64 of "k8s-sync/" + cluster + "/" + ownerId (no cluster name holds
   * a '/', so it never equals a default mark).
   */
  static long ownerFlags(String cluster, String ownerId) {
    return ownerId.equals(cluster) ? ownerFlags(cluster) : fnv("k8s-sync/" + cluster + "/" + ownerId);
  }

  private long mine(String cluster) {
    return ownerFlags(cluster, owner.of(cluster));
  }

  /** The default mark of {@code cluster} when it is someone else's (this sink has its own id), else none. */
  private Long others(String cluster) {
    return owner.isDefault(cluster) ? null : ownerFlags(cluster);
  }

  private static long fnv(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h &= Long.MAX_VALUE;
    return h == 0 ? 1 : h;
  }

  private String key(String upstream, String address) {
    return prefix + "/" + upstream + "/" + address;
  }

  /** One recursive read of the whole prefix. */
  @Override
  public Map<String, Map<String, Map<String, Listed>>> list(Set<String> clusters) throws SinkException {
    Map<Long, String> byFlags = new HashMap<>();
    Map<Long, String> byDefaultFlags = new HashMap<>();
    for (String c : clusters) {
      byFlags.put(mine(c), c);
      if (others(c) != null) {
        byDefaultFlags.put(others(c), c);
      }
    }
    Map<String, Map<String, Map<String, Listed>>> out = new HashMap<>();
    for (Value v : values(prefix + "/")) {
      String cluster = byFlags.get(v.getFlags());
      boolean defaultMark = cluster == null;
      if (defaultMark) {
        cluster = byDefaultFlags.get(v.getFlags());
      }
      String[] parts = v.getKey().substring(prefix.length() + 1).split("/");
      if (cluster == null || parts.length != 2) {
        continue;
      }
      out.computeIfAbsent(cluster, c -> new HashMap<>()).computeIfAbsent(parts[0], u -> new HashMap<>())
          .put(parts[1], new Listed(UpsyncEntry.parse(v.getValueAsString(StandardCharsets.UTF_8).orElse("")), v.getModifyIndex(),
              defaultMark));
    }
    return out;
  }

  private List<Value> values(String keyPrefix) throws SinkException {
    try {
      return kv.getValues(keyPrefix);
    } catch (ConsulException e) {
      if (e.getCode() == 404) {
        return List.of();
      }
      throw failure("list " + keyPrefix, e);
    } catch (RuntimeException e) {
      throw failure("list " + keyPrefix, e);
    }
  }

  /** One read of the key nginx-upsync reads, whoever wrote it. */
  @Override
  public boolean present(String cluster, String upstream, String address) throws SinkException {
    String key = key(upstream, address);
    try {
      return kv.getValue(key).isPresent();
    } catch (ConsulException e) {
      if (e.getCode() == 404) {
        return false;
      }
      throw failure("read " + key, e);
    } catch (RuntimeException e) {
      throw failure("read " + key, e);
    }
  }

  @Override
  public int countServers(String upstream) throws SinkException {
    String p = prefix + "/" + upstream + "/";
    try {
      // Keys only: nginx-upsync counts every key under the upstream, whoever wrote it.
      return (int) kv.getKeys(p).stream().filter(k -> UpstreamRegistry.isServer(k.substring(p.length()))).count();
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
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) throws SinkException {
    String key = key(upstream, address);
    long flags = mine(cluster);
    try {
      Optional<Value> current = kv.getValue(key);
      boolean takingOver = takeOver && current.isPresent() && others(cluster) != null && current.get().getFlags() == others(cluster);
      if (current.isPresent() && current.get().getFlags() != flags && !takingOver) {
        return false;
      }
      long cas = current.map(Value::getModifyIndex).orElse(0L);
      if (!takingOver && current.isPresent() && current.get().getValueAsString(StandardCharsets.UTF_8).orElse("").equals(entry.toJson())) {
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
   * One transaction per chunk of 64 (Consul's limit): each key is a check-and-set on the index its
   * Write carries from the pass's listing, index 0 for a key that must not exist yet, so nothing is
   * read again. A foreign key, or one changed since the listing, fails its transaction; that chunk
   * is then written one key at a time, each after a fresh read (which refuses foreign keys).
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> foreign = new java.util.ArrayList<>();
    List<Write> known = new java.util.ArrayList<>();
    for (Write w : writes) {
      if (w.version() == Write.UNKNOWN) {
        if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
          foreign.add(w);
        }
      } else {
        known.add(w);
      }
    }
    for (int from = 0; from < known.size(); from += 64) {
      List<Write> chunk = known.subList(from, Math.min(known.size(), from + 64));
      Operation[] ops = new Operation[chunk.size()];
      for (int i = 0; i < ops.length; i++) {
        Write w = chunk.get(i);
        ops[i] = Operation.builder(Verb.CHECK_AND_SET)
            // At the listed index: still the mark listed (ours, or the default one this write takes over).
            .key(key(w.upstream(), w.address())).value(w.entry().toJson()).flags(mine(w.cluster()))
            .index(BigInteger.valueOf(w.version() == Write.ABSENT ? 0 : w.version())).build();
      }
      if (!transaction(ops)) {
        refused.inc("cas_conflict");
        for (Write w : chunk) {
          if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
            foreign.add(w);
          }
        }
      }
    }
    return foreign;
  }

  /** True when every operation applied; false when a check failed (nothing applied then). */
  private boolean transaction(Operation[] ops) throws SinkException {
    try {
      var response = kv.performTransaction(ops).getResponse();
      return response.errors() == null || response.errors().isEmpty();
    } catch (ConsulException e) {
      if (e.getCode() == 409) {
        return false; // a check failed: Consul rolls the whole transaction back
      }
      throw failure("transaction of " + ops.length + " operations", e);
    } catch (RuntimeException e) {
      throw failure("transaction of " + ops.length + " operations", e);
    }
  }

  /**
   * One read of the upstream, then one transaction that deletes our key at the index read and, in
   * the same step, checks that another server of the upstream is still there at its index read. Two
   * writers deleting the last two servers at once can therefore never empty the upstream: one of
   * the transactions fails, and its retry finds the last server.
   */
  @Override
  public Deletion deleteUnlessLast(String cluster, String upstream, String address) throws SinkException {
    String key = key(upstream, address);
    Value mine = null;
    Value other = null;
    for (Value v : values(prefix + "/" + upstream + "/")) {
      String rest = v.getKey().substring(prefix.length() + upstream.length() + 2);
      if (v.getKey().equals(key)) {
        mine = v;
      } else if (other == null && UpstreamRegistry.isServer(rest)) {
        other = v; // a folder key or any other name is no server to upsync: it does not keep the upstream from being empty
      }
    }
    if (mine == null || mine.getFlags() != mine(cluster)) {
      return Deletion.MISSED;
    }
    if (other == null) {
      return Deletion.LAST_SERVER;
    }
    Operation[] ops = {
        Operation.builder(Verb.CHECK_INDEX).key(other.getKey()).index(BigInteger.valueOf(other.getModifyIndex())).build(),
        Operation.builder(Verb.DELETE_CHECK_AND_SET).key(key).index(BigInteger.valueOf(mine.getModifyIndex())).build()};
    if (!transaction(ops)) {
      refused.inc("cas_conflict");
      throw SinkException.retriable("delete " + key + ": the upstream changed while it was read; trying again", null);
    }
    return Deletion.DELETED;
  }

  @Override
  public Duration callTimeout() {
    return timeout;
  }

  @Override
  public boolean delete(String cluster, String upstream, String address) throws SinkException {
    String key = key(upstream, address);
    try {
      Optional<Value> current = kv.getValue(key);
      if (current.isEmpty() || current.get().getFlags() != mine(cluster)) {
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

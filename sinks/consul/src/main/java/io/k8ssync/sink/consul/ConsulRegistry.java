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
import org.kiwiproject.consul.model.kv.TxResponse;
import org.kiwiproject.consul.model.kv.Value;
import org.kiwiproject.consul.model.kv.Verb;
import org.kiwiproject.consul.option.ImmutableDeleteOptions;
import org.kiwiproject.consul.util.Jackson;

/**
 * Upstreams in Consul KV: {@code <prefix>/<upstream>/<ip>:<port>} → upsync JSON. Ownership is the
 * key's {@code flags}, which nginx-upsync ignores: a 63-bit mark derived from "k8s-sync", the
 * pod's cluster and the sink's owner id. Every write and delete is a check-and-set on an index seen with our mark, so
 * an entry that someone else wrote or changed meanwhile is never overwritten or removed.
 *
 * <p>Writes go in transactions, which answer with each key's new index; with what listings and reads
 * found, that index is remembered ({@link KnownKeys}), so a write or a deletion of a key seen before
 * is one request without a read first, and a key never seen is created with index 0 (only if it does
 * not exist). Consul refuses a check-and-set on a key changed since (counted as cas_conflict); the key
 * is then read afresh and the write decided on what the read found, as without the hint.
 */
final class ConsulRegistry implements UpstreamRegistry {

  private final KeyValueClient kv;
  private final String prefix;
  private final Runnable closer;
  private final Duration timeout;
  final SinkMetrics.Counter refused;
  private final Owner owner;
  final KnownKeys known = new KnownKeys();
  private final ConsulDeletions deletions = new ConsulDeletions(this);
  /** Recursive reads of the prefix: streamed ({@link ConsulListing}) from the factory, through the client's {@code getValues} otherwise. */
  private final ConsulListing.Lister lister;
  private static final System.Logger LOG = System.getLogger(ConsulRegistry.class.getName());

  ConsulRegistry(KeyValueClient kv, String prefix, Duration timeout, Runnable closer, SinkMetrics metrics) {
    this(kv, prefix, timeout, closer, metrics, new Owner(null));
  }

  ConsulRegistry(KeyValueClient kv, String prefix, Duration timeout, Runnable closer, SinkMetrics metrics, Owner owner) {
    this(kv, prefix, timeout, closer, metrics, owner, null);
  }

  /** @param listing streams recursive reads of the prefix; null: read them through {@code kv} */
  ConsulRegistry(KeyValueClient kv, String prefix, Duration timeout, Runnable closer, SinkMetrics metrics, Owner owner,
                 java.util.function.Function<SinkMetrics.Counter, ConsulListing> listing) {
    this.kv = kv;
    this.owner = owner;
    this.timeout = timeout;
    this.prefix = prefix;
    this.closer = closer;
    this.refused = metrics.counter("consul_refused_total",
        "Calls Consul refused, retried, by reason: acl_denied (401/403: the token or its policy does not allow it),"
            + " cas_conflict (the key changed since it was read or last written: read again)", "reason");
    ConsulListing streaming = listing == null ? null : listing.apply(refused);
    this.lister = streaming != null ? streaming::each : (p, key) -> {
      for (Value v : values(p)) {
        key.seen(v.getKey(), v.getFlags(), v.getModifyIndex(), v.getValueAsString(StandardCharsets.UTF_8).orElse(""));
      }
    };
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

  long mine(String cluster) {
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

  String key(String upstream, String address) {
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
    Map<String, Map<String, KnownKeys.Known>> seen = new HashMap<>();
    // Key by key as Consul's answer is read; applied to the known keys only once the whole listing arrived.
    lister.each(prefix + "/", (key, flags, index, value) -> {
      // One split per key: the known keys and the listing share its upstream and address strings.
      String[] path = key.substring(prefix.length() + 1).split("/");
      KnownKeys.Known k = null;
      if (path.length == 2) {
        k = new KnownKeys.Known(index, flags, value);
        seen.computeIfAbsent(path[0], u -> new HashMap<>()).put(path[1], k);
      }
      String cluster = byFlags.get(flags);
      boolean defaultMark = cluster == null;
      if (defaultMark) {
        cluster = byDefaultFlags.get(flags);
      }
      if (cluster == null || k == null) {
        return;
      }
      out.computeIfAbsent(cluster, c -> new HashMap<>()).computeIfAbsent(path[0], u -> new HashMap<>())
          .put(path[1], new Listed(UpsyncEntry.parse(k.value()), index, defaultMark));
    });
    known.replaceAll(seen);
    primed = true;
    return out;
  }

  private volatile boolean primed;

  /**
   * Once, before the first write: what is under the prefix now (one read), so keys an earlier run
   * left are written at their index rather than refused as new and read. When that read fails,
   * writes go on without it (a refused check-and-set reads the key).
   */
  private void prime() {
    if (primed) {
      return;
    }
    synchronized (known) {
      if (primed) {
        return;
      }
      try {
        Map<String, Map<String, KnownKeys.Known>> seen = new HashMap<>();
        lister.each(prefix + "/", (key, flags, index, value) -> {
          String[] path = key.substring(prefix.length() + 1).split("/");
          if (path.length == 2) {
            seen.computeIfAbsent(path[0], u -> new HashMap<>()).put(path[1], new KnownKeys.Known(index, flags, value));
          }
        });
        known.replaceAll(seen);
        primed = true;
      } catch (SinkException e) {
        LOG.log(System.Logger.Level.DEBUG, "could not read {0} before writing; each key is read when needed: {1}", prefix,
            e.getMessage());
      }
    }
  }

  private static KnownKeys.Known seen(Value v) {
    return new KnownKeys.Known(v.getModifyIndex(), v.getFlags(), v.getValueAsString(StandardCharsets.UTF_8).orElse(""));
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

  /**
   * One request for a key seen before with our mark (a check-and-set at the index seen) or never
   * seen (created only if absent); a read first, as {@link #readAndPut}, for a key last seen as
   * someone else's or already holding this value, or when Consul refused the check-and-set.
   */
  @Override
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) throws SinkException {
    prime();
    Put p = new Put(cluster, upstream, address, entry, takeOver);
    Long index = blindIndex(p);
    if (index != null) {
      Operation[] ops = {casOp(p, index)};
      if (transaction(ops, List.of(p))) {
        return true;
      }
      refusedHint(p);
    }
    return readAndPut(p);
  }

  /**
   * The index to write {@code p} at without reading it first: 0 for a key never seen, the index
   * seen when that was with our mark (or the default mark this write may take over) and another
   * value; null when only a read can decide (someone else's key, or the value is there already).
   */
  private Long blindIndex(Put p) {
    KnownKeys.Known k = known.get(p.upstream(), p.address());
    if (k == null) {
      return 0L;
    }
    boolean ours = k.flags() == mine(p.cluster())
        || (p.takeOver() && others(p.cluster()) != null && k.flags() == others(p.cluster()));
    return ours && !k.value().equals(p.entry().toJson()) ? k.index() : null;
  }

  /**
   * Encodes a transaction of each kind this sink sends and decodes an answer of each kind, in the
   * client's own mapper; then runs the client's transaction call twice with read operations only
   * (an applied one and a refused one), which Consul serves as reads, outside Raft. A standby writes
   * nothing; its first transaction after a takeover finds the codecs built and the call's classes
   * (Retrofit's method, OkHttp's path with a body, the refusal's exception) loaded.
   */
  @Override
  public void warmUp() {
    String key = prefix + "/k8s-sync-warm-up/0.0.0.0:0";
    Operation[] ops = {
        Operation.builder(Verb.CHECK_AND_SET).key(key).value(UpsyncEntry.of(1, 2, 10, false, false).toJson())
            .flags(1L).index(BigInteger.ZERO).build(),
        Operation.builder(Verb.CHECK_INDEX).key(key).index(BigInteger.ONE).build(),
        Operation.builder(Verb.DELETE_CHECK_AND_SET).key(key).index(BigInteger.ONE).build()};
    String applied = "{\"Results\":[{\"KV\":{\"LockIndex\":0,\"Key\":\"" + key + "\",\"Flags\":1,\"Value\":null,"
        + "\"CreateIndex\":1,\"ModifyIndex\":1}}],\"Errors\":null}";
    String refusedAnswer = "{\"Results\":null,\"Errors\":[{\"OpIndex\":0,\"What\":\"current modify index 2 != 1\"}]}";
    try {
      Jackson.MAPPER.writeValueAsBytes(ops);
      Jackson.MAPPER.readValue(applied, TxResponse.class);
      Jackson.MAPPER.readValue(refusedAnswer, TxResponse.class);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    try {
      transaction(new Operation[] {Operation.builder(Verb.GET_TREE).key(prefix + "/k8s-sync-warm-up/").build()});
      transaction(new Operation[] {Operation.builder(Verb.CHECK_INDEX).key(key).index(BigInteger.ONE).build()});
    } catch (SinkException e) {
      throw new IllegalStateException("read-only transaction failed: " + e.getMessage(), e);
    }
  }

  private Operation casOp(Put p, long index) {
    return Operation.builder(Verb.CHECK_AND_SET).key(key(p.upstream(), p.address())).value(p.entry().toJson())
        .flags(mine(p.cluster())).index(BigInteger.valueOf(index)).build();
  }

  private void refusedHint(Put p) {
    known.forget(p.upstream(), p.address());
    refused.inc("cas_conflict");
    LOG.log(System.Logger.Level.DEBUG, "check-and-set of {0} at the index last seen refused: it changed meanwhile; reading it again",
        key(p.upstream(), p.address()));
  }

  /** A read of the key, then a check-and-set at the index read, unless it is someone else's or equal already. */
  private boolean readAndPut(Put p) throws SinkException {
    String key = key(p.upstream(), p.address());
    long flags = mine(p.cluster());
    try {
      Optional<Value> current = kv.getValue(key);
      current.ifPresent(v -> known.saw(p.upstream(), p.address(), seen(v)));
      boolean takingOver = p.takeOver() && current.isPresent() && others(p.cluster()) != null
          && current.get().getFlags() == others(p.cluster());
      if (current.isPresent() && current.get().getFlags() != flags && !takingOver) {
        return false;
      }
      long cas = current.map(Value::getModifyIndex).orElse(0L);
      if (!takingOver && current.isPresent() && current.get().getValueAsString(StandardCharsets.UTF_8).orElse("").equals(p.entry().toJson())) {
        return true;
      }
      if (!transaction(new Operation[] {casOp(p, cas)}, List.of(p))) {
        known.forget(p.upstream(), p.address());
        refused.inc("cas_conflict");
        throw SinkException.retriable("put " + key + " lost a check-and-set race; trying again", null);
      }
      return true;
    } catch (RuntimeException e) {
      throw failure("put " + key, e);
    }
  }

  /**
   * Transactions of up to 64 check-and-sets (Consul's limit) for the keys {@link #blindIndex} can
   * write without a read; each of the others, and each key of a transaction Consul refused (a key
   * changed since it was seen: nothing of it applied), alone after a fresh read.
   */
  @Override
  public List<PutResult> putBatch(List<Put> puts) {
    prime();
    PutResult[] out = new PutResult[puts.size()];
    List<Integer> blind = new java.util.ArrayList<>();
    List<Long> indexes = new java.util.ArrayList<>();
    List<Integer> read = new java.util.ArrayList<>();
    Set<String> keys = new java.util.HashSet<>();
    for (int i = 0; i < puts.size(); i++) {
      Put p = puts.get(i);
      Long index = keys.add(key(p.upstream(), p.address())) ? blindIndex(p) : null;
      if (index != null) {
        blind.add(i);
        indexes.add(index);
      } else {
        read.add(i);
      }
    }
    for (int from = 0; from < blind.size(); from += 64) {
      int to = Math.min(blind.size(), from + 64);
      Operation[] ops = new Operation[to - from];
      List<Put> chunk = new java.util.ArrayList<>();
      for (int j = from; j < to; j++) {
        Put p = puts.get(blind.get(j));
        ops[j - from] = casOp(p, indexes.get(j));
        chunk.add(p);
      }
      try {
        if (transaction(ops, chunk)) {
          for (int j = from; j < to; j++) {
            out[blind.get(j)] = new PutResult(puts.get(blind.get(j)), true, null);
          }
        } else {
          // One refusal for the whole transaction: Consul applied none of it, each key is read now.
          refused.inc("cas_conflict");
          LOG.log(System.Logger.Level.DEBUG, "a transaction of {0} writes at the indexes last seen was refused: a key changed"
              + " meanwhile; reading each", to - from);
          for (int j = from; j < to; j++) {
            Put p = puts.get(blind.get(j));
            known.forget(p.upstream(), p.address());
            read.add(blind.get(j));
          }
        }
      } catch (SinkException e) {
        for (int j = from; j < to; j++) {
          out[blind.get(j)] = new PutResult(puts.get(blind.get(j)), false, e);
        }
      }
    }
    for (int i : read) {
      Put p = puts.get(i);
      try {
        out[i] = new PutResult(p, readAndPut(p), null);
      } catch (SinkException e) {
        out[i] = new PutResult(p, false, e);
      }
    }
    return List.of(out);
  }

  @Override
  public boolean deletesWithPuts() {
    return true;
  }

  @Override
  public boolean groupsWrites() {
    return true;
  }

  /**
   * When every put can go without a read ({@link #blindIndex}), one transaction of the deletions of
   * {@code riding} that fit ({@link ConsulDeletions#riding}: a check of a server that stays, then
   * delete-cas at the index last seen) followed by the puts' check-and-sets. Consul applies all of it
   * or nothing: when it refuses, the puts are written as {@link #putBatch(List)} writes them (their own
   * transaction, then each alone after a read if that is refused too) and nothing is deleted.
   */
  @Override
  public PutsAndDeletions putBatch(List<Put> puts, List<Removal> riding) {
    prime();
    List<Operation> ops = new java.util.ArrayList<>();
    List<Removal> carried = new java.util.ArrayList<>();
    Set<String> keys = new java.util.HashSet<>();
    List<Operation> writes = new java.util.ArrayList<>();
    for (Put p : puts) {
      Long index = keys.add(key(p.upstream(), p.address())) ? blindIndex(p) : null;
      if (index == null) {
        return new PutsAndDeletions(putBatch(puts), List.of());
      }
      writes.add(casOp(p, index));
    }
    if (!riding.isEmpty() && writes.size() < ConsulDeletions.MAX_OPS - 1) {
      ops.addAll(deletions.riding(riding, ConsulDeletions.MAX_OPS - writes.size(), carried));
    }
    if (carried.isEmpty()) {
      return new PutsAndDeletions(putBatch(puts), List.of());
    }
    ops.addAll(writes); // after the deletions' checks: a check of a key written here sees the index it had
    try {
      if (transaction(ops.toArray(Operation[]::new), puts)) {
        carried.forEach(r -> known.forget(r.upstream(), r.address()));
        return new PutsAndDeletions(puts.stream().map(p -> new PutResult(p, true, null)).toList(), List.copyOf(carried));
      }
    } catch (SinkException e) {
      return new PutsAndDeletions(puts.stream().map(p -> new PutResult(p, false, e)).toList(), List.of());
    }
    refused.inc("cas_conflict");
    LOG.log(System.Logger.Level.DEBUG, "a transaction of {0} writes carrying {1} deletions was refused: a key changed meanwhile;"
        + " the writes go alone, the deletions to their pass", puts.size(), carried.size());
    return new PutsAndDeletions(putBatch(puts), List.of());
  }

  /**
   * One transaction per chunk of 64 (Consul's limit): each key is a check-and-set on the index its
   * Write carries from the pass's listing, index 0 for a key that must not exist yet, so nothing is
   * read again. A foreign key, or one changed since the listing, fails its transaction; that chunk
   * goes again without the keys this registry wrote meanwhile, if any, and is otherwise written one
   * key at a time, each after a fresh read (which refuses foreign keys).
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> foreign = new java.util.ArrayList<>();
    List<Write> known = new java.util.ArrayList<>();
    for (Write w : writes) {
      if (writtenSinceListed(w)) {
        continue;
      }
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
      if (writeAtListed(chunk)) {
        continue;
      }
      refused.inc("cas_conflict");
      // The apply path may have written some of them while this transaction was on its way: the
      // rest are still at their listed index, and go again together.
      List<Write> rest = chunk.stream().filter(w -> !writtenSinceListed(w)).toList();
      if (rest.size() < chunk.size() && (rest.isEmpty() || writeAtListed(rest))) {
        continue;
      }
      for (Write w : rest) {
        if (!readAndPut(new Put(w.cluster(), w.upstream(), w.address(), w.entry(), true))) {
          foreign.add(w);
        }
      }
    }
    return foreign;
  }

  /** One transaction of check-and-sets at the listed indexes; false when Consul refused it (nothing applied then). */
  private boolean writeAtListed(List<Write> chunk) throws SinkException {
    Operation[] ops = new Operation[chunk.size()];
    for (int i = 0; i < ops.length; i++) {
      Write w = chunk.get(i);
      ops[i] = Operation.builder(Verb.CHECK_AND_SET)
          // At the listed index: still the mark listed (ours, or the default one this write takes over).
          .key(key(w.upstream(), w.address())).value(w.entry().toJson()).flags(mine(w.cluster()))
          .index(BigInteger.valueOf(w.version() == Write.ABSENT ? 0 : w.version())).build();
    }
    return transaction(ops, chunk.stream().map(w -> new Put(w.cluster(), w.upstream(), w.address(), w.entry(), true)).toList());
  }

  /**
   * True when this registry has written the key since the pass listed it (at a later index), with our
   * mark and the value the pass wants: the repair is done already. A pass lists while the sink still
   * applies the changes it is repairing (at every start, the initial list): at the listed index its
   * check-and-set would fail the whole transaction and send every key of it to a read of its own. A
   * change by anyone after our write is after the listing too, and is the next pass's to find.
   */
  private boolean writtenSinceListed(Write w) {
    if (w.version() == Write.UNKNOWN) {
      return false;
    }
    KnownKeys.Known k = known.get(w.upstream(), w.address());
    return k != null && k.index() > Math.max(0, w.version()) && k.flags() == mine(w.cluster())
        && k.value().equals(w.entry().toJson());
  }

  /** True when every operation applied; false when a check failed (nothing applied then). */
  boolean transaction(Operation[] ops) throws SinkException {
    return transaction(ops, List.of());
  }

  /**
   * As {@link #transaction(Operation[])}; once it applied, each key {@code written} is remembered at
   * the index the transaction gave it, with the value and mark written.
   */
  private boolean transaction(Operation[] ops, List<Put> written) throws SinkException {
    try {
      var response = kv.performTransaction(ops).getResponse();
      if (response.errors() != null && !response.errors().isEmpty()) {
        return false;
      }
      if (!written.isEmpty()) {
        Map<String, Long> indexes = new HashMap<>();
        if (response.results() != null) {
          for (Map<String, Value> r : response.results()) {
            Value v = r.get("KV");
            if (v != null) {
              indexes.put(v.getKey(), v.getModifyIndex());
            }
          }
        }
        for (Put p : written) {
          Long index = indexes.get(key(p.upstream(), p.address()));
          if (index == null) {
            known.forget(p.upstream(), p.address());
          } else {
            known.saw(p.upstream(), p.address(), new KnownKeys.Known(index, mine(p.cluster()), p.entry().toJson()));
          }
        }
      }
      return true;
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
    KnownKeys.Known self = known.get(upstream, address);
    Map.Entry<String, KnownKeys.Known> next = known.otherServer(upstream, address);
    if (self != null && self.flags() == mine(cluster) && next != null) {
      // One request without a read: our key at the index we last saw (still ours, unchanged), and
      // another server at its index (still there, so the upstream keeps a server). Either changed: read.
      Operation[] ops = {
          Operation.builder(Verb.CHECK_INDEX).key(key(upstream, next.getKey())).index(BigInteger.valueOf(next.getValue().index())).build(),
          Operation.builder(Verb.DELETE_CHECK_AND_SET).key(key).index(BigInteger.valueOf(self.index())).build()};
      if (transaction(ops)) {
        known.forget(upstream, address);
        return Deletion.DELETED;
      }
      refused.inc("cas_conflict");
      LOG.log(System.Logger.Level.DEBUG, "deletion of {0} at the indexes last seen refused: the upstream changed meanwhile; reading it",
          key);
    }
    return deleteAfterRead(cluster, upstream, address);
  }

  /** In transactions of up to 64 operations: see {@link ConsulDeletions}. */
  @Override
  public List<RemovalResult> deleteAllUnlessLast(List<Removal> removals) {
    return deletions.deleteAll(removals);
  }

  /** As {@link #deleteUnlessLast}, on a read of the whole upstream. */
  private Deletion deleteAfterRead(String cluster, String upstream, String address) throws SinkException {
    String key = key(upstream, address);
    Map<String, KnownKeys.Known> seen = new HashMap<>();
    Value mine = null;
    Value other = null;
    for (Value v : values(prefix + "/" + upstream + "/")) {
      String rest = v.getKey().substring(prefix.length() + upstream.length() + 2);
      if (!rest.contains("/")) {
        seen.put(rest, seen(v));
      }
      if (v.getKey().equals(key)) {
        mine = v;
      } else if (other == null && UpstreamRegistry.isServer(rest)) {
        other = v; // a folder key or any other name is no server to upsync: it does not keep the upstream from being empty
      }
    }
    known.replaceUpstream(upstream, seen);
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
      known.forget(upstream, address);
      throw SinkException.retriable("delete " + key + ": the upstream changed while it was read; trying again", null);
    }
    known.forget(upstream, address);
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
      known.forget(upstream, address);
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

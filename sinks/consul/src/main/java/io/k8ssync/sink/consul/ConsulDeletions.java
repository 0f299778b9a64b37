package io.k8ssync.sink.consul;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import io.k8ssync.sink.upstream.UpstreamRegistry.Deletion;
import io.k8ssync.sink.upstream.UpstreamRegistry.Removal;
import io.k8ssync.sink.upstream.UpstreamRegistry.RemovalResult;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.kiwiproject.consul.model.kv.Operation;
import org.kiwiproject.consul.model.kv.Verb;

/**
 * Many deletions of drained servers in few transactions ({@link ConsulRegistry#deleteAllUnlessLast}).
 * The servers of one upstream that the registry knows as ours, at the index it last saw, go in one
 * transaction of up to 64 operations: a check-index of a server of that upstream that stays (not
 * one being deleted, and one that is not down when there is such a server), then a delete-cas of
 * each at its index. Consul applies all of it or nothing, so the upstream keeps at least the server
 * checked, whoever else deletes meanwhile, and nothing is deleted that changed since it was seen.
 * Several upstreams' groups share a transaction while it has room.
 *
 * <p>When every server known in an upstream is due, one of them is kept: the others are deleted
 * checking it, and it goes the per-key way ({@link ConsulRegistry#deleteUnlessLast}), which reads the
 * upstream and finds it the last server (or deletes it beside a server it did not know). A key not
 * known as ours, and every key of a transaction Consul refused (a key changed since it was seen:
 * nothing of it applied, counted as cas_conflict), goes the per-key way too.
 */
final class ConsulDeletions {

  private static final System.Logger LOG = System.getLogger(ConsulDeletions.class.getName());
  /** Consul's limit of operations in one transaction. */
  static final int MAX_OPS = 64;

  private final ConsulRegistry registry;

  ConsulDeletions(ConsulRegistry registry) {
    this.registry = registry;
  }

  /** Deletions of one upstream's servers checking that {@code checkKey} is still at {@code checkIndex}. */
  private record Group(String checkKey, long checkIndex, List<Integer> removals) {}

  List<RemovalResult> deleteAll(List<Removal> removals) {
    RemovalResult[] out = new RemovalResult[removals.size()];
    long[] seenAt = new long[removals.size()]; // the index each key of ours was last seen at
    List<Integer> alone = new ArrayList<>();
    Map<String, List<Integer>> blind = new LinkedHashMap<>();
    Set<String> keys = new HashSet<>();
    Set<String> removed = new HashSet<>();
    for (int i = 0; i < removals.size(); i++) {
      Removal r = removals.get(i);
      String key = registry.key(r.upstream(), r.address());
      removed.add(key);
      KnownKeys.Known self = registry.known.get(r.upstream(), r.address());
      if (keys.add(key) && self != null && self.flags() == registry.mine(r.cluster())) {
        blind.computeIfAbsent(r.upstream(), u -> new ArrayList<>()).add(i);
        seenAt[i] = self.index();
      } else {
        alone.add(i);
      }
    }
    List<Group> groups = new ArrayList<>();
    for (Map.Entry<String, List<Integer>> e : blind.entrySet()) {
      String upstream = e.getKey();
      List<Integer> deleting = e.getValue();
      Map<String, KnownKeys.Known> servers = registry.known.servers(upstream);
      Map.Entry<String, KnownKeys.Known> check = staying(upstream, servers, removed);
      if (check == null) {
        // Every server known here is being deleted: one stays, and its own deletion reads the upstream.
        int kept = deleting.remove(deleting.size() - 1);
        alone.add(kept);
        if (deleting.isEmpty()) {
          continue;
        }
        check = Map.entry(removals.get(kept).address(), new KnownKeys.Known(seenAt[kept], 0, ""));
      }
      for (int from = 0; from < deleting.size(); from += MAX_OPS - 1) {
        groups.add(new Group(registry.key(upstream, check.getKey()), check.getValue().index(),
            deleting.subList(from, Math.min(deleting.size(), from + MAX_OPS - 1))));
      }
    }
    List<Group> txn = new ArrayList<>();
    int ops = 0;
    for (Group g : groups) {
      if (ops + 1 + g.removals().size() > MAX_OPS) {
        send(txn, removals, seenAt, out, alone);
        txn.clear();
        ops = 0;
      }
      txn.add(g);
      ops += 1 + g.removals().size();
    }
    if (!txn.isEmpty()) {
      send(txn, removals, seenAt, out, alone);
    }
    for (int i : alone) {
      out[i] = registry.deleteOneUnlessLast(removals.get(i));
    }
    return List.of(out);
  }

  /**
   * The operations that delete, riding on a write's transaction (they go first in it), those of
   * {@code riding} that need no read: our key at the index last seen, in an upstream with a server
   * known to stay (none of {@code riding}), checked at its index. At most {@code room} operations;
   * the removals they delete are added to {@code carried}, the others are left out.
   */
  List<Operation> riding(List<Removal> riding, int room, List<Removal> carried) {
    Set<String> removed = new HashSet<>();
    Map<String, List<Removal>> byUpstream = new LinkedHashMap<>();
    Map<Removal, Long> seenAt = new HashMap<>(); // read once: a listing may replace the known keys meanwhile
    for (Removal r : riding) {
      if (!removed.add(registry.key(r.upstream(), r.address()))) {
        continue;
      }
      KnownKeys.Known self = registry.known.get(r.upstream(), r.address());
      if (self != null && self.flags() == registry.mine(r.cluster())) {
        byUpstream.computeIfAbsent(r.upstream(), u -> new ArrayList<>()).add(r);
        seenAt.put(r, self.index());
      }
    }
    List<Operation> ops = new ArrayList<>();
    for (Map.Entry<String, List<Removal>> e : byUpstream.entrySet()) {
      String upstream = e.getKey();
      Map.Entry<String, KnownKeys.Known> check = staying(upstream, registry.known.servers(upstream), removed);
      int fits = Math.min(e.getValue().size(), room - ops.size() - 1);
      if (check == null || fits <= 0) {
        continue; // left to the deletion pass, which reads when it must
      }
      ops.add(Operation.builder(Verb.CHECK_INDEX).key(registry.key(upstream, check.getKey()))
          .index(BigInteger.valueOf(check.getValue().index())).build());
      for (Removal r : e.getValue().subList(0, fits)) {
        ops.add(Operation.builder(Verb.DELETE_CHECK_AND_SET).key(registry.key(r.upstream(), r.address()))
            .index(BigInteger.valueOf(seenAt.get(r))).build());
        carried.add(r);
      }
    }
    return ops;
  }

  /**
   * A server of the upstream, as last seen, that no removal of this call deletes, preferring one that
   * is not down; null when there is none.
   */
  private Map.Entry<String, KnownKeys.Known> staying(String upstream, Map<String, KnownKeys.Known> servers, Set<String> removed) {
    Map.Entry<String, KnownKeys.Known> down = null;
    for (Map.Entry<String, KnownKeys.Known> s : servers.entrySet()) {
      if (!UpstreamRegistry.isServer(s.getKey()) || removed.contains(registry.key(upstream, s.getKey()))) {
        continue;
      }
      if (!UpsyncEntry.parse(s.getValue().value()).down()) {
        return s;
      }
      if (down == null) {
        down = s;
      }
    }
    return down;
  }

  /** One transaction of {@code groups}; its removals are answered in {@code out}, or go {@code alone} when Consul refused it. */
  private void send(List<Group> groups, List<Removal> removals, long[] seenAt, RemovalResult[] out, List<Integer> alone) {
    List<Operation> ops = new ArrayList<>();
    List<Integer> deleting = new ArrayList<>();
    for (Group g : groups) {
      ops.add(Operation.builder(Verb.CHECK_INDEX).key(g.checkKey()).index(BigInteger.valueOf(g.checkIndex())).build());
      for (int i : g.removals()) {
        Removal r = removals.get(i);
        ops.add(Operation.builder(Verb.DELETE_CHECK_AND_SET).key(registry.key(r.upstream(), r.address()))
            .index(BigInteger.valueOf(seenAt[i])).build());
        deleting.add(i);
      }
    }
    try {
      if (registry.transaction(ops.toArray(Operation[]::new))) {
        for (int i : deleting) {
          Removal r = removals.get(i);
          registry.known.forget(r.upstream(), r.address());
          out[i] = new RemovalResult(r, Deletion.DELETED, null);
        }
        return;
      }
      registry.refused.inc("cas_conflict");
      LOG.log(System.Logger.Level.DEBUG, "a transaction of {0} deletions at the indexes last seen was refused: the upstream changed"
          + " meanwhile; deleting each alone", deleting.size());
      alone.addAll(deleting);
    } catch (SinkException e) {
      for (int i : deleting) {
        out[i] = new RemovalResult(removals.get(i), null, e);
      }
    }
  }
}

package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import io.k8ssync.sink.upstream.UpstreamRegistry.Deletion;
import io.k8ssync.sink.upstream.UpstreamRegistry.Removal;
import io.k8ssync.sink.upstream.UpstreamRegistry.RemovalResult;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;

/**
 * Many deletions of drained servers in one ZooKeeper {@code multi} ({@link ZooKeeperRegistry#deleteAllUnlessLast}).
 * The nodes of one upstream whose versions the registry knows from its own last write go together:
 * a check that a server of that upstream that stays (not one being deleted) still exists, then for
 * each our node at its known version and its marker. ZooKeeper applies all of it or nothing, so
 * the upstream keeps at least the server checked, whoever else deletes meanwhile, and nothing is
 * deleted that changed since our write. Several upstreams share a multi while it has room.
 *
 * <p>When every server known in an upstream is due, one is kept: the others are deleted checking
 * it, and it goes the per-key way ({@link ZooKeeperRegistry#deleteUnlessLast}), which reads the
 * upstream and finds it the last server (or deletes it beside a server it did not know). A node
 * whose version is not known, and every node of a multi ZooKeeper refused (what it assumed proved
 * stale and is forgotten: counted as bad_version), goes the per-key way too.
 */
final class ZooKeeperDeletions {

  private static final System.Logger LOG = System.getLogger(ZooKeeperDeletions.class.getName());
  /** Deletions per multi (each two operations): as many as writes per multi, well under jute.maxbuffer. */
  static final int MAX_DELETIONS = ZooKeeperRegistry.WRITE_BATCH / 2;

  private final ZooKeeperRegistry registry;

  ZooKeeperDeletions(ZooKeeperRegistry registry) {
    this.registry = registry;
  }

  /** Deletions of one upstream's nodes, checking that {@code check} (an address) is still there. */
  private record Group(String upstream, String check, List<Integer> removals) {}

  List<RemovalResult> deleteAll(List<Removal> removals) {
    RemovalResult[] out = new RemovalResult[removals.size()];
    int[] versions = new int[removals.size()];
    List<Integer> alone = new ArrayList<>();
    Map<String, List<Integer>> blind = new LinkedHashMap<>();
    Map<String, Set<String>> leaving = new LinkedHashMap<>();
    Set<String> nodes = new HashSet<>();
    for (int i = 0; i < removals.size(); i++) {
      Removal r = removals.get(i);
      String node = registry.node(r.upstream(), r.address());
      leaving.computeIfAbsent(r.upstream(), u -> new HashSet<>()).add(r.address());
      Integer version = registry.known.version(node);
      if (nodes.add(node) && version != null && version >= 0) {
        blind.computeIfAbsent(r.upstream(), u -> new ArrayList<>()).add(i);
        versions[i] = version;
      } else {
        alone.add(i);
      }
    }
    List<Group> groups = new ArrayList<>();
    for (Map.Entry<String, List<Integer>> e : blind.entrySet()) {
      String upstream = e.getKey();
      List<Integer> deleting = e.getValue();
      String check = registry.known.anotherThan(registry.folder(upstream), leaving.get(upstream));
      if (check == null) {
        // Every server known here is being deleted: one stays, and its own deletion reads the upstream.
        int kept = deleting.remove(deleting.size() - 1);
        alone.add(kept);
        check = removals.get(kept).address();
      }
      for (int from = 0; from < deleting.size(); from += MAX_DELETIONS) {
        groups.add(new Group(upstream, check, deleting.subList(from, Math.min(deleting.size(), from + MAX_DELETIONS))));
      }
    }
    List<Group> multi = new ArrayList<>();
    int size = 0;
    for (Group g : groups) {
      if (size + g.removals().size() > MAX_DELETIONS) {
        send(multi, removals, versions, out, alone);
        multi.clear();
        size = 0;
      }
      multi.add(g);
      size += g.removals().size();
    }
    if (!multi.isEmpty()) {
      send(multi, removals, versions, out, alone);
    }
    for (int i : alone) {
      out[i] = registry.deleteOneUnlessLast(removals.get(i));
    }
    return List.of(out);
  }

  /** One multi of {@code groups}; its removals are answered in {@code out}, or go {@code alone} when ZooKeeper refused it. */
  private void send(List<Group> groups, List<Removal> removals, int[] versions, RemovalResult[] out, List<Integer> alone) {
    var client = registry.client();
    List<CuratorOp> ops = new ArrayList<>();
    // What each operation is about, to forget what proved stale: a check's upstream and address, or a removal's index.
    List<Object> about = new ArrayList<>();
    List<Integer> deleting = new ArrayList<>();
    groups.forEach(g -> deleting.addAll(g.removals()));
    try {
      for (Group g : groups) {
        ops.add(client.transactionOp().check().forPath(registry.node(g.upstream(), g.check())));
        about.add(g);
        for (int i : g.removals()) {
          Removal r = removals.get(i);
          ops.add(client.transactionOp().delete().withVersion(versions[i]).forPath(registry.node(r.upstream(), r.address())));
          ops.add(client.transactionOp().delete().forPath(registry.marker(r.cluster(), r.upstream(), r.address())));
          about.add(i);
          about.add(i);
        }
      }
      client.transaction().forOperations(ops);
      for (int i : deleting) {
        Removal r = removals.get(i);
        registry.known.deleted(registry.folder(r.upstream()), r.address());
        out[i] = new RemovalResult(r, Deletion.DELETED, null);
      }
    } catch (KeeperException e) {
      int failed = ZooKeeperRegistry.failedOp(e);
      if (failed >= 0 && about.get(failed) instanceof Group g) {
        registry.known.gone(registry.folder(g.upstream()), g.check()); // that server went: its upstream is read
      } else if (failed >= 0 && about.get(failed) instanceof Integer i) {
        registry.known.forget(registry.folder(removals.get(i).upstream()), removals.get(i).address());
      }
      if (!(e instanceof KeeperException.NoAuthException)) { // an ACL refusal is counted by the per-key way, which meets it again
        registry.refused.inc("bad_version");
      }
      LOG.log(System.Logger.Level.DEBUG, "a multi of {0} deletions on what this registry knew was refused ({1}): deleting each alone",
          deleting.size(), e.code());
      alone.addAll(deleting);
    } catch (Exception e) {
      SinkException f = registry.failure("delete " + deleting.size() + " drained servers", e);
      for (int i : deleting) {
        out[i] = new RemovalResult(removals.get(i), null, f);
      }
    }
  }
}

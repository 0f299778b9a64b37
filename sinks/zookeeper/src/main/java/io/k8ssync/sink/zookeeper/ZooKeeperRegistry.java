package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.upstream.Owner;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.data.Stat;

/**
 * Upstreams as persistent znodes. Ownership lives beside the data, not in it: every server node
 * this daemon creates has a marker {@code <ownerRoot>/<cluster>/<upstream>/<address>} (the cluster's
 * default owner, and every version before owner ids) or {@code <ownerRoot>/<cluster>@<ownerId>/<upstream>/<address>}
 * created in the same transaction, so the JSON nginx reads stays exactly upsync's, and a node without a marker is
 * someone else's and is never touched. Persistent nodes survive a daemon restart or session loss.
 * Every change of an existing node carries the version read just before (like Consul's
 * check-and-set), so an entry someone else changed meanwhile is never overwritten or removed.
 */
final class ZooKeeperRegistry implements UpstreamRegistry {

  private final CuratorFramework client;
  private final String root;
  private final String ownerRoot;
  private final SinkMetrics.Counter refused;
  private final Owner owner;

  /** @param client built by {@link ZooKeeperSinkFactory#clientBuilder}, not yet started */
  ZooKeeperRegistry(CuratorFramework client, String root, String ownerRoot, SinkMetrics metrics) {
    this(client, root, ownerRoot, metrics, new Owner(null));
  }

  ZooKeeperRegistry(CuratorFramework client, String root, String ownerRoot, SinkMetrics metrics, Owner owner) {
    this.client = client;
    this.owner = owner;
    this.root = root;
    this.ownerRoot = ownerRoot;
    this.refused = metrics.counter("zookeeper_refused_total",
        "Operations ZooKeeper refused, retried or left to reconcile, by reason: no_auth (an ACL refuses this daemon's identity),"
            + " bad_version (the node changed since it was read)", "reason");
  }

  @Override
  public void start() {
    client.start();
  }

  CuratorFramework client() {
    return client;
  }

  private String node(String upstream, String address) {
    return root + "/" + upstream + "/" + address;
  }

  /** The folder of this sink's markers of {@code cluster}; no cluster name holds an '@', so it is never another's default folder. */
  private String markerDir(String cluster) {
    return owner.isDefault(cluster) ? cluster : cluster + "@" + owner.of(cluster);
  }

  private String marker(String cluster, String upstream, String address) {
    return ownerRoot + "/" + markerDir(cluster) + "/" + upstream + "/" + address;
  }

  /** The cluster's default marker when it is someone else's (this sink has its own id), else null. */
  private String defaultMarker(String cluster, String upstream, String address) {
    return owner.isDefault(cluster) ? null : ownerRoot + "/" + cluster + "/" + upstream + "/" + address;
  }

  /**
   * The owned entries in a few round trips, never one per entry: the ownership markers of each
   * cluster (one read, then one multi-read of every upstream's markers), then the nodes' data and
   * versions in multi-reads of up to {@value #READ_BATCH}. With its own owner id, the entries with
   * the cluster's default markers too, flagged as such.
   */
  @Override
  public Map<String, Map<String, Map<String, Listed>>> list(java.util.Set<String> clusters) throws SinkException {
    Map<String, Map<String, Map<String, Listed>>> out = new HashMap<>();
    try {
      // {cluster, marker folder, upstream, "default" or ""}: default folders first, so our own marker wins for a node with both.
      List<String[]> markerDirs = new java.util.ArrayList<>();
      java.util.Set<String> folders = new java.util.HashSet<>(children(ownerRoot));
      for (String cluster : clusters) {
        if (!owner.isDefault(cluster) && folders.contains(cluster)) {
          for (String upstream : children(ownerRoot + "/" + cluster)) {
            markerDirs.add(new String[] {cluster, cluster, upstream, "default"});
          }
        }
      }
      for (String cluster : clusters) {
        if (folders.contains(markerDir(cluster))) { // other folders: another cluster's, or another owner's
          for (String upstream : children(ownerRoot + "/" + markerDir(cluster))) {
            markerDirs.add(new String[] {cluster, markerDir(cluster), upstream, ""});
          }
        }
      }
      List<String[]> owned = new java.util.ArrayList<>(); // {cluster, upstream, address, "default" or ""}
      List<OpResult> dirs = multiRead(markerDirs.stream().map(d -> Op.getChildren(ownerRoot + "/" + d[1] + "/" + d[2])).toList());
      for (int i = 0; i < dirs.size(); i++) {
        if (dirs.get(i) instanceof OpResult.GetChildrenResult r) {
          String[] d = markerDirs.get(i);
          for (String address : r.getChildren()) {
            owned.add(new String[] {d[0], d[2], address, d[3]});
          }
        }
      }
      List<OpResult> nodes = multiRead(owned.stream().map(o -> Op.getData(node(o[1], o[2]))).toList());
      for (int i = 0; i < nodes.size(); i++) {
        if (nodes.get(i) instanceof OpResult.GetDataResult r) {
          String[] o = owned.get(i);
          out.computeIfAbsent(o[0], c -> new HashMap<>()).computeIfAbsent(o[1], u -> new HashMap<>())
              .put(o[2], new Listed(UpsyncEntry.parse(new String(r.getData(), StandardCharsets.UTF_8)), r.getStat().getVersion(),
                  !o[3].isEmpty()));
        }
        // else a marker whose node someone removed: nothing of ours is there
      }
      return out;
    } catch (Exception e) {
      throw failure("list " + ownerRoot, e);
    }
  }

  private static final int READ_BATCH = 500;

  /** Read operations in batches of {@value #READ_BATCH} per round trip; a missing node is an error result, not a failure. */
  private List<OpResult> multiRead(List<Op> reads) throws Exception {
    List<OpResult> results = new java.util.ArrayList<>(reads.size());
    for (int from = 0; from < reads.size(); from += READ_BATCH) {
      results.addAll(client.getZookeeperClient().getZooKeeper().multi(reads.subList(from, Math.min(reads.size(), from + READ_BATCH))));
    }
    return results;
  }

  private List<String> children(String path) throws Exception {
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  /** One exists check of the node nginx-upsync reads, whoever created it. */
  @Override
  public boolean present(String cluster, String upstream, String address) throws SinkException {
    String node = node(upstream, address);
    try {
      return client.checkExists().forPath(node) != null;
    } catch (Exception e) {
      throw failure("read " + node, e);
    }
  }

  @Override
  public int countServers(String upstream) throws SinkException {
    try {
      return (int) children(root + "/" + upstream).stream().filter(UpstreamRegistry::isServer).count();
    } catch (Exception e) {
      throw failure("count " + root + "/" + upstream, e);
    }
  }

  @Override
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) throws SinkException {
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    String defaultMarker = defaultMarker(cluster, upstream, address);
    byte[] json = entry.toJson().getBytes(StandardCharsets.UTF_8);
    try {
      Stat stat = client.checkExists().forPath(node);
      boolean owned = client.checkExists().forPath(marker) != null;
      boolean defaultMarked = !owned && defaultMarker != null && client.checkExists().forPath(defaultMarker) != null;
      if (stat != null && !owned && !(takeOver && defaultMarked)) {
        return false;
      }
      if (stat != null && !owned) {
        // Taken over in place: the default marker goes and ours comes, at the version just read, in one step.
        mkdirs(ownerRoot + "/" + markerDir(cluster) + "/" + upstream);
        client.transaction().forOperations(
            client.transactionOp().delete().forPath(defaultMarker),
            client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker),
            client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
        return true;
      }
      if (stat != null) {
        // Still ours and still the version just read, in one step.
        client.transaction().forOperations(
            client.transactionOp().check().forPath(marker),
            client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
        return true;
      }
      mkdirs(root + "/" + upstream);
      mkdirs(ownerRoot + "/" + markerDir(cluster) + "/" + upstream);
      if (owned) {
        client.create().withMode(CreateMode.PERSISTENT).forPath(node, json);
      } else if (defaultMarked) {
        // A default marker left without its node would make the new node the default owner's too.
        client.transaction().forOperations(
            client.transactionOp().delete().forPath(defaultMarker),
            client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json),
            client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
      } else {
        client.transaction().forOperations(
            client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json),
            client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
      }
      return true;
    } catch (KeeperException.NodeExistsException e) {
      throw SinkException.retriable("put " + node + " raced with another writer", e);
    } catch (Exception e) {
      throw failure("put " + node, e);
    }
  }

  /**
   * One ZooKeeper transaction for the batch, with the versions the pass's listing found, so nothing
   * is read again: for an entry we own, a check of our marker and a setData at the listed version;
   * for one we do not, a create of the node with its marker, which fails if anyone's node exists
   * there. If the transaction fails (a node changed or appeared meanwhile, or is someone else's),
   * the batch is written one entry at a time after a fresh read, which refuses foreign nodes. An
   * entry listed with the cluster's default marker is taken over: that marker deleted, ours
   * created, the data set at the listed version.
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> foreign = new java.util.ArrayList<>();
    try {
      List<org.apache.curator.framework.api.transaction.CuratorOp> ops = new java.util.ArrayList<>();
      List<Write> inTxn = new java.util.ArrayList<>();
      java.util.Set<String> made = new java.util.HashSet<>();
      for (Write w : writes) {
        if (w.version() == Write.UNKNOWN) {
          if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
            foreign.add(w);
          }
          continue;
        }
        String node = node(w.upstream(), w.address());
        String marker = marker(w.cluster(), w.upstream(), w.address());
        byte[] json = w.entry().toJson().getBytes(StandardCharsets.UTF_8);
        inTxn.add(w);
        if (w.version() >= 0 && w.defaultMark() && defaultMarker(w.cluster(), w.upstream(), w.address()) != null) {
          if (made.add(w.cluster() + "/" + w.upstream())) {
            mkdirs(root + "/" + w.upstream());
            mkdirs(ownerRoot + "/" + markerDir(w.cluster()) + "/" + w.upstream());
          }
          ops.add(client.transactionOp().delete().forPath(defaultMarker(w.cluster(), w.upstream(), w.address())));
          ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
          ops.add(client.transactionOp().setData().withVersion((int) w.version()).forPath(node, json));
          continue;
        }
        if (w.version() >= 0) {
          ops.add(client.transactionOp().check().forPath(marker));
          ops.add(client.transactionOp().setData().withVersion((int) w.version()).forPath(node, json));
          continue;
        }
        if (made.add(w.cluster() + "/" + w.upstream())) {
          mkdirs(root + "/" + w.upstream());
          mkdirs(ownerRoot + "/" + markerDir(w.cluster()) + "/" + w.upstream());
        }
        ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json));
        ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
      }
      if (!ops.isEmpty()) {
        try {
          client.transaction().forOperations(ops);
        } catch (KeeperException e) {
          if (e instanceof KeeperException.NoAuthException) {
            throw e;
          }
          refused.inc("bad_version");
          for (Write w : inTxn) {
            if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
              foreign.add(w);
            }
          }
        }
      }
      return foreign;
    } catch (SinkException e) {
      throw e;
    } catch (Exception e) {
      throw failure("put " + writes.size() + " entries under " + root, e);
    }
  }

  /**
   * Deletes our node and its marker in one transaction that also checks another server of the
   * upstream is still there at the version just read, so two writers deleting the last two servers
   * at once can never empty the upstream: one transaction fails, and its retry finds the last one.
   */
  @Override
  public Deletion deleteUnlessLast(String cluster, String upstream, String address) throws SinkException {
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    try {
      List<String> servers = children(root + "/" + upstream);
      if (!servers.contains(address) || client.checkExists().forPath(marker) == null) {
        return Deletion.MISSED;
      }
      String other = null;
      Stat otherStat = null;
      for (String s : servers) {
        if (!s.equals(address) && UpstreamRegistry.isServer(s)) {
          otherStat = client.checkExists().forPath(root + "/" + upstream + "/" + s);
          if (otherStat != null) {
            other = s;
            break;
          }
        }
      }
      if (other == null) {
        return Deletion.LAST_SERVER;
      }
      Stat mine = client.checkExists().forPath(node);
      if (mine == null) {
        return Deletion.MISSED;
      }
      client.transaction().forOperations(
          client.transactionOp().check().withVersion(otherStat.getVersion()).forPath(root + "/" + upstream + "/" + other),
          client.transactionOp().delete().withVersion(mine.getVersion()).forPath(node),
          client.transactionOp().delete().forPath(marker));
      return Deletion.DELETED;
    } catch (KeeperException.BadVersionException | KeeperException.NoNodeException e) {
      refused.inc("bad_version");
      throw SinkException.retriable("delete " + node + ": the upstream changed while it was read; trying again", e);
    } catch (Exception e) {
      throw failure("delete " + node, e);
    }
  }

  @Override
  public java.time.Duration callTimeout() {
    return java.time.Duration.ofMillis(client.getZookeeperClient().getConnectionTimeoutMs());
  }

  private void mkdirs(String path) throws Exception {
    if (client.checkExists().forPath(path) == null) {
      try {
        client.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).forPath(path);
      } catch (KeeperException.NodeExistsException e) {
        // created meanwhile
      }
    }
  }

  @Override
  public boolean delete(String cluster, String upstream, String address) throws SinkException {
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    try {
      if (client.checkExists().forPath(marker) == null) {
        return false;
      }
      Stat stat = client.checkExists().forPath(node);
      if (stat == null) {
        client.delete().forPath(marker);
        return false;
      }
      client.transaction().forOperations(
          client.transactionOp().delete().withVersion(stat.getVersion()).forPath(node),
          client.transactionOp().delete().forPath(marker));
      return true;
    } catch (KeeperException.BadVersionException e) {
      // Changed by someone else since it was read: the engine counts a deletion that removed nothing.
      refused.inc("bad_version");
      return false;
    } catch (Exception e) {
      throw failure("delete " + node, e);
    }
  }

  private SinkException failure(String what, Exception e) {
    if (e instanceof KeeperException.NoAuthException || e instanceof KeeperException.AuthFailedException) {
      // An operator can fix an ACL or a credential; dropping the change would lose it for good.
      refused.inc("no_auth");
      return SinkException.retriable(what + ": not allowed by the node's ACL for this daemon's identity; retried until an operator"
          + " grants it (" + e.getMessage() + ")", e);
    }
    if (e instanceof KeeperException.BadVersionException) {
      refused.inc("bad_version");
      return SinkException.retriable(what + " lost a version check: someone else changed the node since it was read; trying again", e);
    }
    if (e instanceof InterruptedException) {
      Thread.currentThread().interrupt();
    }
    return SinkException.retriable(what + " failed: " + e.getClass().getSimpleName() + " " + e.getMessage(), e);
  }

  @Override
  public void close() {
    client.close();
  }
}

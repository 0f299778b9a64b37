package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.upstream.Owner;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
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
 * Every change of an existing node carries the version read just before, or the one our own last
 * write returned (like Consul's check-and-set), so an entry someone else changed meanwhile is never
 * overwritten or removed. Knowing its nodes' versions ({@link KnownNodes}), a registration, a drain
 * or a deletion is one ZooKeeper transaction, with no read before it.
 */
final class ZooKeeperRegistry implements UpstreamRegistry {

  private final CuratorFramework client;
  private final String root;
  private final String ownerRoot;
  final SinkMetrics.Counter refused;
  private final Owner owner;
  final KnownNodes known = new KnownNodes();
  private final ZooKeeperDeletions deletions = new ZooKeeperDeletions(this);
  private final MarkerListing listing;

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
    this.listing = new MarkerListing(client, ownerRoot, new MarkerListing.Layout() {
      @Override
      public String node(String upstream, String address) {
        return ZooKeeperRegistry.this.node(upstream, address);
      }

      @Override
      public String markerDir(String cluster) {
        return ZooKeeperRegistry.this.markerDir(cluster);
      }

      @Override
      public boolean isDefault(String cluster) {
        return owner.isDefault(cluster);
      }
    });
  }

  @Override
  public void start() {
    client.start();
  }

  CuratorFramework client() {
    return client;
  }

  String folder(String upstream) {
    return root + "/" + upstream;
  }

  String node(String upstream, String address) {
    return folder(upstream) + "/" + address;
  }

  private String markerFolder(String cluster, String upstream) {
    return ownerRoot + "/" + markerDir(cluster) + "/" + upstream;
  }

  /** The folder of this sink's markers of {@code cluster}; no cluster name holds an '@', so it is never another's default folder. */
  private String markerDir(String cluster) {
    return owner.isDefault(cluster) ? cluster : cluster + "@" + owner.of(cluster);
  }

  String marker(String cluster, String upstream, String address) {
    return ownerRoot + "/" + markerDir(cluster) + "/" + upstream + "/" + address;
  }

  /** The cluster's default marker when it is someone else's (this sink has its own id), else null. */
  private String defaultMarker(String cluster, String upstream, String address) {
    return owner.isDefault(cluster) ? null : ownerRoot + "/" + cluster + "/" + upstream + "/" + address;
  }

  /**
   * A standby's run of the client side of the write path, writing nothing: one multi-read of a node
   * and marker that are never created (ZooKeeper serves a multi of reads as a read), and a multi of
   * each kind of operation this registry writes, built by Curator and encoded as ZooKeeper's request
   * in memory, sent nowhere (a multi, even of checks only, would go through ZooKeeper's write
   * pipeline). The new leader's first write then finds these classes loaded and linked.
   */
  @Override
  public void warmUp() {
    String node = node("k8s-sync-warm-up", "0.0.0.0:0");
    String marker = marker("k8s-sync-warm-up", "k8s-sync-warm-up", "0.0.0.0:0");
    byte[] json = UpsyncEntry.of(1, 2, 10, false, false).toJson().getBytes(StandardCharsets.UTF_8);
    try {
      listing.multiRead(List.of(Op.getData(node), Op.getData(marker)));
      List<CuratorOp> ops = List.of(
          client.transactionOp().check().forPath(marker),
          client.transactionOp().setData().withVersion(0).forPath(node, json),
          client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json),
          client.transactionOp().delete().withVersion(0).forPath(node));
      org.apache.zookeeper.MultiOperationRecord request =
          new org.apache.zookeeper.MultiOperationRecord(ops.stream().map(CuratorOp::get).toList());
      request.serialize(org.apache.jute.BinaryOutputArchive.getArchive(new java.io.ByteArrayOutputStream()), "request");
    } catch (Exception e) {
      throw new IllegalStateException("warm-up of the write path failed: " + e, e);
    }
  }

  /** At most this many folders a standby looks for: bounded work however many upstreams its pods want. */
  private static final int FOLDERS_LEARNED = 10_000;

  /**
   * Which of the upstreams' folders and our marker folders exist, in multi-reads of the folders (a
   * read): a new leader's first registration of a new server is then one create, not a read of the
   * node, an exists of its folder and the create (TakeoverBench at 10,000 pods). Only presence is
   * learned, never a version: a folder someone removes later fails that create, which then reads.
   */
  @Override
  public void learnWhileStandingBy(Map<String, java.util.Set<String>> upstreamsByCluster) throws SinkException {
    java.util.Set<String> folders = new java.util.LinkedHashSet<>();
    upstreamsByCluster.forEach((cluster, upstreams) -> upstreams.forEach(upstream -> {
      if (folders.size() < FOLDERS_LEARNED) {
        folders.add(folder(upstream));
        folders.add(markerFolder(cluster, upstream));
      }
    }));
    folders.removeIf(known::folderKnown);
    List<String> paths = List.copyOf(folders);
    try {
      List<OpResult> read = listing.multiRead(paths.stream().map(Op::getData).toList());
      for (int i = 0; i < read.size(); i++) {
        if (read.get(i) instanceof OpResult.GetDataResult) {
          known.folderExists(paths.get(i));
        }
      }
    } catch (Exception e) {
      throw failure("read the upstreams' folders", e);
    }
  }

  /**
   * The owned entries in a few round trips, never one per entry ({@link MarkerListing}). The
   * versions of the nodes listed with our own marker become what the next writes check against.
   */
  @Override
  public Map<String, Map<String, Map<String, Listed>>> list(java.util.Set<String> clusters) throws SinkException {
    try {
      return listing.list(clusters, (upstream, address, version) -> known.wrote(folder(upstream), address, version));
    } catch (Exception e) {
      throw failure("list " + ownerRoot, e);
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
      return (int) listing.children(folder(upstream)).stream().filter(UpstreamRegistry::isServer).count();
    } catch (Exception e) {
      throw failure("count " + folder(upstream), e);
    }
  }

  /**
   * One transaction when this registry knows the node: at the version of its own last write, a
   * check of our marker and a setData; deleted by us (or never seen), a create of the node with
   * our marker, which fails if anyone's node or our marker is there. When what it knew proves
   * wrong, it reads the node and its markers (one multi-read) and writes after that read, refusing
   * a node that is not ours; a node someone else changed since our last write is not written
   * over unseen: a lost race, retried after a read.
   */
  @Override
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) throws SinkException {
    String folder = folder(upstream);
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    byte[] json = entry.toJson().getBytes(StandardCharsets.UTF_8);
    try {
      Integer version = known.version(node);
      if (version != null && version >= 0) {
        try {
          List<CuratorTransactionResult> r = client.transaction().forOperations(
              client.transactionOp().check().forPath(marker),
              client.transactionOp().setData().withVersion(version).forPath(node, json));
          known.wrote(folder, address, r.get(1).getResultStat().getVersion());
          return true;
        } catch (KeeperException e) {
          known.forget(folder, address);
          if (e instanceof KeeperException.NoAuthException || (failedOp(e) == 1 && e.code() == KeeperException.Code.BADVERSION)) {
            throw e;
          }
          // our marker or the node is gone: what is there now is read below
        }
      } else if (defaultMarker(cluster, upstream, address) == null && known.folderKnown(folder)
          && known.folderKnown(markerFolder(cluster, upstream))) {
        try {
          client.transaction().forOperations(
              client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json),
              client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
          known.wrote(folder, address, 0);
          return true;
        } catch (KeeperException.NodeExistsException | KeeperException.NoNodeException e) {
          // a node or our marker is there, or someone removed a folder: nothing was written; read below
          known.forget(folder, address);
          if (e instanceof KeeperException.NoNodeException) {
            known.forgetFolders();
          }
        }
      }
      return putAfterReading(cluster, upstream, address, json, takeOver);
    } catch (KeeperException.NodeExistsException e) {
      throw SinkException.retriable("put " + node + " raced with another writer", e);
    } catch (Exception e) {
      throw failure("put " + node, e);
    }
  }

  /**
   * One transaction for the writes whose nodes this registry knows (a check of our marker and a
   * setData at the version of our last write, or a create of node and marker where we deleted it or
   * never saw it), each other write alone by {@link #put}. If the transaction fails as a whole (a
   * node changed, appeared or is someone else's), each of its writes is done alone by {@link #put},
   * which decides it as ever: a foreign key refused, a node changed since our last write a lost race.
   */
  @Override
  public List<PutResult> putBatch(List<Put> puts) {
    PutResult[] out = new PutResult[puts.size()];
    List<CuratorOp> ops = new java.util.ArrayList<>();
    List<Integer> inTxn = new java.util.ArrayList<>();
    for (int i = 0; i < puts.size(); i++) {
      Put p = puts.get(i);
      String node = node(p.upstream(), p.address());
      String marker = marker(p.cluster(), p.upstream(), p.address());
      byte[] json = p.entry().toJson().getBytes(StandardCharsets.UTF_8);
      Integer version = known.version(node);
      try {
        if (inTxn.size() < WRITE_BATCH && version != null && version >= 0) {
          ops.addAll(List.of(client.transactionOp().check().forPath(marker),
              client.transactionOp().setData().withVersion(version).forPath(node, json)));
          inTxn.add(i);
          continue;
        }
        if (inTxn.size() < WRITE_BATCH && defaultMarker(p.cluster(), p.upstream(), p.address()) == null
            && known.folderKnown(folder(p.upstream())) && known.folderKnown(markerFolder(p.cluster(), p.upstream()))) {
          ops.addAll(List.of(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json),
              client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker)));
          inTxn.add(i);
          continue;
        }
      } catch (Exception e) {
        // an operation that cannot even be built: this write goes alone, and put says why
      }
      out[i] = alone(p);
    }
    if (!ops.isEmpty()) {
      try {
        List<CuratorTransactionResult> results = client.transaction().forOperations(ops);
        for (int k = 0; k < inTxn.size(); k++) {
          Put p = puts.get(inTxn.get(k));
          CuratorTransactionResult set = results.get(2 * k + 1);
          known.wrote(folder(p.upstream()), p.address(), set.getType() == OperationType.SET_DATA ? set.getResultStat().getVersion() : 0);
          out[inTxn.get(k)] = new PutResult(p, true, null);
        }
      } catch (Exception e) {
        // each alone: the one that failed it is counted and decided by put, the others written
        for (int i : inTxn) {
          out[i] = alone(puts.get(i));
        }
      }
    }
    return java.util.Arrays.asList(out);
  }

  private PutResult alone(Put p) {
    try {
      return new PutResult(p, put(p.cluster(), p.upstream(), p.address(), p.entry(), p.takeOver()), null);
    } catch (SinkException e) {
      return new PutResult(p, false, e);
    }
  }

  /** The node and its markers in one multi-read, then the write that what was read allows. */
  private boolean putAfterReading(String cluster, String upstream, String address, byte[] json, boolean takeOver) throws Exception {
    String folder = folder(upstream);
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    String defaultMarker = defaultMarker(cluster, upstream, address);
    List<OpResult> read = listing.multiRead(defaultMarker == null
        ? List.of(Op.getData(node), Op.getData(marker))
        : List.of(Op.getData(node), Op.getData(marker), Op.getData(defaultMarker)));
    Stat stat = stat(read.get(0), node);
    boolean owned = stat(read.get(1), marker) != null;
    boolean defaultMarked = !owned && defaultMarker != null && stat(read.get(2), defaultMarker) != null;
    if (stat != null && !owned && !(takeOver && defaultMarked)) {
      return false;
    }
    if (stat != null && !owned) {
      // Taken over in place: the default marker goes and ours comes, at the version just read, in one step.
      mkdirs(markerFolder(cluster, upstream));
      List<CuratorTransactionResult> r = client.transaction().forOperations(
          client.transactionOp().delete().forPath(defaultMarker),
          client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker),
          client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
      known.wrote(folder, address, r.get(2).getResultStat().getVersion());
      return true;
    }
    if (stat != null) {
      // Still ours and still the version just read, in one step.
      List<CuratorTransactionResult> r = client.transaction().forOperations(
          client.transactionOp().check().forPath(marker),
          client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
      known.wrote(folder, address, r.get(1).getResultStat().getVersion());
      return true;
    }
    mkdirs(folder);
    mkdirs(markerFolder(cluster, upstream));
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
    known.wrote(folder, address, 0);
    return true;
  }

  /** A multi-read's stat of a node, or null when it is not there; a node we may not read is asked about with exists, which needs no permission. */
  private Stat stat(OpResult r, String path) throws Exception {
    if (r instanceof OpResult.GetDataResult d) {
      return d.getStat();
    }
    if (r instanceof OpResult.ErrorResult e && e.getErr() == KeeperException.Code.NONODE.intValue()) {
      return null;
    }
    return client.checkExists().forPath(path);
  }

  /** The index of the operation that failed a transaction, or -1. */
  static int failedOp(KeeperException e) {
    List<OpResult> results = e.getResults();
    for (int i = 0; results != null && i < results.size(); i++) {
      if (results.get(i) instanceof OpResult.ErrorResult r && r.getErr() != KeeperException.Code.OK.intValue()
          && r.getErr() != KeeperException.Code.RUNTIMEINCONSISTENCY.intValue()) {
        return i;
      }
    }
    return -1;
  }

  /** Writes per transaction: ZooKeeper refuses a request over jute.maxbuffer (1 MB by default); 200 writes are ~100 KB. */
  static final int WRITE_BATCH = 200;

  /**
   * ZooKeeper transactions of up to {@value #WRITE_BATCH} writes, with the versions the pass's
   * listing found, so nothing is read again: for an entry we own, a check of our marker and a
   * setData at the listed version; for one we do not, a create of the node with its marker, which
   * fails if anyone's node exists there. If a transaction fails (a node changed or appeared
   * meanwhile, or is someone else's), its writes are done one at a time after a fresh read, which
   * refuses foreign nodes. An entry listed with the cluster's default marker is taken over: that
   * marker deleted, ours created, the data set at the listed version.
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> foreign = new java.util.ArrayList<>();
    try {
      List<CuratorOp> ops = new java.util.ArrayList<>();
      List<Write> inTxn = new java.util.ArrayList<>();
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
          mkdirs(markerFolder(w.cluster(), w.upstream()));
          ops.add(client.transactionOp().delete().forPath(defaultMarker(w.cluster(), w.upstream(), w.address())));
          ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
          ops.add(client.transactionOp().setData().withVersion((int) w.version()).forPath(node, json));
        } else if (w.version() >= 0) {
          ops.add(client.transactionOp().check().forPath(marker));
          ops.add(client.transactionOp().setData().withVersion((int) w.version()).forPath(node, json));
        } else {
          mkdirs(folder(w.upstream()));
          mkdirs(markerFolder(w.cluster(), w.upstream()));
          ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json));
          ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
        }
        if (inTxn.size() == WRITE_BATCH) {
          commit(ops, inTxn, foreign);
          ops.clear();
          inTxn.clear();
        }
      }
      commit(ops, inTxn, foreign);
      return foreign;
    } catch (SinkException e) {
      throw e;
    } catch (Exception e) {
      throw failure("put " + writes.size() + " entries under " + root, e);
    }
  }

  /** One transaction of a batch; failed, its writes one at a time after a fresh read each. */
  private void commit(List<CuratorOp> ops, List<Write> inTxn, List<Write> foreign) throws Exception {
    if (ops.isEmpty()) {
      return;
    }
    try {
      for (CuratorTransactionResult r : client.transaction().forOperations(ops)) {
        String path = r.getForPath();
        if (path.startsWith(root + "/") && (r.getType() == OperationType.SET_DATA || r.getType() == OperationType.CREATE)) {
          int slash = path.lastIndexOf('/');
          known.wrote(path.substring(0, slash), path.substring(slash + 1),
              r.getType() == OperationType.CREATE ? 0 : r.getResultStat().getVersion());
        }
      }
    } catch (KeeperException e) {
      if (e instanceof KeeperException.NoAuthException) {
        throw e;
      }
      refused.inc("bad_version");
      for (Write w : inTxn) {
        known.forget(folder(w.upstream()), w.address()); // its listed version may be the stale one
        if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
          foreign.add(w);
        }
      }
    }
  }

  /**
   * Deletes our node and its marker in one transaction that also checks another server of the
   * upstream still exists, so two writers deleting the last two servers at once can never empty the
   * upstream: one transaction fails, and its retry finds the last one. When this registry knows our
   * node's version (its own last write) and another server of the upstream, that transaction is the
   * only request; otherwise, or when it fails because the other server went, the upstream's servers,
   * our marker and our node are read first (one multi-read). Our node changed by someone else since
   * our last write is not deleted unseen: a lost race, retried after a read.
   */
  @Override
  public Deletion deleteUnlessLast(String cluster, String upstream, String address) throws SinkException {
    String folder = folder(upstream);
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    try {
      Integer version = known.version(node);
      String other = known.another(folder, address);
      if (version != null && version >= 0 && other != null) {
        try {
          deleteBeside(folder + "/" + other, node, version, marker);
          known.deleted(folder, address);
          return Deletion.DELETED;
        } catch (KeeperException e) {
          int failed = failedOp(e);
          if (failed == 0) {
            known.gone(folder, other); // that server went: the upstream is read below
          } else {
            known.forget(folder, address);
          }
          if (e instanceof KeeperException.NoAuthException || (failed == 1 && e.code() == KeeperException.Code.BADVERSION)) {
            throw e;
          }
        }
      }
      List<OpResult> read = listing.multiRead(List.of(Op.getChildren(folder), Op.getData(marker), Op.getData(node)));
      List<String> servers = read.get(0) instanceof OpResult.GetChildrenResult c ? c.getChildren() : List.of();
      Stat mine = stat(read.get(2), node);
      if (!servers.contains(address) || stat(read.get(1), marker) == null || mine == null) {
        known.forget(folder, address);
        return Deletion.MISSED;
      }
      known.wrote(folder, address, mine.getVersion());
      other = servers.stream().filter(s -> !s.equals(address) && UpstreamRegistry.isServer(s)).findFirst().orElse(null);
      if (other == null) {
        return Deletion.LAST_SERVER;
      }
      known.seen(folder, other);
      deleteBeside(folder + "/" + other, node, mine.getVersion(), marker);
      known.deleted(folder, address);
      return Deletion.DELETED;
    } catch (KeeperException.BadVersionException | KeeperException.NoNodeException e) {
      known.forget(folder, address);
      refused.inc("bad_version");
      throw SinkException.retriable("delete " + node + ": the upstream changed while it was read; trying again", e);
    } catch (Exception e) {
      throw failure("delete " + node, e);
    }
  }

  /** In few transactions: see {@link ZooKeeperDeletions}. */
  @Override
  public List<RemovalResult> deleteAllUnlessLast(List<Removal> removals) {
    return deletions.deleteAll(removals);
  }

  /** Our node at its version and our marker go, in one step with a check that the other server is there (at any version). */
  private void deleteBeside(String otherNode, String node, int version, String marker) throws Exception {
    client.transaction().forOperations(
        client.transactionOp().check().forPath(otherNode),
        client.transactionOp().delete().withVersion(version).forPath(node),
        client.transactionOp().delete().forPath(marker));
  }

  @Override
  public java.time.Duration callTimeout() {
    return java.time.Duration.ofMillis(client.getZookeeperClient().getConnectionTimeoutMs());
  }

  private void mkdirs(String path) throws Exception {
    if (known.folderKnown(path)) {
      return;
    }
    if (client.checkExists().forPath(path) == null) {
      try {
        client.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).forPath(path);
      } catch (KeeperException.NodeExistsException e) {
        // created meanwhile
      }
    }
    known.folderExists(path);
  }

  /** Our node, at the version read just before, goes with our marker; a node changed meanwhile stays (reconcile's orphans: not the hot path). */
  @Override
  public boolean delete(String cluster, String upstream, String address) throws SinkException {
    String folder = folder(upstream);
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    try {
      if (client.checkExists().forPath(marker) == null) {
        return false;
      }
      Stat stat = client.checkExists().forPath(node);
      if (stat == null) {
        client.delete().forPath(marker);
        known.deleted(folder, address);
        return false;
      }
      client.transaction().forOperations(
          client.transactionOp().delete().withVersion(stat.getVersion()).forPath(node),
          client.transactionOp().delete().forPath(marker));
      known.deleted(folder, address);
      return true;
    } catch (KeeperException.BadVersionException e) {
      // Changed by someone else since it was read: the engine counts a deletion that removed nothing.
      known.forget(folder, address);
      refused.inc("bad_version");
      return false;
    } catch (Exception e) {
      known.forget(folder, address);
      throw failure("delete " + node, e);
    }
  }

  SinkException failure(String what, Exception e) {
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

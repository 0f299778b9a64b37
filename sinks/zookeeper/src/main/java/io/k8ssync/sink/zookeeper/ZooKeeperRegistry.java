package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.upstream.UpsyncEntry;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * Upstreams as persistent znodes. Ownership lives beside the data, not in it: every server node
 * this daemon creates has a marker {@code <ownerRoot>/<cluster>/<upstream>/<address>} created in the
 * same transaction, so the JSON nginx reads stays exactly upsync's, and a node without a marker is
 * someone else's and is never touched. Persistent nodes survive a daemon restart or session loss.
 * Every change of an existing node carries the version read just before (like Consul's
 * check-and-set), so an entry someone else changed meanwhile is never overwritten or removed.
 */
final class ZooKeeperRegistry implements UpstreamRegistry {

  private final CuratorFramework client;
  private final String root;
  private final String ownerRoot;
  private final SinkMetrics.Counter refused;

  /** @param client built by {@link ZooKeeperSinkFactory#clientBuilder}, not yet started */
  ZooKeeperRegistry(CuratorFramework client, String root, String ownerRoot, SinkMetrics metrics) {
    this.client = client;
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

  private String marker(String cluster, String upstream, String address) {
    return ownerRoot + "/" + cluster + "/" + upstream + "/" + address;
  }

  @Override
  public Map<String, Map<String, Map<String, UpsyncEntry>>> listOwned(java.util.Set<String> clusters) throws SinkException {
    Map<String, Map<String, Map<String, UpsyncEntry>>> out = new HashMap<>();
    try {
      for (String cluster : children(ownerRoot)) {
        if (!clusters.contains(cluster)) {
          continue; // written by a daemon for another cluster
        }
        for (String upstream : children(ownerRoot + "/" + cluster)) {
          for (String address : children(ownerRoot + "/" + cluster + "/" + upstream)) {
            byte[] data;
            try {
              data = client.getData().forPath(node(upstream, address));
            } catch (KeeperException.NoNodeException e) {
              continue; // a marker whose node someone removed: nothing of ours is there
            }
            out.computeIfAbsent(cluster, c -> new HashMap<>()).computeIfAbsent(upstream, u -> new HashMap<>())
                .put(address, UpsyncEntry.parse(new String(data, StandardCharsets.UTF_8)));
          }
        }
      }
      return out;
    } catch (Exception e) {
      throw failure("list " + ownerRoot, e);
    }
  }

  private List<String> children(String path) throws Exception {
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }

  @Override
  public int countServers(String upstream) throws SinkException {
    try {
      return children(root + "/" + upstream).size();
    } catch (Exception e) {
      throw failure("count " + root + "/" + upstream, e);
    }
  }

  @Override
  public boolean put(String cluster, String upstream, String address, UpsyncEntry entry) throws SinkException {
    String node = node(upstream, address);
    String marker = marker(cluster, upstream, address);
    byte[] json = entry.toJson().getBytes(StandardCharsets.UTF_8);
    try {
      Stat stat = client.checkExists().forPath(node);
      boolean owned = client.checkExists().forPath(marker) != null;
      if (stat != null && !owned) {
        return false;
      }
      if (stat != null) {
        // Still ours and still the version just read, in one step.
        client.transaction().forOperations(
            client.transactionOp().check().forPath(marker),
            client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
        return true;
      }
      mkdirs(root + "/" + upstream);
      mkdirs(ownerRoot + "/" + cluster + "/" + upstream);
      if (owned) {
        client.create().withMode(CreateMode.PERSISTENT).forPath(node, json);
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
   * One ZooKeeper transaction per chunk: setData for entries we own, create (with the ownership
   * marker) for missing ones; nodes without our marker are refused without being touched. A chunk
   * whose transaction fails (a node changed meanwhile) is written one entry at a time.
   */
  @Override
  public List<Write> putAll(List<Write> writes) throws SinkException {
    List<Write> foreign = new java.util.ArrayList<>();
    try {
      List<org.apache.curator.framework.api.transaction.CuratorOp> ops = new java.util.ArrayList<>();
      List<Write> inTxn = new java.util.ArrayList<>();
      for (Write w : writes) {
        String node = node(w.upstream(), w.address());
        String marker = marker(w.cluster(), w.upstream(), w.address());
        byte[] json = w.entry().toJson().getBytes(StandardCharsets.UTF_8);
        Stat stat = client.checkExists().forPath(node);
        boolean owned = client.checkExists().forPath(marker) != null;
        if (stat != null && !owned) {
          foreign.add(w);
          continue;
        }
        inTxn.add(w);
        if (stat != null) {
          ops.add(client.transactionOp().check().forPath(marker));
          ops.add(client.transactionOp().setData().withVersion(stat.getVersion()).forPath(node, json));
          continue;
        }
        mkdirs(root + "/" + w.upstream());
        mkdirs(ownerRoot + "/" + w.cluster() + "/" + w.upstream());
        ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(node, json));
        if (!owned) {
          ops.add(client.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(marker));
        }
      }
      if (!ops.isEmpty()) {
        try {
          client.transaction().forOperations(ops);
        } catch (KeeperException e) {
          if (e instanceof KeeperException.BadVersionException) {
            refused.inc("bad_version");
          }
          for (Write w : inTxn) {
            if (!put(w.cluster(), w.upstream(), w.address(), w.entry())) {
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

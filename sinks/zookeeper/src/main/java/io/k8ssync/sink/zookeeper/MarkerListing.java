package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.upstream.UpstreamRegistry.Listed;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;

/**
 * The entries a sink owns, read in a few round trips, never one per entry: the ownership markers
 * of each cluster (one read, then one multi-read of every upstream's markers), then the nodes' data
 * and versions in multi-reads of up to {@value #READ_BATCH}. With its own owner id, the entries with
 * the cluster's default markers too, flagged as such.
 */
final class MarkerListing {

  static final int READ_BATCH = 500;

  /** Where the registry keeps its nodes and markers; {@code markerDir} is this sink's folder of a cluster's markers. */
  interface Layout {
    String node(String upstream, String address);

    String markerDir(String cluster);

    boolean isDefault(String cluster);
  }

  private final CuratorFramework client;
  private final String ownerRoot;
  private final Layout layout;

  MarkerListing(CuratorFramework client, String ownerRoot, Layout layout) {
    this.client = client;
    this.ownerRoot = ownerRoot;
    this.layout = layout;
  }

  /** cluster → upstream → address → entry; {@code ours} hears of each listed node that carries this sink's own marker. */
  Map<String, Map<String, Map<String, Listed>>> list(Set<String> clusters, Owned ours) throws Exception {
    Map<String, Map<String, Map<String, Listed>>> out = new HashMap<>();
    // {cluster, marker folder, upstream, "default" or ""}: default folders first, so our own marker wins for a node with both.
    List<String[]> markerDirs = new ArrayList<>();
    Set<String> folders = new HashSet<>(children(ownerRoot));
    for (String cluster : clusters) {
      if (!layout.isDefault(cluster) && folders.contains(cluster)) {
        for (String upstream : children(ownerRoot + "/" + cluster)) {
          markerDirs.add(new String[] {cluster, cluster, upstream, "default"});
        }
      }
    }
    for (String cluster : clusters) {
      if (folders.contains(layout.markerDir(cluster))) { // other folders: another cluster's, or another owner's
        for (String upstream : children(ownerRoot + "/" + layout.markerDir(cluster))) {
          markerDirs.add(new String[] {cluster, layout.markerDir(cluster), upstream, ""});
        }
      }
    }
    List<String[]> owned = new ArrayList<>(); // {cluster, upstream, address, "default" or ""}
    List<OpResult> dirs = multiRead(markerDirs.stream().map(d -> Op.getChildren(ownerRoot + "/" + d[1] + "/" + d[2])).toList());
    for (int i = 0; i < dirs.size(); i++) {
      if (dirs.get(i) instanceof OpResult.GetChildrenResult r) {
        String[] d = markerDirs.get(i);
        for (String address : r.getChildren()) {
          owned.add(new String[] {d[0], d[2], address, d[3]});
        }
      }
    }
    List<OpResult> nodes = multiRead(owned.stream().map(o -> Op.getData(layout.node(o[1], o[2]))).toList());
    for (int i = 0; i < nodes.size(); i++) {
      if (nodes.get(i) instanceof OpResult.GetDataResult r) {
        String[] o = owned.get(i);
        out.computeIfAbsent(o[0], c -> new HashMap<>()).computeIfAbsent(o[1], u -> new HashMap<>())
            .put(o[2], new Listed(UpsyncEntry.parse(new String(r.getData(), StandardCharsets.UTF_8)), r.getStat().getVersion(),
                !o[3].isEmpty()));
        if (o[3].isEmpty()) {
          ours.listed(o[1], o[2], r.getStat().getVersion());
        }
      }
      // else a marker whose node someone removed: nothing of ours is there
    }
    return out;
  }

  /** Hears of each node listed with this sink's own marker. */
  interface Owned {
    void listed(String upstream, String address, int version);
  }

  /** Read operations in batches of {@value #READ_BATCH} per round trip; a missing node is an error result, not a failure. */
  List<OpResult> multiRead(List<Op> reads) throws Exception {
    List<OpResult> results = new ArrayList<>(reads.size());
    for (int from = 0; from < reads.size(); from += READ_BATCH) {
      results.addAll(client.getZookeeperClient().getZooKeeper().multi(reads.subList(from, Math.min(reads.size(), from + READ_BATCH))));
    }
    return results;
  }

  List<String> children(String path) throws Exception {
    try {
      return client.getChildren().forPath(path);
    } catch (KeeperException.NoNodeException e) {
      return List.of();
    }
  }
}

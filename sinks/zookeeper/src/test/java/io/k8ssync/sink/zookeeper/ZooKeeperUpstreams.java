package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/** Reads an upstream from ZooKeeper as nginx-upsync does: the servers under {@code /nginx/upstreams/<name>} and their JSON. */
final class ZooKeeperUpstreams {

  private ZooKeeperUpstreams() {}

  static Map<String, UpsyncEntry> read(CuratorFramework reader, String name) throws Exception {
    Map<String, UpsyncEntry> out = new TreeMap<>();
    String path = "/nginx/upstreams/" + name;
    if (reader.checkExists().forPath(path) == null) {
      return out;
    }
    for (String child : reader.getChildren().forPath(path)) {
      try {
        out.put(child, UpsyncEntry.parse(new String(reader.getData().forPath(path + "/" + child), StandardCharsets.UTF_8)));
      } catch (KeeperException.NoNodeException e) {
        // deleted between listing and reading
      }
    }
    return out;
  }
}

package io.k8ssync.demo;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

/** What an nginx with the upsync module would read from the demo's ZooKeeper, one line per upstream. */
final class UpstreamView implements AutoCloseable {

  private static final String ROOT = "/nginx/upstreams";
  private final CuratorFramework zk;

  UpstreamView(String connect) {
    zk = CuratorFrameworkFactory.newClient(connect, new RetryOneTime(100));
    zk.start();
  }

  String describe() {
    StringBuilder out = new StringBuilder("[upstreams in ZooKeeper " + ROOT + "]");
    try {
      if (zk.checkExists().forPath(ROOT) == null) {
        return out.append(" (none yet)").toString();
      }
      for (String upstream : sorted(zk.getChildren().forPath(ROOT))) {
        out.append(' ').append(upstream).append(": ");
        List<String> servers = sorted(zk.getChildren().forPath(ROOT + "/" + upstream));
        for (String s : servers) {
          String json = new String(zk.getData().forPath(ROOT + "/" + upstream + "/" + s), StandardCharsets.UTF_8);
          out.append(s).append(json.contains("\"down\":1") ? "(down) " : " ");
        }
      }
    } catch (Exception e) {
      out.append(" unreadable: ").append(e.getMessage());
    }
    return out.toString();
  }

  private static List<String> sorted(List<String> l) {
    return l.stream().sorted().toList();
  }

  @Override
  public void close() {
    zk.close();
  }
}

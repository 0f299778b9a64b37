package io.k8ssync.benchmarks;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.retry.RetryOneTime;

/**
 * A ZooKeeper reader of upsync-compatible znodes: a watch on the upstream's children and one on
 * each server node's data (Curator's {@link CuratorCache}, which sets exactly those and re-reads
 * what a watch reports). nginx-upsync itself reads Consul and etcd only; a ZooKeeper-fed nginx
 * needs such a watcher beside it, which is what this stands in for. An address is seen when a
 * create or change shows it with {@code down:0}.
 */
final class ZooKeeperWatchReader implements NginxStandIn.UpstreamReader {

  private final CuratorFramework client;
  private final String path;
  private CuratorCache cache;
  private final java.util.concurrent.atomic.LongAdder events = new java.util.concurrent.atomic.LongAdder();

  ZooKeeperWatchReader(String connect, String path) {
    this.client = CuratorFrameworkFactory.newClient(connect, new RetryOneTime(100));
    this.path = path;
  }

  @Override
  public void start(NginxStandIn.Seen seen) throws Exception {
    client.start();
    cache = CuratorCache.build(client, path);
    CountDownLatch initialized = new CountDownLatch(1);
    cache.listenable().addListener(CuratorCacheListener.builder().forCreatesAndChanges((old, node) -> {
      events.increment();
      if (initialized.getCount() > 0) {
        return; // the state at start
      }
      byte[] data = node.getData();
      if (data != null && new String(data, StandardCharsets.UTF_8).contains("\"down\":0")) {
        String p = node.getPath();
        seen.seen(p.substring(p.lastIndexOf('/') + 1), System.nanoTime());
      }
    }).forInitialized(initialized::countDown).build());
    cache.start();
    if (!initialized.await(60, TimeUnit.SECONDS)) {
      throw new IllegalStateException("CuratorCache on " + path + " not initialized in 60 s");
    }
    // nginx has no GC: the initial read of every node (~9 MB live) goes to the old generation now, or the stand-in's one
    // young collection of the churn copies it (26-169 ms measured under load), a pause of the harness, not of the sink.
    System.gc();
    gc = GcPauses.watch();
  }

  private GcPauses.Watch gc;

  @Override
  public String stats() {
    return events.sum() + " creates and changes from the cache, its GC since the churn began: " + (gc == null ? "not watched" : gc.stop());
  }

  @Override
  public void close() {
    if (cache != null) {
      cache.close();
    }
    client.close();
  }
}

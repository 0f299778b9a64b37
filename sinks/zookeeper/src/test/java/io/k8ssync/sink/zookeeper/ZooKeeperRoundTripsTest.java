package io.k8ssync.sink.zookeeper;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.upstream.UpstreamConfig;
import io.k8ssync.sink.upstream.UpstreamSink;
import io.k8ssync.sink.upstream.UpstreamTestAccess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.curator.utils.ZookeeperFactory;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What the zookeeper sink asks of a real server: a reconcile pass lists in a few round trips, not
 * one per entry (counted by the server itself, with its {@code srvr} command); and a deletion can
 * never empty an upstream, even when another writer removes the other server at the same moment.
 */
class ZooKeeperRoundTripsTest {

  private final TestingServer zk;
  private final CuratorFramework other;
  private final AtomicReference<Runnable> beforeOurNextWrite = new AtomicReference<>();
  private final TestSinkContext context;
  private final Sink sink;

  ZooKeeperRoundTripsTest() throws Exception {
    System.setProperty("zookeeper.4lw.commands.whitelist", "srvr");
    zk = new TestingServer(true);
    other = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    other.start();
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s", "drainDelay", "200ms", "reconcileEvery", "0"),
        Selector.ALL);
    ZooKeeperRegistry registry = new ZooKeeperRegistry(
        ZooKeeperSinkFactory.clientBuilder(context.config()).zookeeperFactory(racing()).build(),
        "/nginx/upstreams", "/k8s-sync/owners", context.metrics());
    sink = new UpstreamSink(context, registry, UpstreamConfig.from(context.config()));
    sink.start();
  }

  @AfterEach
  void close() throws Exception {
    sink.close();
    other.close();
    zk.close();
  }

  /** A handle that lets someone else act right before our next transaction reaches the server. */
  private ZookeeperFactory racing() {
    return new ZookeeperFactory() {
      @Override
      public ZooKeeper newZooKeeper(String connect, int timeout, Watcher watcher, boolean readOnly) throws Exception {
        return newZooKeeper(connect, timeout, watcher, readOnly, new ZKClientConfig());
      }

      @Override
      public ZooKeeper newZooKeeper(String connect, int timeout, Watcher watcher, boolean readOnly, ZKClientConfig config)
          throws Exception {
        return new ZooKeeper(connect, timeout, watcher, readOnly, config == null ? new ZKClientConfig() : config) {
          @Override
          public List<OpResult> multi(Iterable<Op> ops) throws InterruptedException, KeeperException {
            boolean writes = false;
            for (Op op : ops) {
              writes |= op.getType() != org.apache.zookeeper.ZooDefs.OpCode.getData
                  && op.getType() != org.apache.zookeeper.ZooDefs.OpCode.getChildren;
            }
            if (writes) {
              Runnable r = beforeOurNextWrite.getAndSet(null);
              if (r != null) {
                r.run();
              }
            }
            return super.multi(ops);
          }

          @Override
          public void delete(String path, int version) throws InterruptedException, KeeperException {
            Runnable r = beforeOurNextWrite.getAndSet(null);
            if (r != null) {
              r.run();
            }
            super.delete(path, version);
          }
        };
      }
    };
  }

  /** Requests the server has received so far, as its {@code srvr} command reports them. */
  private long received() throws Exception {
    try (Socket s = new Socket("127.0.0.1", zk.getPort())) {
      OutputStream out = s.getOutputStream();
      out.write("srvr".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith("Received: ")) {
          return Long.parseLong(line.substring("Received: ".length()).trim());
        }
      }
    }
    throw new IllegalStateException("srvr did not report Received");
  }

  @Test
  void aReconcilePassListsInAFewRoundTripsNotOnePerEntry() throws Exception {
    for (int i = 0; i < 200; i++) {
      PodState p = ready("web-" + i, "10.0." + (i / 250) + "." + (i % 250 + 1));
      context.pods.add(p);
      sink.apply(List.of(PodChange.of(p.key(), null, p)));
    }
    long before = received();
    UpstreamTestAccess.reconcile(sink);
    long during = received() - before - 1; // less the srvr of the second reading itself
    assertTrue(during <= 10, "a pass over 200 entries in sync took " + during + " requests");
  }

  @Test
  void anotherWriterRemovingTheOtherServerMeanwhileNeverEmptiesTheUpstream() throws Exception {
    PodState a = ready("web-1", "10.0.0.1");
    PodState b = ready("web-2", "10.0.0.2");
    context.pods.add(a);
    context.pods.add(b);
    sink.apply(List.of(PodChange.of(a.key(), null, a)));
    sink.apply(List.of(PodChange.of(b.key(), null, b)));
    context.pods.set(0, withReady(a, false));
    sink.apply(List.of(PodChange.of(a.key(), a, withReady(a, false))));
    beforeOurNextWrite.set(() -> {
      try {
        other.delete().forPath("/nginx/upstreams/web/10.0.0.2:8080");
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });

    await().atMost(Duration.ofSeconds(10)).until(() -> other.checkExists().forPath("/nginx/upstreams/web/10.0.0.2:8080") == null);
    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(8)).until(() -> {
      List<String> web = other.getChildren().forPath("/nginx/upstreams/web");
      return web.equals(List.of("10.0.0.1:8080"));
    });
    assertEquals(1.0, context.metric("upstream_removals_held_total", "last_server"));
  }

  @Test
  void aChildThatIsNoServerKeepsNoUpstreamFromBeingEmpty() throws Exception {
    other.create().creatingParentsIfNeeded().forPath("/nginx/upstreams/web/notes");
    PodState a = ready("web-1", "10.0.0.1");
    context.pods.add(a);
    sink.apply(List.of(PodChange.of(a.key(), null, a)));
    context.pods.set(0, withReady(a, false));
    sink.apply(List.of(PodChange.of(a.key(), a, withReady(a, false))));

    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(8))
        .until(() -> other.checkExists().forPath("/nginx/upstreams/web/10.0.0.1:8080") != null);
    assertEquals(1.0, context.metric("upstream_removals_held_total", "last_server"));
  }
}

package io.k8ssync.sink.zookeeper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
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
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Writes carry the version read just before, like Consul's check-and-set: an entry someone else
 * changed between our read and our write is never overwritten or removed. The race is forced, not
 * hoped for: the client's ZooKeeper handle lets another client write just before our write is sent.
 */
class ZooKeeperVersionCheckTest {

  private static final String NODE = "/nginx/upstreams/web/10.0.0.1:8080";
  private static final UpsyncEntry UP = new UpsyncEntry(1, 2, 10, false, false);
  private static final String THEIRS = "{\"weight\":7,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}";

  private final TestingServer zk;
  private final CuratorFramework other;
  private final TestSinkContext context;
  /** Runs once, on our client, just before its next write reaches the server. */
  private final AtomicReference<Runnable> beforeOurWrite = new AtomicReference<>();
  private final ZooKeeperRegistry registry;

  ZooKeeperVersionCheckTest() throws Exception {
    zk = new TestingServer(true);
    other = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    other.start();
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s"), Selector.ALL);
    registry = new ZooKeeperRegistry(ZooKeeperSinkFactory.clientBuilder(context.config()).zookeeperFactory(racing()).build(),
        "/nginx/upstreams", "/k8s-sync/owners", context.metrics());
    registry.start();
  }

  @AfterEach
  void close() throws Exception {
    registry.close();
    other.close();
    zk.close();
  }

  private ZookeeperFactory racing() {
    return new ZookeeperFactory() {
      @Override
      public ZooKeeper newZooKeeper(String connect, int timeout, Watcher watcher, boolean readOnly) throws Exception {
        return new Racing(connect, timeout, watcher, readOnly, new ZKClientConfig());
      }

      @Override
      public ZooKeeper newZooKeeper(String connect, int timeout, Watcher watcher, boolean readOnly, ZKClientConfig config)
          throws Exception {
        return new Racing(connect, timeout, watcher, readOnly, config == null ? new ZKClientConfig() : config);
      }
    };
  }

  /** A ZooKeeper handle that lets someone else write first when a race is armed. */
  private final class Racing extends ZooKeeper {
    Racing(String connect, int timeout, Watcher watcher, boolean readOnly, ZKClientConfig config) throws java.io.IOException {
      super(connect, timeout, watcher, readOnly, config);
    }

    private void raceFirst() {
      Runnable r = beforeOurWrite.getAndSet(null);
      if (r != null) {
        r.run();
      }
    }

    @Override
    public Stat setData(String path, byte[] data, int version) throws KeeperException, InterruptedException {
      raceFirst();
      return super.setData(path, data, version);
    }

    @Override
    public void delete(String path, int version) throws InterruptedException, KeeperException {
      raceFirst();
      super.delete(path, version);
    }

    @Override
    public List<OpResult> multi(Iterable<Op> ops) throws InterruptedException, KeeperException {
      raceFirst();
      return super.multi(ops);
    }
  }

  private void someoneElseWritesFirst() {
    beforeOurWrite.set(() -> {
      try {
        other.setData().forPath(NODE, THEIRS.getBytes(StandardCharsets.UTF_8));
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
  }

  private String data() throws Exception {
    return new String(other.getData().forPath(NODE), StandardCharsets.UTF_8);
  }

  @Test
  void anEntryChangedBetweenOurReadAndOurWriteIsNotOverwrittenAndTheWriteIsRetried() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    someoneElseWritesFirst();

    SinkException e = assertThrows(SinkException.class, () -> registry.put("c1", "web", "10.0.0.1:8080", UP.withDown(true)));
    assertNull(beforeOurWrite.get(), "the race was run");
    assertTrue(e.retriable(), "a lost race is tried again, not dropped: " + e.getMessage());
    assertEquals(THEIRS, data(), "their change is kept");
    assertEquals(1.0, context.metric("zookeeper_refused_total", "bad_version"));

    // The retry reads the new version and writes on top of what it has now seen.
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP.withDown(true)));
    assertTrue(UpsyncEntry.parse(data()).down());
  }

  @Test
  void anEntryChangedBetweenOurReadAndOurDeleteIsNotRemoved() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    someoneElseWritesFirst();

    assertFalse(registry.delete("c1", "web", "10.0.0.1:8080"), "nothing removed: counted as a missed deletion by the engine");
    assertNull(beforeOurWrite.get(), "the race was run");
    assertEquals(THEIRS, data(), "their entry is still there");
    assertEquals(1.0, context.metric("zookeeper_refused_total", "bad_version"));
    assertTrue(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080") != null, "and still ours");
  }

  @Test
  void aBatchWhoseEntryChangedMeanwhileIsWrittenAgainOnTopOfTheChange() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    // A reconcile pass lists the entry with its version, and someone changes it before the batch is written.
    long listed = registry.list(java.util.Set.of("c1")).get("c1").get("web").get("10.0.0.1:8080").version();
    someoneElseWritesFirst();

    // The transaction fails on the listed version; the fallback re-reads each entry before writing it.
    List<UpstreamRegistry.Write> refused = registry.putAll(List.of(new UpstreamRegistry.Write("c1", "web", "10.0.0.1:8080", UP.withDown(true), listed)));
    assertEquals(List.of(), refused);
    assertNull(beforeOurWrite.get(), "the race was run");
    assertTrue(UpsyncEntry.parse(data()).down());
    assertEquals(1.0, context.metric("zookeeper_refused_total", "bad_version"));
  }
}

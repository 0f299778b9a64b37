package io.k8ssync.sink.zookeeper;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import io.k8ssync.sink.upstream.UpstreamRegistry.Deletion;
import io.k8ssync.sink.upstream.UpstreamRegistry.Write;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.client.ZKClientConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The registry knows the versions of the nodes it wrote, so a change of a server is one ZooKeeper
 * request (counted by the server itself, with {@code srvr}), and a version it knows that has gone
 * stale never lets it write a node that is not ours, nor empty an upstream.
 */
class ZooKeeperKnownVersionsTest {

  private static final UpsyncEntry UP = new UpsyncEntry(1, 2, 10, false, false);
  private static final String WEB = "/nginx/upstreams/web/";
  private static final String THEIRS = "{\"weight\":7,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}";

  private final TestingServer zk;
  private final CuratorFramework other;
  private final TestSinkContext context;
  /** Runs once, on our client, just before its next write transaction reaches the server. */
  private final AtomicReference<Runnable> beforeOurNextWrite = new AtomicReference<>();
  private final ZooKeeperRegistry registry;

  ZooKeeperKnownVersionsTest() throws Exception {
    System.setProperty("zookeeper.4lw.commands.whitelist", "srvr");
    zk = new TestingServer(true);
    other = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    other.start();
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s"), Selector.ALL);
    registry = registry(context);
    registry.start();
    registry.client().blockUntilConnected();
  }

  private ZooKeeperRegistry registry(TestSinkContext ctx) {
    return new ZooKeeperRegistry(ZooKeeperSinkFactory.clientBuilder(ctx.config()).zookeeperFactory(racing()).build(),
        "/nginx/upstreams", "/k8s-sync/owners", ctx.metrics());
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
              writes |= op.getType() != ZooDefs.OpCode.getData && op.getType() != ZooDefs.OpCode.getChildren;
            }
            if (writes) {
              Runnable r = beforeOurNextWrite.getAndSet(null);
              if (r != null) {
                r.run();
              }
            }
            return super.multi(ops);
          }
        };
      }
    };
  }

  /**
   * Someone else's write inside our call: on the plain ZooKeeper handle, since a Curator call made
   * inside another Curator call on the same thread does nothing (Curator 5.9 returns null).
   */
  private ZooKeeper raw() throws Exception {
    return other.getZookeeperClient().getZooKeeper();
  }

  private void someoneElseFirst(ThrowingRunnable r) {
    beforeOurNextWrite.set(() -> {
      try {
        r.run();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /** Requests the server has received so far, as its {@code srvr} command reports them. */
  private long received() throws Exception {
    return Long.parseLong(srvr("Received: "));
  }

  /** The last transaction id the server applied: it moves with every write, never with a read. */
  private long zxid() throws Exception {
    return Long.decode(srvr("Zxid: "));
  }

  private String srvr(String field) throws Exception {
    try (Socket s = new Socket("127.0.0.1", zk.getPort())) {
      OutputStream out = s.getOutputStream();
      out.write("srvr".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      for (String line; (line = in.readLine()) != null; ) {
        if (line.startsWith(field)) {
          return line.substring(field.length()).trim();
        }
      }
    }
    throw new IllegalStateException("srvr did not report " + field);
  }

  /**
   * A standby runs the client side of the write path before it may write (TakeoverBench: a new
   * leader's first multi took 71–170 ms at 10,000 pods, loading what a standby never ran): one
   * multi-read, which ZooKeeper serves as a read, and the write's multi built and encoded in memory.
   */
  @Test
  void theWarmUpSendsOneReadAndWritesNothing() throws Exception {
    long zxid = zxid();
    assertEquals(1, requests(registry::warmUp), "one multi-read");
    assertEquals(zxid, zxid(), "nothing written");
  }

  /**
   * A standby learns, in one multi-read, which folders exist for the upstreams its pods want: once it
   * leads, its first registration of a new server is one request (TakeoverBench: a new leader's first
   * ZooKeeper write read the node and its folder first), and nothing was written meanwhile.
   */
  @Test
  void aStandbyThatLearnedTheFoldersRegistersANewServerInOneRequest() throws Exception {
    other.create().creatingParentsIfNeeded().forPath(WEB + "10.0.0.9:8080", UP.toJson().getBytes(StandardCharsets.UTF_8));
    other.create().creatingParentsIfNeeded().forPath("/k8s-sync/owners/c1/web/10.0.0.9:8080");
    long zxid = zxid();
    assertEquals(1, requests(() -> registry.learnWhileStandingBy(Map.of("c1", java.util.Set.of("web")))), "one multi-read");
    assertEquals(zxid, zxid(), "nothing written");
    assertEquals(1, requests(() -> assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP))), "the create alone");
    assertNotNull(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080"), "with its marker");
  }

  /** The requests one step sends, less the {@code srvr} that reads the count afterwards. */
  private long requests(ThrowingRunnable step) throws Exception {
    long before = received();
    step.run();
    return received() - before - 1;
  }

  private String data(String address) throws Exception {
    return new String(other.getData().forPath(WEB + address), StandardCharsets.UTF_8);
  }

  @Test
  void aRegistrationADrainAndADeletionAreOneRequestEachOnceTheNodesAreKnown() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    assertTrue(registry.put("c1", "web", "10.0.0.2:8080", UP));

    long drain = requests(() -> assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP.withDown(true))));
    long up = requests(() -> assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP)));
    long redrain = requests(() -> assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP.withDown(true))));
    long delete = requests(() -> assertEquals(Deletion.DELETED, registry.deleteUnlessLast("c1", "web", "10.0.0.1:8080")));
    long again = requests(() -> assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP)));
    System.out.printf("zookeeper requests: drain=%d up=%d drain=%d delete=%d register again=%d%n", drain, up, redrain, delete, again);

    assertEquals(List.of(1L, 1L, 1L, 1L, 1L), List.of(drain, up, redrain, delete, again));
    assertFalse(UpsyncEntry.parse(data("10.0.0.1:8080")).down());
    assertNotNull(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080"), "registered again with its marker");
  }

  @Test
  void aKnownVersionGoneStaleBecauseSomeoneTookTheNodeNeverOverwritesIt() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    // Someone removes our node and its marker and writes their own node at the same key.
    someoneElseFirst(() -> {
      raw().delete("/k8s-sync/owners/c1/web/10.0.0.1:8080", -1);
      raw().delete(WEB + "10.0.0.1:8080", -1);
      raw().create(WEB + "10.0.0.1:8080", THEIRS.getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, org.apache.zookeeper.CreateMode.PERSISTENT);
    });

    assertFalse(registry.put("c1", "web", "10.0.0.1:8080", UP.withDown(true)), "someone else's node: refused");
    assertNull(beforeOurNextWrite.get(), "the race was run");
    assertEquals(THEIRS, data("10.0.0.1:8080"));
    assertEquals(Deletion.MISSED, registry.deleteUnlessLast("c1", "web", "10.0.0.1:8080"));
    assertEquals(THEIRS, data("10.0.0.1:8080"), "and never deleted");
  }

  @Test
  void aKnownAbsenceGoneStaleBecauseSomeoneCreatedTheNodeNeverOverwritesIt() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    assertTrue(registry.put("c1", "web", "10.0.0.2:8080", UP));
    assertEquals(Deletion.DELETED, registry.deleteUnlessLast("c1", "web", "10.0.0.1:8080"));
    someoneElseFirst(() -> raw().create(WEB + "10.0.0.1:8080", THEIRS.getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, org.apache.zookeeper.CreateMode.PERSISTENT));

    assertFalse(registry.put("c1", "web", "10.0.0.1:8080", UP), "someone else's node: refused");
    assertNull(beforeOurNextWrite.get(), "the race was run");
    assertEquals(THEIRS, data("10.0.0.1:8080"));
    assertNull(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080"), "no marker of ours on their node");
  }

  @Test
  void aForeignNodeInABatchIsRefusedAndTheRestWritten() throws Exception {
    other.create().creatingParentsIfNeeded().forPath(WEB + "10.0.0.2:8080", THEIRS.getBytes(StandardCharsets.UTF_8));
    assertTrue(registry.put("c1", "web", "10.0.0.3:8080", UP));
    long three = registry.list(java.util.Set.of("c1")).get("c1").get("web").get("10.0.0.3:8080").version();
    List<Write> writes = new ArrayList<>();
    writes.add(new Write("c1", "web", "10.0.0.1:8080", UP, Write.ABSENT));
    writes.add(new Write("c1", "web", "10.0.0.2:8080", UP, Write.ABSENT));
    writes.add(new Write("c1", "web", "10.0.0.3:8080", UP.withDown(true), three));
    for (int i = 0; i < 600; i++) { // more than one transaction holds
      writes.add(new Write("c1", "big", "10.1." + (i / 250) + "." + (i % 250 + 1) + ":8080", UP, Write.ABSENT));
    }

    List<Write> refused = registry.putAll(writes);

    assertEquals(List.of(writes.get(1)), refused);
    assertEquals(THEIRS, data("10.0.0.2:8080"), "their node is untouched");
    assertNull(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.2:8080"));
    assertFalse(UpsyncEntry.parse(data("10.0.0.1:8080")).down());
    assertTrue(UpsyncEntry.parse(data("10.0.0.3:8080")).down());
    assertEquals(600, other.getChildren().forPath("/nginx/upstreams/big").size());
    assertEquals(600, other.getChildren().forPath("/k8s-sync/owners/c1/big").size());
  }

  @Test
  void oneApplysRegistrationsAndDrainsAreOneTransactionAndAForeignKeyInItIsRefusedAlone() throws Exception {
    for (int i = 1; i <= 3; i++) {
      assertTrue(registry.put("c1", "web", "10.0.0." + i + ":8080", UP));
    }
    List<UpstreamRegistry.Put> drains = List.of(
        new UpstreamRegistry.Put("c1", "web", "10.0.0.1:8080", UP.withDown(true), false),
        new UpstreamRegistry.Put("c1", "web", "10.0.0.2:8080", UP.withDown(true), false),
        new UpstreamRegistry.Put("c1", "web", "10.0.0.4:8080", UP, true));
    List<UpstreamRegistry.PutResult> results = new ArrayList<>();
    assertEquals(1, requests(() -> results.addAll(registry.putBatch(drains))));
    assertTrue(results.stream().allMatch(UpstreamRegistry.PutResult::written), results.toString());
    assertTrue(UpsyncEntry.parse(data("10.0.0.2:8080")).down());

    other.create().forPath(WEB + "10.0.0.5:8080", THEIRS.getBytes(StandardCharsets.UTF_8));
    List<UpstreamRegistry.PutResult> mixed = registry.putBatch(List.of(
        new UpstreamRegistry.Put("c1", "web", "10.0.0.1:8080", UP, true),
        new UpstreamRegistry.Put("c1", "web", "10.0.0.5:8080", UP, true),
        new UpstreamRegistry.Put("c1", "web", "10.0.0.3:8080", UP.withDown(true), false)));
    assertEquals(List.of(true, false, true), mixed.stream().map(UpstreamRegistry.PutResult::written).toList());
    assertTrue(mixed.get(1).foreign(), "someone else's key: refused, not failed");
    assertEquals(THEIRS, data("10.0.0.5:8080"));
    assertNull(other.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.5:8080"));
    assertFalse(UpsyncEntry.parse(data("10.0.0.1:8080")).down());
    assertTrue(UpsyncEntry.parse(data("10.0.0.3:8080")).down());
  }

  @Test
  void aDeletionBesideAKnownServerIsOneRequestAndNeverEmptiesTheUpstreamWhenThatServerGoesMeanwhile() throws Exception {
    assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
    assertTrue(registry.put("c1", "web", "10.0.0.2:8080", UP));
    assertTrue(registry.put("c1", "web", "10.0.0.3:8080", UP));
    assertEquals(1, requests(() -> assertEquals(Deletion.DELETED, registry.deleteUnlessLast("c1", "web", "10.0.0.3:8080"))));

    // Another writer removes the other server right before our transaction reaches the server.
    someoneElseFirst(() -> {
      raw().delete("/k8s-sync/owners/c1/web/10.0.0.2:8080", -1);
      raw().delete(WEB + "10.0.0.2:8080", -1);
    });
    assertEquals(Deletion.LAST_SERVER, registry.deleteUnlessLast("c1", "web", "10.0.0.1:8080"));
    assertNull(beforeOurNextWrite.get(), "the race was run");
    assertEquals(List.of("10.0.0.1:8080"), other.getChildren().forPath("/nginx/upstreams/web"));
  }

  private List<UpstreamRegistry.Removal> removals(int from, int to) {
    List<UpstreamRegistry.Removal> out = new ArrayList<>();
    for (int i = from; i <= to; i++) {
      out.add(new UpstreamRegistry.Removal("c1", "web", "10.0.0." + i + ":8080"));
    }
    return out;
  }

  private List<Deletion> deletions(List<UpstreamRegistry.RemovalResult> results) {
    return results.stream().map(r -> {
      assertNull(r.failure(), String.valueOf(r.failure()));
      return r.deletion();
    }).toList();
  }

  @Test
  void deletionsDueTogetherAreOneRequestBesideAServerThatStays() throws Exception {
    for (int i = 1; i <= 8; i++) {
      assertTrue(registry.put("c1", "web", "10.0.0." + i + ":8080", UP.withDown(i <= 5)));
    }
    List<UpstreamRegistry.RemovalResult> results = new ArrayList<>();

    assertEquals(1, requests(() -> results.addAll(registry.deleteAllUnlessLast(removals(1, 5)))));

    assertEquals(List.of(Deletion.DELETED, Deletion.DELETED, Deletion.DELETED, Deletion.DELETED, Deletion.DELETED), deletions(results));
    assertEquals(3, other.getChildren().forPath("/nginx/upstreams/web").size());
    assertEquals(3, other.getChildren().forPath("/k8s-sync/owners/c1/web").size(), "their markers went with them");
  }

  @Test
  void whenEveryServerIsDueOneStaysAsTheLast() throws Exception {
    for (int i = 1; i <= 4; i++) {
      assertTrue(registry.put("c1", "web", "10.0.0." + i + ":8080", UP.withDown(true)));
    }
    List<UpstreamRegistry.RemovalResult> results = new ArrayList<>();

    // Three deleted checking the fourth, in one transaction; the fourth's own deletion reads the upstream and keeps it.
    assertEquals(2, requests(() -> results.addAll(registry.deleteAllUnlessLast(removals(1, 4)))));

    assertEquals(List.of(Deletion.DELETED, Deletion.DELETED, Deletion.DELETED, Deletion.LAST_SERVER), deletions(results));
    assertEquals(List.of("10.0.0.4:8080"), other.getChildren().forPath("/nginx/upstreams/web"));
  }

  @Test
  void whenTheServerThatStaysGoesMeanwhileTheBatchIsRefusedAndTheUpstreamNeverEmpties() throws Exception {
    for (int i = 1; i <= 4; i++) {
      assertTrue(registry.put("c1", "web", "10.0.0." + i + ":8080", UP.withDown(i <= 3)));
    }
    // Another writer removes the only server that stays right before our transaction reaches the server.
    someoneElseFirst(() -> {
      raw().delete("/k8s-sync/owners/c1/web/10.0.0.4:8080", -1);
      raw().delete(WEB + "10.0.0.4:8080", -1);
    });

    List<Deletion> results = deletions(registry.deleteAllUnlessLast(removals(1, 3)));

    assertNull(beforeOurNextWrite.get(), "the race was run");
    assertEquals(List.of(Deletion.DELETED, Deletion.DELETED, Deletion.LAST_SERVER), results);
    assertEquals(List.of("10.0.0.3:8080"), other.getChildren().forPath("/nginx/upstreams/web"));
  }

  @Test
  void twoWritersDeletingTheLastTwoServersAtOnceNeverEmptyTheUpstream() throws Exception {
    TestSinkContext second = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s"), Selector.ALL);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try (ZooKeeperRegistry theirs = registry(second)) {
      theirs.start();
      for (int round = 0; round < 20; round++) {
        // From the second round on, each writer knows the other's server from an earlier read of the upstream.
        assertTrue(registry.put("c1", "web", "10.0.0.1:8080", UP));
        assertTrue(theirs.put("c2", "web", "10.0.0.2:8080", UP));
        CyclicBarrier together = new CyclicBarrier(2);
        Future<Deletion> ours = pool.submit(() -> {
          together.await();
          return registry.deleteUnlessLast("c1", "web", "10.0.0.1:8080");
        });
        Future<Deletion> their = pool.submit(() -> {
          together.await();
          return theirs.deleteUnlessLast("c2", "web", "10.0.0.2:8080");
        });
        Deletion a = result(ours);
        Deletion b = result(their);
        assertFalse(a == Deletion.DELETED && b == Deletion.DELETED, "round " + round + ": both deleted");
        assertEquals(1, other.getChildren().forPath("/nginx/upstreams/web").size(), "round " + round);
        // Clean up for the next round: whoever is left goes through its owner's plain delete.
        if (a != Deletion.DELETED) {
          assertTrue(registry.delete("c1", "web", "10.0.0.1:8080"));
        }
        if (b != Deletion.DELETED) {
          assertTrue(theirs.delete("c2", "web", "10.0.0.2:8080"));
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** A lost race comes back as a retriable failure: tried again, as the engine does, until it says what it did. */
  private static Deletion result(Future<Deletion> f) throws Exception {
    try {
      return f.get();
    } catch (java.util.concurrent.ExecutionException e) {
      assertTrue(e.getCause() instanceof io.k8ssync.sink.SinkException s && s.retriable(), String.valueOf(e.getCause()));
      return Deletion.MISSED;
    }
  }
}

package io.k8ssync.sink.zookeeper;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withService;
import static io.k8ssync.sink.PodStates.withTerminating;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.upstream.UpstreamTestAccess;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The zookeeper sink against a real ZooKeeper server (curator-test), read back as nginx-upsync would. */
class ZooKeeperSinkTest {

  private final TestingServer zk;
  private final CuratorFramework reader;
  private final List<Sink> sinks = new ArrayList<>();
  private TestSinkContext context;

  ZooKeeperSinkTest() throws Exception {
    zk = new TestingServer(true);
    reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50));
    reader.start();
  }

  @AfterEach
  void close() throws Exception {
    sinks.forEach(Sink::close);
    reader.close();
    zk.close();
  }

  private Sink sink(Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("connect", zk.getConnectString(), "drainDelay", "200ms",
        "reconcileEvery", "0", "connectionTimeout", "2s"));
    c.putAll(extra);
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(), c, Selector.ALL);
    Sink s = new ZooKeeperSinkFactory().create(context);
    s.start();
    sinks.add(s);
    return s;
  }

  private static void apply(Sink s, PodState before, PodState after) throws SinkException {
    PodState any = after != null ? after : before;
    s.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  /** What nginx-upsync sees: the servers of an upstream and their JSON. */
  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return ZooKeeperUpstreams.read(reader, name);
  }

  /**
   * One view nginx could have seen: null when servers were added or removed while it was read (the
   * parent's cversion moved), since entries read one by one across such a change never coexisted.
   */
  private Map<String, UpsyncEntry> consistentUpstream(String name) throws Exception {
    Stat before = reader.checkExists().forPath("/nginx/upstreams/" + name);
    Map<String, UpsyncEntry> view = upstream(name);
    Stat after = reader.checkExists().forPath("/nginx/upstreams/" + name);
    if (before == null || after == null) {
      return before == null && after == null ? view : null;
    }
    return before.getCversion() == after.getCversion() ? view : null;
  }

  private static PodState pod(String name, String ip) {
    return ready(name, ip);
  }


  @Test
  void readyPodIsAPersistentZnodeInUpsyncFormat() throws Exception {
    Sink s = sink(Map.of());
    apply(s, null, pod("web-1", "10.0.0.1"));
    byte[] data = reader.getData().forPath("/nginx/upstreams/web/10.0.0.1:8080");
    assertEquals("{\"weight\":1,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}", new String(data, StandardCharsets.UTF_8));
    assertEquals(0, reader.checkExists().forPath("/nginx/upstreams/web/10.0.0.1:8080").getEphemeralOwner(), "persistent, not ephemeral");
    assertNotNull(reader.checkExists().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080"), "ownership marker beside the data");
  }

  @Test
  void unreadyDrainsWithDownThenDeletesButNeverTheLastServer() throws Exception {
    Sink s = sink(Map.of());
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    apply(s, null, a);
    apply(s, null, b);
    context.pods.addAll(List.of(a, b));

    context.pods.set(0, withReady(a, false));
    apply(s, a, withReady(a, false));
    assertTrue(upstream("web").get("10.0.0.1:8080").down(), "drained first: down:1");
    await().until(() -> !upstream("web").containsKey("10.0.0.1:8080"));
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"));

    context.pods.set(1, withTerminating(b));
    apply(s, b, withTerminating(b));
    await().until(() -> context.metric("upstream_removals_held_total", "last_server") == 1.0);
    assertTrue(upstream("web").get("10.0.0.2:8080").down(), "the last server stays, down, so the upstream is never empty");

    PodState c = pod("web-3", "10.0.0.3");
    context.pods.add(c);
    apply(s, null, c);
    // A new server frees the held one.
    await().until(() -> List.copyOf(upstream("web").keySet()).equals(List.of("10.0.0.3:8080")));
  }

  @Test
  void aServerWantedAgainBeforeItsDrainEndsIsKept() throws Exception {
    Sink s = sink(Map.of("drainDelay", "300ms"));
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    apply(s, null, a);
    apply(s, null, b);
    context.pods.addAll(List.of(withReady(a, false), b));
    apply(s, a, withReady(a, false));
    context.pods.set(0, a);
    apply(s, withReady(a, false), a);
    await().until(() -> context.metric("upstream_entries_written_total") >= 3);
    assertFalse(upstream("web").get("10.0.0.1:8080").down());
    await().during(java.time.Duration.ofMillis(500)).until(() -> upstream("web").containsKey("10.0.0.1:8080"));
    assertEquals(0.0, context.metric("upstream_entries_deleted_total"));
  }

  @Test
  void rollingUpdateNeverServesATerminatingPodAndNeverEmpties() throws Exception {
    Sink s = sink(Map.of("drainDelay", "50ms"));
    List<PodState> live = new ArrayList<>(List.of(pod("web-a", "10.0.1.1"), pod("web-b", "10.0.1.2"), pod("web-c", "10.0.1.3")));
    for (PodState p : live) {
      apply(s, null, p);
    }
    context.pods.addAll(live);
    List<String> terminated = new CopyOnWriteArrayList<>();
    List<String> violations = new CopyOnWriteArrayList<>();
    java.util.concurrent.atomic.AtomicInteger views = new java.util.concurrent.atomic.AtomicInteger();
    AtomicBoolean reading = new AtomicBoolean(true);
    Thread nginx = new Thread(() -> {
      while (reading.get()) {
        try {
          List<String> goneBefore = List.copyOf(terminated);
          Map<String, UpsyncEntry> view = consistentUpstream("web");
          if (view == null) {
            continue;
          }
          views.incrementAndGet();
          List<String> up = view.entrySet().stream().filter(e -> !e.getValue().down()).map(Map.Entry::getKey).toList();
          // Every pod was ready before the first read: from then on some server must take traffic.
          if (view.isEmpty()) {
            violations.add("empty upstream");
          } else if (up.isEmpty()) {
            violations.add("no server with down:0 " + view);
          }
          for (String gone : goneBefore) {
            if (up.contains(gone)) {
              violations.add("served terminating " + gone);
            }
          }
        } catch (Exception e) {
          violations.add(e.toString());
        }
      }
    });
    nginx.start();
    for (int i = 0; i < 3; i++) {
      PodState old = live.get(i);
      PodState fresh = pod("web-new-" + i, "10.0.2." + (i + 1));
      context.pods.add(fresh);
      apply(s, null, fresh);
      context.pods.remove(old);
      context.pods.add(withTerminating(old));
      apply(s, old, withTerminating(old));
      terminated.add(old.address());
    }
    await().until(() -> upstream("web").keySet().equals(java.util.Set.of("10.0.2.1:8080", "10.0.2.2:8080", "10.0.2.3:8080")));
    reading.set(false);
    nginx.join();
    assertEquals(List.of(), violations);
    assertTrue(views.get() > 0, "the reader saw the upstream");
  }

  @Test
  void aServiceChangeAtTheSameAddressDrainsTheOldUpstreamEntry() throws Exception {
    Sink s = sink(Map.of());
    context.synced = false; // no reconcile pass: only the change below may move the server
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    apply(s, null, a);
    apply(s, null, b);
    context.pods.addAll(List.of(a, b));

    PodState moved = withService(a, "api"); // same uid, same address, another upstream
    context.pods.set(0, moved);
    apply(s, a, moved);
    assertFalse(upstream("api").get("10.0.0.1:8080").down(), "registered in its new upstream");
    assertTrue(upstream("web").get("10.0.0.1:8080").down(), "drained at once in its old one");
    await().until(() -> upstream("web").keySet().equals(Set.of("10.0.0.2:8080")));
    assertFalse(upstream("api").get("10.0.0.1:8080").down(), "deleting the old entry leaves the new one alone");
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"));
  }

  @Test
  void aPodWithoutAnIpv4AddressIsRejectedCountedAndNeverWritten() throws Exception {
    Sink s = sink(Map.of());
    PodState v4 = pod("web-1", "10.0.0.1");
    PodState v6 = pod("web-2", "fd00:10::2");
    apply(s, null, v4);
    apply(s, null, v6);
    context.pods.addAll(List.of(v4, v6));
    assertEquals(Set.of("10.0.0.1:8080"), upstream("web").keySet(), "upsync needs IPv4:port keys");
    assertEquals(1.0, context.metric("upstream_entries_rejected_total", "not_ipv4"));

    UpstreamTestAccess.reconcile(s);
    assertEquals(Set.of("10.0.0.1:8080"), upstream("web").keySet(), "reconcile does not write it either");

    context.pods.set(1, withTerminating(v6));
    apply(s, v6, withTerminating(v6));
    assertEquals(Set.of("10.0.0.1:8080"), upstream("web").keySet(), "nor does its offline");
    assertEquals(0.0, context.metric("upstream_entries_drained_total"));
  }

  @Test
  void aRestartLetsADrainingServerServeItsWholeDrainDelay() throws Exception {
    Sink first = sink(Map.of("drainDelay", "2s"));
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    PodState c = pod("web-3", "10.0.0.3");
    for (PodState p : List.of(a, b, c)) {
      apply(first, null, p);
    }
    apply(first, c, withReady(c, false));
    first.close(); // mid-drain: web-3 is down:1, its deletion never ran
    sinks.remove(first);

    Sink second = sink(Map.of("drainDelay", "2s", "reconcileEvery", "50ms"));
    context.pods.addAll(List.of(a, b, withReady(c, false)));
    await().until(() -> context.metric("reconcile_runs_total", "ok") >= 2);
    Map<String, UpsyncEntry> view = upstream("web");
    assertTrue(view.containsKey("10.0.0.3:8080") && view.get("10.0.0.3:8080").down(),
        "still draining after the restart, not deleted at the first pass: " + view);
    await().until(() -> !upstream("web").containsKey("10.0.0.3:8080"));
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"));
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down));
    second.close();
  }

  @Test
  void aRefusedDrainAndADeletionThatRemovedNothingAreCounted() throws Exception {
    Sink s = sink(Map.of("drainDelay", "2s"));
    context.synced = false; // no reconcile pass: only the changes below act
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    PodState c = pod("web-3", "10.0.0.3");
    for (PodState p : List.of(a, b, c)) {
      apply(s, null, p);
    }
    context.pods.addAll(List.of(a, b, c));

    // Someone took web-1's key over (our marker is gone): the drain must leave it alone, visibly.
    reader.delete().forPath("/k8s-sync/owners/c1/web/10.0.0.1:8080");
    context.pods.set(0, withReady(a, false));
    apply(s, a, withReady(a, false));
    assertFalse(upstream("web").get("10.0.0.1:8080").down(), "a foreign key is not written");
    assertEquals(1.0, context.metric("upstream_foreign_entries_total"));

    // Someone removed web-2's node while it drained: the deletion finds nothing to remove.
    context.pods.set(1, withReady(b, false));
    apply(s, b, withReady(b, false));
    reader.delete().forPath("/nginx/upstreams/web/10.0.0.2:8080");
    await().until(() -> context.metric("upstream_deletes_missed_total") == 1.0);
    assertEquals(0.0, context.metric("upstream_entries_deleted_total"));
  }

  @Test
  void aFailedDeletionIsCountedAndRetried() throws Exception {
    Sink s = sink(Map.of("drainDelay", "1s"));
    context.synced = false; // no reconcile pass: only the drain timer deletes
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    apply(s, null, a);
    apply(s, null, b);
    context.pods.addAll(List.of(withReady(a, false), b));
    apply(s, a, withReady(a, false));
    zk.stop();
    await().atMost(java.time.Duration.ofSeconds(20)).until(() -> context.metric("upstream_delete_retries_total") >= 1);
    zk.restart();
    await().atMost(java.time.Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> upstream("web").keySet().equals(Set.of("10.0.0.2:8080")));
    // Counted on the drainer's thread once the deletion returned, after the node is gone for a reader.
    await().atMost(java.time.Duration.ofSeconds(10)).until(() -> context.metric("upstream_entries_deleted_total") >= 1.0);
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"));
  }

  @Test
  void aRestartedDaemonRemovesNoLiveServer() throws Exception {
    Sink first = sink(Map.of());
    List<PodState> live = List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"), pod("web-3", "10.0.0.3"));
    for (PodState p : live) {
      apply(first, null, p);
    }
    first.close();
    sinks.remove(first);
    assertEquals(3, upstream("web").size(), "nothing disappears with the daemon's session");

    Sink second = sink(Map.of("reconcileEvery", "50ms"));
    context.pods.addAll(live);
    await().until(() -> context.metric("reconcile_runs_total", "ok") >= 3);
    assertEquals(3, upstream("web").size());
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down));
    assertEquals(0.0, context.metric("upstream_entries_drained_total"));
    assertEquals(0.0, context.metric("reconcile_drift_total", "orphan"));
    second.close();
  }

  @Test
  void reconcileRepairsDriftAndLeavesForeignEntriesAlone() throws Exception {
    reader.create().creatingParentsIfNeeded().forPath("/nginx/upstreams/web/10.9.9.9:80", "{\"weight\":5}".getBytes());
    reader.create().creatingParentsIfNeeded().forPath("/nginx/upstreams/web/10.0.0.2:8080", "{\"weight\":7}".getBytes());
    Sink s = sink(Map.of("reconcileEvery", "50ms"));
    PodState a = pod("web-1", "10.0.0.1");
    PodState b = pod("web-2", "10.0.0.2");
    context.pods.addAll(List.of(a, b));
    await().until(() -> upstream("web").containsKey("10.0.0.1:8080"));
    assertEquals(5, upstream("web").get("10.9.9.9:80").weight(), "a foreign server is never changed");
    assertEquals(7, upstream("web").get("10.0.0.2:8080").weight(), "a foreign key at our address is not overwritten");
    assertTrue(context.metric("upstream_foreign_entries_total") >= 1);
    assertThrows(SinkException.class, () -> apply(s, null, b));

    // Someone deletes our entry: the next pass puts it back.
    reader.delete().forPath("/nginx/upstreams/web/10.0.0.1:8080");
    await().until(() -> upstream("web").containsKey("10.0.0.1:8080"));
    assertTrue(context.metric("reconcile_drift_total", "missing") >= 2);
  }

  @Test
  void noReconcileBeforeTheInitialListIsComplete() throws Exception {
    Sink first = sink(Map.of());
    for (int i = 1; i <= 3; i++) {
      apply(first, null, pod("web-" + i, "10.0.0." + i));
    }
    first.close();
    sinks.remove(first);
    Map<String, Object> c = new HashMap<>(Map.of("connect", zk.getConnectString(), "reconcileEvery", "20ms"));
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(), c, Selector.ALL);
    context.synced = false; // the cache is still empty: every entry would look like an orphan
    Sink s = new ZooKeeperSinkFactory().create(context);
    s.start();
    sinks.add(s);
    await().during(java.time.Duration.ofMillis(400)).until(() -> context.metric("reconcile_runs_total", "ok") == 0.0);
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down), "nothing drained before the list is in");
    context.pods.addAll(List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"), pod("web-3", "10.0.0.3")));
    context.synced = true;
    await().until(() -> context.metric("reconcile_runs_total", "ok") >= 1);
    assertEquals(3, upstream("web").size());
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down));
  }

  @Test
  void dryRunNeverReconciles() throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("connect", zk.getConnectString(), "reconcileEvery", "20ms"));
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(), c, Selector.ALL);
    context.dryRun = true;
    context.pods.add(pod("web-1", "10.0.0.1"));
    Sink s = new ZooKeeperSinkFactory().create(context);
    s.start();
    sinks.add(s);
    assertEquals(List.of("put web/10.0.0.1:8080 {\"weight\":1,\"max_fails\":2,\"fail_timeout\":10,\"down\":0,\"backup\":0}"),
        s.plan(List.of(PodChange.of("c1/ns/web-1", null, pod("web-1", "10.0.0.1")))));
    await().during(java.time.Duration.ofMillis(300)).until(() -> reader.checkExists().forPath("/nginx/upstreams") == null);
    assertEquals(0.0, context.metric("reconcile_runs_total", "ok"));
  }

  @Test
  void reconcileRepairsInTransactions() throws Exception {
    Sink s = sink(Map.of());
    for (int i = 0; i < 150; i++) {
      context.pods.add(pod("web-" + i, "10.0." + (i / 200) + "." + (i % 200 + 1)));
    }
    UpstreamTestAccess.reconcile(s);
    List<String> children = reader.getChildren().forPath("/nginx/upstreams/web");
    assertEquals(150, children.size());
    java.util.Set<Long> zxids = new java.util.HashSet<>();
    for (String c : children) {
      zxids.add(reader.checkExists().forPath("/nginx/upstreams/web/" + c).getCzxid());
    }
    assertEquals(3, zxids.size(), "150 repairs in 3 transactions (64 + 64 + 22): " + zxids);
  }

  @Test
  void massRemovalIsHeldUntilASecondPassAgrees() throws Exception {
    Sink s = sink(Map.of());
    List<PodState> live = List.of(pod("web-1", "10.0.0.1"), pod("web-2", "10.0.0.2"), pod("web-3", "10.0.0.3"),
        pod("web-4", "10.0.0.4"));
    for (PodState p : live) {
      apply(s, null, p);
    }
    // The cache says none of them exist (a bad relist, say): the first pass must not act.
    UpstreamTestAccess.reconcile(s);
    assertEquals(1.0, context.metric("upstream_removals_held_total", "mass_removal"));
    assertTrue(upstream("web").values().stream().noneMatch(UpsyncEntry::down), "held: nothing drained yet");
    UpstreamTestAccess.reconcile(s);
    assertTrue(upstream("web").values().stream().allMatch(UpsyncEntry::down), "confirmed by the second pass: drained");
  }

  @Test
  void survivesARegistryOutage() throws Exception {
    Sink s = sink(Map.of("reconcileEvery", "100ms"));
    PodState a = pod("web-1", "10.0.0.1");
    apply(s, null, a);
    context.pods.add(a);
    zk.stop();
    PodState b = pod("web-2", "10.0.0.2");
    context.pods.add(b);
    SinkException e = assertThrows(SinkException.class, () -> apply(s, null, b));
    assertTrue(e.retriable(), "an outage is retried, not dropped");
    zk.restart();
    await().atMost(java.time.Duration.ofSeconds(30)).ignoreExceptions()
        .until(() -> upstream("web").keySet().equals(java.util.Set.of("10.0.0.1:8080", "10.0.0.2:8080")));
  }

  @Test
  void digestAuthProtectsCreatedNodesFromOthersButLetsNginxRead() throws Exception {
    java.nio.file.Path pw = java.nio.file.Files.createTempFile("zk", ".pw");
    java.nio.file.Files.writeString(pw, "s3cret");
    Sink s = sink(Map.of("auth", Map.of("username", "k8s-sync", "password", "${file:" + pw + "}")));
    apply(s, null, pod("web-1", "10.0.0.1"));
    List<ACL> acl = reader.getACL().forPath("/nginx/upstreams/web/10.0.0.1:8080");
    assertTrue(acl.stream().anyMatch(x -> x.getId().getScheme().equals("digest") && x.getPerms() == ZooDefs.Perms.ALL), acl.toString());
    assertTrue(acl.stream().anyMatch(x -> x.getId().getScheme().equals("world") && x.getPerms() == ZooDefs.Perms.READ), acl.toString());
    assertNotNull(reader.getData().forPath("/nginx/upstreams/web/10.0.0.1:8080"), "anonymous read works");
    assertThrows(KeeperException.NoAuthException.class,
        () -> reader.setData().forPath("/nginx/upstreams/web/10.0.0.1:8080", "{}".getBytes()));
    assertFalse(context.config().toString().contains("s3cret"));
  }

  @Test
  void upstreamNamesFromPodValuesAreCheckedBeforeTheyBecomePaths() throws Exception {
    Sink s = sink(Map.of("upstream", "{service}-{label.track}"));
    PodState base = pod("web-1", "10.0.0.1");
    PodState hostile = new PodState(base.cluster(), base.namespace(), base.name(), base.uid(), base.service(), base.ip(),
        base.hostIp(), base.port(), base.node(), base.phase(), true, false, 1, Map.of(), Map.of("track", "x/../../zookeeper"),
        Map.of(), "1", 0, 0, null);
    SinkException e = assertThrows(SinkException.class, () -> apply(s, null, hostile));
    assertFalse(e.retriable());
    assertNull(reader.checkExists().forPath("/nginx/upstreams/web-x"));
    assertNull(reader.checkExists().forPath("/zookeeper/upstreams"));
  }
}

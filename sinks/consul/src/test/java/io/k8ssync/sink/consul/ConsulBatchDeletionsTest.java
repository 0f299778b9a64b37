package io.k8ssync.sink.consul;

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
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Deletions of drained servers that fall due together, as a counting proxy in front of a real
 * Consul agent sees them: one transaction for many (a check of a server that stays, and a
 * delete-cas of each at the index the sink knows), the last server of an upstream never deleted,
 * and a server wanted again by the time its deletion runs left alone. The drain delay is 1 s, so
 * deletions due within 100 ms of each other are done together: the drains of one batch, even in a
 * cold JVM on a loaded machine.
 */
class ConsulBatchDeletionsTest {

  private final ProxiedConsulSink fixture = new ProxiedConsulSink("1s");
  private final ConsulAgent consul = fixture.consul;
  private final ConsulProxy proxy = fixture.proxy;
  private final Sink sink = fixture.sink;
  private final TestSinkContext context = fixture.context;

  @AfterEach
  void close() {
    fixture.close();
  }

  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return fixture.upstream(name);
  }

  private List<PodState> registered(int n) throws Exception {
    List<PodState> pods = fixture.registered(n);
    proxy.requests.clear();
    return pods;
  }

  /** The first {@code n} pods become unready in one batch (one transaction of down:1). */
  private void unready(List<PodState> pods, int n) throws Exception {
    List<PodChange> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      PodState before = pods.get(i);
      PodState after = withReady(before, false);
      context.pods.set(i, after);
      batch.add(PodChange.of(before.key(), before, after));
    }
    sink.apply(batch);
  }

  @Test
  void drainedServersFallingDueTogetherAreDeletedInOneTransaction() throws Exception {
    List<PodState> pods = registered(10);

    unready(pods, 6);
    // The counter moves once the transaction's answer is back, a moment after Consul shows the result.
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream("web").size() == 4
        && context.metric("upstream_entries_deleted_total") >= 6.0);

    // down:1 of the six, then their six deletions with a check of a server that stays: two transactions, no read.
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests);
    assertEquals(6.0, context.metric("upstream_entries_deleted_total"));
    for (int i = 6; i < 10; i++) {
      assertTrue(upstream("web").containsKey("10.0.0." + (i + 1) + ":8080"));
    }
  }

  @Test
  void drainedServersOfTwoUpstreamsFallingDueTogetherShareOneTransaction() throws Exception {
    List<PodState> pods = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      PodState web = ready("web-" + i, "10.0.0." + (i + 1));
      pods.add(i < 3 ? web : new PodState(web.cluster(), web.namespace(), "api-" + i, "uid-api-" + i, "api", "10.0.1." + (i + 1),
          web.hostIp(), web.port(), web.node(), web.phase(), true, false, 1, Map.of(), Map.of(), Map.of(), "1", 0, 0, null));
    }
    context.pods.addAll(pods);
    sink.apply(pods.stream().map(p -> PodChange.of(p.key(), null, p)).toList());
    assertEquals(3, upstream("web").size());
    assertEquals(3, upstream("api").size());
    proxy.requests.clear();

    // Two of each upstream drained in one batch.
    List<PodChange> batch = new ArrayList<>();
    for (int i : new int[] {0, 1, 3, 4}) {
      PodState after = withReady(pods.get(i), false);
      context.pods.set(i, after);
      batch.add(PodChange.of(pods.get(i).key(), pods.get(i), after));
    }
    sink.apply(batch);
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream("web").size() == 1 && upstream("api").size() == 1
        && context.metric("upstream_entries_deleted_total") >= 4.0);

    // down:1 of the four; then one transaction: in each upstream, a check of the server that stays and two deletions.
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests);
    assertTrue(upstream("web").containsKey("10.0.0.3:8080"));
    assertTrue(upstream("api").containsKey("10.0.1.6:8080"));
    assertEquals(4.0, context.metric("upstream_entries_deleted_total"));
  }

  @Test
  void whenEveryServerFallsDueAtOnceOneStaysDownAndHeld() throws Exception {
    List<PodState> pods = registered(4);

    unready(pods, 4);
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("upstream_removals_held_total", "last_server") == 1.0);

    Map<String, UpsyncEntry> web = upstream("web");
    assertEquals(1, web.size(), "one server stays: " + web);
    assertTrue(web.values().iterator().next().down(), "and stays down:1: " + web);
    assertEquals(3.0, context.metric("upstream_entries_deleted_total"));
    // down:1 of the four; three deletions checking the one that stays, in one transaction; a read
    // of the upstream before the last one is held (a server the sink does not know may be there).
    List<String> requests = List.copyOf(proxy.requests);
    assertEquals(3, requests.size(), requests.toString());
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), requests.subList(0, 2), requests.toString());
    assertTrue(requests.get(2).startsWith("GET /v1/kv/upstreams"), requests.toString());
  }

  @Test
  void aPodReadyAgainBeforeItsDeletionRunsIsNotDeleted() throws Exception {
    List<PodState> pods = registered(8);
    unready(pods, 5);
    // Ready again in the cache, with no change applied yet (it is still queued): the deletion,
    // re-reading the cache under the upstream's lock, must leave this one alone.
    context.pods.set(2, pods.get(2));

    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("upstream_entries_deleted_total") == 4.0);

    Map<String, UpsyncEntry> web = upstream("web");
    assertEquals(4, web.size(), web.toString());
    assertTrue(web.containsKey("10.0.0.3:8080"), web.toString());
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests, "down:1 of the five, then four deletions in one");
  }
}

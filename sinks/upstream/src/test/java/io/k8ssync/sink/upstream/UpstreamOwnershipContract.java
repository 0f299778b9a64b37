package io.k8ssync.sink.upstream;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.TestSinkContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two daemons that share a cluster name but not their pods (two teams, two namespaces, one
 * registry) with their own {@code ownerId}s: neither changes nor removes the other's servers, even
 * in an upstream both use; entries written before the owner id existed (the cluster's default
 * mark) are taken over in place when this daemon's pods want them, and otherwise left to the
 * daemon with the default id. Run against a real registry by each registry module.
 */
public abstract class UpstreamOwnershipContract {

  protected abstract SinkFactory factory();

  protected abstract Map<String, Object> connection();

  /** The servers of an upstream, read as nginx-upsync reads them: address → entry. */
  protected abstract Map<String, UpsyncEntry> upstream(String name) throws Exception;

  /** When the registry created this key (Consul CreateIndex, ZooKeeper czxid): unchanged while it is never deleted. */
  protected abstract long createdAt(String upstream, String address) throws Exception;

  private final List<Sink> sinks = new ArrayList<>();

  @AfterEach
  void closeSinks() {
    sinks.forEach(Sink::close);
  }

  protected record Daemon(Sink sink, TestSinkContext context) {

    void start(PodState p) throws SinkException {
      context.pods.add(p);
      sink.apply(List.of(PodChange.of(p.key(), null, p)));
    }

    void reconcile(int passes) throws SinkException {
      for (int i = 0; i < passes; i++) {
        UpstreamTestAccess.reconcile(sink);
      }
    }
  }

  /** A daemon's sink with its own pods only; {@code ownerId} null: the default (the cluster's name). */
  protected final Daemon daemon(String ownerId, PodState... pods) throws Exception {
    Map<String, Object> c = new HashMap<>(connection());
    c.put("drainDelay", "200ms");
    c.put("reconcileEvery", "1h");
    if (ownerId != null) {
      c.put("ownerId", ownerId);
    }
    TestSinkContext ctx = new TestSinkContext("registry", factory().configDef(), c, Selector.ALL);
    ctx.pods.addAll(List.of(pods));
    Sink s = factory().create(ctx);
    s.start();
    sinks.add(s);
    return new Daemon(s, ctx);
  }

  private static PodState pod(String name, String ip) {
    return ready(name, ip); // cluster c1, service web: both teams have a service called web
  }

  private Set<String> up() throws Exception {
    Set<String> out = new java.util.TreeSet<>();
    upstream("web").forEach((a, e) -> {
      if (!e.down()) {
        out.add(a);
      }
    });
    return out;
  }

  @Test
  void twoOwnersOfOneClusterNameNeverRemoveEachOthersServersThroughRestarts() throws Exception {
    PodState a1 = pod("a-1", "10.0.1.1");
    PodState a2 = pod("a-2", "10.0.1.2");
    PodState b1 = pod("b-1", "10.0.2.1");
    PodState b2 = pod("b-2", "10.0.2.2");
    Daemon a = daemon("team-a");
    Daemon b = daemon("team-b");
    a.start(a1);
    a.start(a2);
    b.start(b1);
    b.start(b2);
    Set<String> all = Set.of("10.0.1.1:8080", "10.0.1.2:8080", "10.0.2.1:8080", "10.0.2.2:8080");
    // Several passes each: a held mass removal goes ahead on the second pass that still wants it.
    a.reconcile(3);
    b.reconcile(3);
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> up().equals(all));

    // team-a restarts while a-2 went away: it removes a-2 and nothing of team-b.
    a.sink.close();
    a = daemon("team-a", a1);
    a.reconcile(3);
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream("web").keySet().equals(
        Set.of("10.0.1.1:8080", "10.0.2.1:8080", "10.0.2.2:8080")));
    // team-b restarts with both its pods: it finds its own servers, changes nothing, removes nothing.
    b.sink.close();
    b = daemon("team-b", b1, b2);
    b.reconcile(3);
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> up().equals(
        Set.of("10.0.1.1:8080", "10.0.2.1:8080", "10.0.2.2:8080")));
    assertEquals(0.0, b.context.metric("reconcile_drift_total", "orphan"), "team-a's servers are not team-b's orphans");
    assertEquals(0.0, b.context.metric("reconcile_drift_total", "changed"));
  }

  @Test
  void aServerWrittenBeforeTheOwnerIdIsTakenOverInPlaceWhenOurPodWantsIt() throws Exception {
    PodState p = pod("a-1", "10.0.1.1");
    PodState q = pod("a-2", "10.0.1.2");
    Daemon before = daemon(null, p, q);
    before.start(p);
    before.start(q);
    long created = createdAt("web", "10.0.1.1:8080");
    before.sink.close();

    // team-a sets its owner id; meanwhile q went away.
    Daemon a = daemon("team-a", p);
    // Its first start after the change: p's change from the initial list is on its way too. The pass takes over, counted.
    a.context.pending.add(p.key());
    a.reconcile(2);
    assertEquals(created, createdAt("web", "10.0.1.1:8080"), "re-marked in place, never deleted and created again");
    assertEquals(1.0, a.context.metric("upstream_owner_marks_taken_over_total"));
    // q carries the default mark and no pod of team-a wants it: it may be another team's, so it stays.
    await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(5)).until(() -> up().equals(Set.of("10.0.1.1:8080", "10.0.1.2:8080")));
    assertEquals(1.0, a.context.metric("upstream_removals_held_total", "other_owner"));

    // The daemon that kept the default id removes q (its orphan), never p (team-a's now).
    Daemon stillDefault = daemon(null);
    stillDefault.reconcile(2);
    await().atMost(Duration.ofSeconds(10)).until(() -> upstream("web").keySet().equals(Set.of("10.0.1.1:8080")));
    assertFalse(upstream("web").get("10.0.1.1:8080").down());
  }

  @Test
  void aRegistrationTakesOverTheDefaultMarkInPlaceButADrainNeverDoes() throws Exception {
    PodState p = pod("a-1", "10.0.1.1");
    PodState other = pod("b-1", "10.0.2.1");
    Daemon legacy = daemon(null, p, other);
    legacy.start(p);
    legacy.start(other);
    long created = createdAt("web", "10.0.1.1:8080");

    Daemon a = daemon("team-a", p);
    // p changes weight: its registration re-marks the key in place.
    PodState heavier = io.k8ssync.sink.PodStates.withWeight(p, 5);
    a.context.pods.set(0, heavier);
    a.sink.apply(List.of(PodChange.of(p.key(), p, heavier)));
    assertEquals(5, upstream("web").get("10.0.1.1:8080").weight());
    assertEquals(created, createdAt("web", "10.0.1.1:8080"));

    // A stale pod at another team's address stops being ready in team-a's cache: the drain leaves that key alone.
    PodState stale = pod("a-9", "10.0.2.1");
    a.sink.apply(List.of(PodChange.of(stale.key(), stale, io.k8ssync.sink.PodStates.withReady(stale, false))));
    assertFalse(upstream("web").get("10.0.2.1:8080").down(), "another owner's server is not drained");
    assertTrue(a.context.metric("upstream_foreign_entries_total") >= 1);
    // And the default daemon cannot change p any more.
    assertThrows(SinkException.class, () -> legacy.sink.apply(List.of(PodChange.of(heavier.key(), heavier, p))));
    assertEquals(5, upstream("web").get("10.0.1.1:8080").weight());
  }
}

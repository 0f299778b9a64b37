package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withWeight;
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
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sink's writes as a counting proxy in front of a real Consul agent sees them: a batch's writes
 * in transactions of 64 without reads, a key's index known from the sink's own writes, and every
 * ownership and "never empty an upstream" guarantee kept when that knowledge is stale.
 */
class ConsulBatchWritesTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private final ConsulProxy proxy;
  private final HttpClient http = HttpClient.newHttpClient();
  /** An upsync entry another client wrote (flags 0). */
  private static final String FOREIGN = "{\"weight\":3,\"max_fails\":2,\"fail_timeout\":10,\"down\":0}";
  private Sink sink;
  private TestSinkContext context;

  ConsulBatchWritesTest() throws Exception {
    proxy = new ConsulProxy(consul.url());
    context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
        Map.of("url", proxy.url(), "drainDelay", "200ms", "reconcileEvery", "0", "timeout", "2s"), Selector.ALL);
    sink = new ConsulSinkFactory().create(context);
    sink.start();
  }

  @AfterEach
  void close() {
    sink.close();
    proxy.close();
    consul.close();
  }

  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
  }

  private List<PodState> pods(int n) {
    List<PodState> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(ready("web-" + i, "10.0." + (i / 250) + "." + (i % 250 + 1)));
    }
    return out;
  }

  private static List<PodChange> registrations(List<PodState> pods) {
    return pods.stream().map(p -> PodChange.of(p.key(), null, p)).toList();
  }

  /** Someone else's key: written by hand with flags 0, as any other Consul client would. */
  private void foreignKey(String address, String value) throws Exception {
    http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/" + address))
        .PUT(HttpRequest.BodyPublishers.ofString(value)).build(), HttpResponse.BodyHandlers.discarding());
  }

  private String raw(String address) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/" + address + "?raw")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  @Test
  void aBatchOfRegistrationsIsOneTransactionPer64AndNoRead() throws Exception {
    List<PodState> pods = pods(64);
    context.pods.addAll(pods);
    sink.apply(registrations(pods));
    // The first write reads the prefix once, for the keys an earlier run left; nothing else is read.
    assertEquals(1, proxy.count("GET "), proxy.requests.toString());
    assertEquals(1, proxy.count("PUT /v1/txn"), proxy.requests.toString());
    assertEquals(64, upstream("web").size());

    // A change of all 64 (a new weight) and 36 new ones: two transactions, no read.
    proxy.requests.clear();
    List<PodChange> batch = new ArrayList<>();
    for (PodState p : pods) {
      batch.add(PodChange.of(p.key(), p, withWeight(p, 7)));
    }
    List<PodState> more = pods(100).subList(64, 100);
    batch.addAll(registrations(more));
    sink.apply(batch.subList(0, 64));
    sink.apply(batch.subList(64, 100));
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests);
    Map<String, UpsyncEntry> web = upstream("web");
    assertEquals(100, web.size());
    assertEquals(64, web.values().stream().filter(e -> e.weight() == 7).count());
  }

  @Test
  void aForeignKeyInABatchIsRefusedAndTheOthersAreWritten() throws Exception {
    foreignKey("10.0.0.5:8080", FOREIGN);
    List<PodState> pods = pods(10);
    context.pods.addAll(pods);

    SinkException e = assertThrows(SinkException.class, () -> sink.apply(registrations(pods)));

    assertFalse(e.retriable(), "refused for good, as a single registration is: " + e.getMessage());
    assertEquals(Set.of(pods.get(4).key()), e.failedKeys());
    assertEquals(FOREIGN, raw("10.0.0.5:8080"));
    Map<String, UpsyncEntry> web = upstream("web");
    assertEquals(10, web.size(), "the 9 others written beside the foreign key: " + web);
    assertEquals(3, web.get("10.0.0.5:8080").weight());
    assertEquals(1.0, context.metric("upstream_foreign_entries_total"));
  }

  @Test
  void aKeyTakenOverBehindTheSinksBackIsReadAgainAndNeverOverwritten() throws Exception {
    PodState a = ready("web-1", "10.0.0.1");
    PodState b = ready("web-2", "10.0.0.2");
    context.pods.addAll(List.of(a, b));
    sink.apply(registrations(List.of(a, b)));
    // Another writer replaces a's key after the sink wrote it: the index the sink knows is stale.
    foreignKey("10.0.0.1:8080", FOREIGN);

    proxy.requests.clear();
    SinkException e = assertThrows(SinkException.class,
        () -> sink.apply(List.of(PodChange.of(a.key(), a, withWeight(a, 5)), PodChange.of(b.key(), b, withWeight(b, 5)))));

    assertEquals(Set.of(a.key()), e.failedKeys());
    assertFalse(e.retriable());
    assertEquals(FOREIGN, raw("10.0.0.1:8080"));
    assertEquals(5, upstream("web").get("10.0.0.2:8080").weight());
    assertEquals(1.0, context.metric("consul_refused_total", "cas_conflict"), "the check-and-set at the stale index");
    // The batch's transaction, refused as a whole; then each key alone after a read of it.
    assertEquals(2, proxy.count("GET /v1/kv/upstreams"), proxy.requests.toString());
    assertEquals(2, proxy.count("PUT /v1/txn"), "the refused one, then b's alone: " + proxy.requests);
  }

  @Test
  void aDrainedServerIsDeletedInOneRequestWhenAnotherServerIsKnown() throws Exception {
    PodState a = ready("web-1", "10.0.0.1");
    PodState b = ready("web-2", "10.0.0.2");
    context.pods.addAll(List.of(a, b));
    sink.apply(registrations(List.of(a, b)));
    proxy.requests.clear();

    context.pods.set(0, withReady(a, false));
    sink.apply(List.of(PodChange.of(a.key(), a, withReady(a, false))));
    await().atMost(Duration.ofSeconds(10)).until(() -> !upstream("web").containsKey("10.0.0.1:8080"));

    // down:1, then the deletion checking b at its index: two transactions, no read of the upstream.
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests);
    assertTrue(upstream("web").containsKey("10.0.0.2:8080"));
    assertEquals(1.0, context.metric("upstream_entries_deleted_total"));
  }
}

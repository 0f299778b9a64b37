package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withWeight;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpstreamTestAccess;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the consul sink sends, counted by a proxy in front of a real agent: one listing per pass; deletions that can never empty an upstream. */
class ConsulRegistryRoundTripsTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private final ConsulProxy proxy;
  private final List<Sink> sinks = new ArrayList<>();
  private TestSinkContext context;

  ConsulRegistryRoundTripsTest() throws Exception {
    proxy = new ConsulProxy(consul.url());
  }

  @AfterEach
  void close() {
    sinks.forEach(Sink::close);
    proxy.close();
    consul.close();
  }

  private Sink sink(Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("url", proxy.url(), "drainDelay", "200ms", "reconcileEvery", "0", "timeout", "2s"));
    c.putAll(extra);
    context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), c, Selector.ALL);
    Sink s = new ConsulSinkFactory().create(context);
    s.start();
    sinks.add(s);
    return s;
  }

  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
  }

  @Test
  void aReconcilePassListsTheRegistryOnceAndWritesInTransactionsOf64() throws Exception {
    Sink s = sink(Map.of());
    List<PodState> pods = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      PodState p = ready("web-" + i, "10.0." + (i / 250) + "." + (i % 250 + 1));
      pods.add(p);
      s.apply(List.of(PodChange.of(p.key(), null, p)));
    }
    // Every entry drifted (a new weight): the pass repairs all 200.
    for (PodState p : pods) {
      context.pods.add(withWeight(p, 7));
    }
    proxy.requests.clear();
    UpstreamTestAccess.reconcile(s);

    assertEquals(1, proxy.count("GET /v1/kv/upstreams"), "one listing: " + proxy.requests);
    assertEquals(4, proxy.count("PUT /v1/txn"), "200 writes in transactions of 64: " + proxy.requests);
    assertEquals(5, proxy.requests.size(), "nothing read again: " + proxy.requests);
    assertEquals(200, upstream("web").values().stream().filter(e -> e.weight() == 7).count());
  }

  @Test
  void anotherWriterRemovingTheOtherServerMeanwhileNeverEmptiesTheUpstream() throws Exception {
    Sink s = sink(Map.of());
    PodState a = ready("web-1", "10.0.0.1");
    PodState b = ready("web-2", "10.0.0.2");
    context.pods.add(a);
    context.pods.add(b);
    s.apply(List.of(PodChange.of(a.key(), null, a)));
    s.apply(List.of(PodChange.of(b.key(), null, b)));
    context.pods.set(0, withReady(a, false));
    s.apply(List.of(PodChange.of(a.key(), a, withReady(a, false))));

    // Right before this sink's deletion of a reaches Consul, another writer (a replica leading
    // another cluster that shares the upstream) deletes b: a is now the last server.
    proxy.beforeNextWrite(() -> {
      try {
        HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/10.0.0.2:8080"))
            .DELETE().build(), HttpResponse.BodyHandlers.discarding());
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });

    await().atMost(Duration.ofSeconds(10)).until(() -> !upstream("web").containsKey("10.0.0.2:8080"));
    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(8)).until(() -> {
      Map<String, UpsyncEntry> web = upstream("web");
      return web.size() == 1 && web.get("10.0.0.1:8080").down();
    });
    assertEquals(1.0, context.metric("upstream_removals_held_total", "last_server"));
  }

  @Test
  void aFolderKeyIsNoServerTheLastServerStays() throws Exception {
    // The Consul UI creates folder keys; upsync skips them, so they keep no upstream from being empty.
    HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/"))
        .PUT(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    Sink s = sink(Map.of());
    PodState a = ready("web-1", "10.0.0.1");
    context.pods.add(a);
    s.apply(List.of(PodChange.of(a.key(), null, a)));
    context.pods.set(0, withReady(a, false));
    s.apply(List.of(PodChange.of(a.key(), a, withReady(a, false))));

    await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(8)).until(() -> {
      Map<String, UpsyncEntry> web = upstream("web");
      return web.size() == 1 && web.get("10.0.0.1:8080").down();
    });
    assertEquals(1.0, context.metric("upstream_removals_held_total", "last_server"));
  }
}

package io.k8ssync.sink.consul;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpstreamRegistry;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.kiwiproject.consul.Consul;

/**
 * A reconcile pass that lists the registry while the sink is still applying the initial list (every start)
 * finds the servers missing that the apply path writes a moment later. Its repair of a key this sink has
 * written since the listing, with the value the pass wants, is done already: nothing is sent for it.
 * Before, its check-and-set at the listed index failed the chunk's transaction, and every key of the chunk
 * was read again, one request each.
 */
class ConsulRepairAfterWriteTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private final ConsulProxy proxy;
  private final Consul client;
  private final ConsulRegistry registry;

  ConsulRepairAfterWriteTest() throws Exception {
    proxy = new ConsulProxy(consul.url());
    client = Consul.builder().withUrl(proxy.url()).withPing(false).build();
    TestSinkContext context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), Map.of("url", proxy.url()),
        Selector.ALL);
    registry = new ConsulRegistry(client.keyValueClient(), "upstreams", Duration.ofSeconds(2), client::destroy, context.metrics());
  }

  @AfterEach
  void close() {
    client.destroy();
    proxy.close();
    consul.close();
  }

  private static final UpsyncEntry UP = UpsyncEntry.of(1, 2, 10, false, false);

  @Test
  void aRepairOfKeysWrittenSinceTheListingWithTheWantedValueSendsNothing() throws Exception {
    assertEquals(Map.of(), registry.list(Set.of("prod")), "the pass's listing: nothing there yet");
    List<UpstreamRegistry.Put> applied = List.of(
        new UpstreamRegistry.Put("prod", "web", "10.0.0.1:8080", UP, true),
        new UpstreamRegistry.Put("prod", "web", "10.0.0.2:8080", UP, true));
    registry.putBatch(applied); // the apply path, after the listing
    proxy.requests.clear();

    List<UpstreamRegistry.Write> refused = registry.putAll(List.of(
        new UpstreamRegistry.Write("prod", "web", "10.0.0.1:8080", UP, UpstreamRegistry.Write.ABSENT),
        new UpstreamRegistry.Write("prod", "web", "10.0.0.2:8080", UP, UpstreamRegistry.Write.ABSENT)));

    assertEquals(List.of(), refused);
    assertEquals(List.of(), List.copyOf(proxy.requests), "written already, as wanted: nothing to send");
  }

  /**
   * The apply path's write can also land between the pass's check and its transaction (its
   * transaction in flight while the pass decides): the chunk is refused for that one key. The rest of
   * the chunk is still at its listed index, so it goes again as one transaction, not a read per key.
   * FootprintBench's start at 1,000 pods: half the reconcile thread's samples were such reads.
   */
  @Test
  void aChunkRefusedForAKeyWrittenMeanwhileGoesAgainWithoutItAndWithoutReads() throws Exception {
    assertEquals(Map.of(), registry.list(Set.of("prod")), "the pass's listing: nothing there yet");
    List<UpstreamRegistry.Write> repairs = new java.util.ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      repairs.add(new UpstreamRegistry.Write("prod", "web", "10.0.0." + i + ":8080", UP, UpstreamRegistry.Write.ABSENT));
    }
    proxy.beforeNextWrite(() -> {
      try {
        registry.putBatch(List.of(new UpstreamRegistry.Put("prod", "web", "10.0.0.1:8080", UP, true))); // the apply path
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    proxy.requests.clear();

    List<UpstreamRegistry.Write> refused = registry.putAll(repairs);

    assertEquals(List.of(), refused);
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn", "PUT /v1/txn"), List.copyOf(proxy.requests),
        "the apply's write, the refused chunk, the chunk again without the key written meanwhile; no read");
    Map<String, ?> web = registry.list(Set.of("prod")).get("prod").get("web");
    assertEquals(10, web.size());
  }

  /** A key written since the listing with another value is still repaired: the pass's value is written, after a read. */
  @Test
  void aKeyWrittenSinceTheListingWithAnotherValueIsStillRepaired() throws Exception {
    registry.list(Set.of("prod"));
    registry.putBatch(List.of(new UpstreamRegistry.Put("prod", "web", "10.0.0.1:8080", UP.withDown(true), true)));

    List<UpstreamRegistry.Write> refused = registry.putAll(List.of(
        new UpstreamRegistry.Write("prod", "web", "10.0.0.1:8080", UP, UpstreamRegistry.Write.ABSENT)));

    assertEquals(List.of(), refused);
    assertEquals(UP, registry.list(Set.of("prod")).get("prod").get("web").get("10.0.0.1:8080").entry());
  }
}

package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A started consul sink that writes through a counting proxy to a real agent, without periodic reconcile
 * passes: what the tests that count the sink's requests share.
 */
final class ProxiedConsulSink implements AutoCloseable {

  final ConsulAgent consul = ConsulAgent.started();
  final ConsulProxy proxy;
  final TestSinkContext context;
  final Sink sink;

  /** Unchecked, so a test can hold one in a field. */
  ProxiedConsulSink(String drainDelay) {
    ConsulProxy p = null;
    try {
      p = new ConsulProxy(consul.url());
      context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
          Map.of("url", p.url(), "drainDelay", drainDelay, "reconcileEvery", "0", "timeout", "2s"), Selector.ALL);
      sink = new ConsulSinkFactory().create(context);
      sink.start();
    } catch (Exception e) {
      if (p != null) {
        p.close();
      }
      consul.close();
      throw new IllegalStateException("consul sink not started", e);
    }
    proxy = p;
  }

  /** The upstream as nginx-upsync reads it, from the agent itself. */
  Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return new UpsyncReader(consul.url(), "upstreams", name).now();
  }

  /** {@code n} ready pods of upstream web (web-0 at 10.0.0.1, ...), in the cache and registered in one batch. */
  List<PodState> registered(int n) throws Exception {
    List<PodState> pods = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      pods.add(ready("web-" + i, "10.0.0." + (i + 1)));
    }
    context.pods.addAll(pods);
    sink.apply(pods.stream().map(p -> PodChange.of(p.key(), null, p)).toList());
    assertEquals(n, upstream("web").size());
    return pods;
  }

  @Override
  public void close() {
    sink.close();
    proxy.close();
    consul.close();
  }
}

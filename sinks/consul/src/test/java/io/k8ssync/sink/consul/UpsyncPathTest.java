package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withService;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The documented nginx-upsync path, {@code /v1/kv/<prefix>/<upstream>/} with its trailing slash,
 * reads exactly one upstream on a real Consul, even beside a service whose name extends it.
 */
class UpsyncPathTest {

  private final ConsulAgent consul = ConsulAgent.started();
  private Sink sink;

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    consul.close();
  }

  @Test
  void anUpstreamReadsOnlyItsOwnServersBesideAServiceWhoseNameExtendsIt() throws Exception {
    TestSinkContext context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(),
        Map.of("url", consul.url(), "reconcileEvery", "0", "timeout", "2s"), Selector.ALL);
    sink = new ConsulSinkFactory().create(context);
    sink.start();
    PodState web = ready("web-1", "10.0.0.1");
    PodState webx = withService(ready("webx-1", "10.0.0.2"), "webx");
    sink.apply(List.of(PodChange.of(web.key(), null, web)));
    sink.apply(List.of(PodChange.of(webx.key(), null, webx)));

    assertEquals(Set.of("10.0.0.1:8080"), new UpsyncReader(consul.url(), "upstreams", "web").now().keySet());
    assertEquals(Set.of("10.0.0.2:8080"), new UpsyncReader(consul.url(), "upstreams", "webx").now().keySet());
  }
}

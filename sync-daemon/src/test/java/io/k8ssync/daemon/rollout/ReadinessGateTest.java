package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RoutingSinkFactory;
import io.k8ssync.daemon.testing.RoutingSinkFactory.Routing;
import io.k8ssync.daemon.testing.TestKubelet;
import io.k8ssync.daemon.testing.TestPods;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The readiness gate against a real API server, with a kubelet played as the real one computes
 * Ready (containers ready and every gate True): a gated pod turns Ready only once the sinks have
 * it online, says what it waits for while it waits, and is left alone when nothing changed.
 */
@ExtendWith(KubeApiServerExtension.class)
class ReadinessGateTest {

  static final String GATE = "k8s-sync.io/online";

  static String namespace(KubernetesClient client, String prefix) {
    return io.k8ssync.daemon.testing.TestPods.namespace(client, prefix);
  }

  static Pod gated(String ns, String name, String... otherGates) {
    PodBuilder b = new PodBuilder(TestPods.scheduled(ns, name)).editSpec().addNewReadinessGate().withConditionType(GATE)
        .endReadinessGate().endSpec();
    for (String g : otherGates) {
      b = b.editSpec().addNewReadinessGate().withConditionType(g).endReadinessGate().endSpec();
    }
    return b.build();
  }

  static String ip(String name) {
    return "10.77.0." + (Math.abs(name.hashCode()) % 250 + 2);
  }

  static Daemon daemon(KubeApi api, String ns, String sinks, String rollout) throws Exception {
    return Daemons.synced(String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: real, namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 200ms, jitter: 0}}",
        "rollout: {" + rollout + "}",
        "sinks: [" + sinks + "]", ""), api::client);
  }

  static PodCondition gate(KubernetesClient client, String ns, String name) {
    return TestKubelet.condition(client.pods().inNamespace(ns).withName(name).get(), GATE);
  }

  static boolean ready(KubernetesClient client, String ns, String name) {
    Pod p = client.pods().inNamespace(ns).withName(name).get();
    return p != null && "True".equals(TestKubelet.status(p, "Ready"));
  }

  @Test
  void aGatedPodTurnsReadyOnlyOnceItsSinksHaveItOnlineAndSaysWhatItWaitsFor(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "gate");
      Daemon d = daemon(api, ns, "{name: reg-" + ns + ", type: routing}", "readinessGate: {enabled: true}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        reg.failWith = "HTTP 503 from the registry";
        client.pods().inNamespace(ns).resource(gated(ns, "web-1")).create();

        // Containers ready, the sink failing: the gate says False, naming the sink and its error.
        await().atMost(Duration.ofSeconds(30)).until(() -> {
          PodCondition c = gate(client, ns, "web-1");
          return c != null && "False".equals(c.getStatus()) && "SinkFailing".equals(c.getReason());
        });
        PodCondition waiting = gate(client, ns, "web-1");
        assertTrue(waiting.getMessage().contains("reg-" + ns + " (failing: ") && waiting.getMessage().contains("HTTP 503"),
            waiting.getMessage());
        assertFalse(ready(client, ns, "web-1"), "not Ready while a sink does not have it online");
        assertTrue(reg.online.isEmpty());

        // The sink recovers: online there, then the gate True, then Ready.
        reg.failWith = null;
        await().atMost(Duration.ofSeconds(30)).until(() -> ready(client, ns, "web-1"));
        PodCondition online = gate(client, ns, "web-1");
        assertEquals("True", online.getStatus());
        assertEquals("Online", online.getReason());
        assertTrue(online.getMessage().contains("reg-" + ns), online.getMessage());
        assertTrue(reg.online.contains("web-1"));
        assertTrue(reg.last("online", "web-1").isBefore(java.time.Instant.now()));

        // Nothing changed for the gate: a status heartbeat sends no patch.
        double patches = Daemons.counter(d, "k8s_sync_readiness_gate_patches", Map.of());
        String transition = online.getLastTransitionTime();
        TestPods.touch(client, ns, "web-1", 3);
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
            .until(() -> Daemons.counter(d, "k8s_sync_readiness_gate_patches", Map.of()) == patches);
        assertEquals(transition, gate(client, ns, "web-1").getLastTransitionTime(), "lastTransitionTime moves only on a flip");
      } finally {
        d.close();
      }
    }
  }

  @Test
  void aPodWaitsForItsOtherGatesAndAnUngatedPodIsNeverPatched(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "gate2");
      Daemon d = daemon(api, ns, "{name: reg-" + ns + ", type: routing}", "readinessGate: {enabled: true}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        client.pods().inNamespace(ns).resource(gated(ns, "lb-1", "example.com/lb")).create();
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "plain-1")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> reg.online.contains("plain-1"));
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> !reg.online.contains("lb-1"));
        assertNull(gate(client, ns, "lb-1"), "another gate is False: not ready to register, nothing to say yet");
        assertNull(gate(client, ns, "plain-1"), "a pod without the gate is never patched");

        // The other controller sets its gate: now it is ready to register, and ours follows.
        client.pods().inNamespace(ns).withName("lb-1").subresource("status").patch(
            io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.STRATEGIC_MERGE),
            "{\"status\":{\"conditions\":[{\"type\":\"example.com/lb\",\"status\":\"True\"}]}}");
        await().atMost(Duration.ofSeconds(30)).until(() -> ready(client, ns, "lb-1"));
        assertTrue(reg.online.contains("lb-1"));

        // Containers turn unready: out of traffic, and the gate says so, so the next Ready waits for the sinks again.
        kubelet.containers("lb-1", false);
        await().atMost(Duration.ofSeconds(30)).until(() -> {
          PodCondition c = gate(client, ns, "lb-1");
          return "False".equals(c.getStatus()) && "NotReadyToRegister".equals(c.getReason());
        });
        assertFalse(reg.online.contains("lb-1"));
        kubelet.containers("lb-1", true);
        await().atMost(Duration.ofSeconds(30)).until(() -> ready(client, ns, "lb-1"));
      } finally {
        d.close();
      }
    }
  }
}

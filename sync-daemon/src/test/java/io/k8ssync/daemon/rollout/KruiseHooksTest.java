package io.k8ssync.daemon.rollout;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
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
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * OpenKruise lifecycle hooks against a real API server. The test plays the Kruise controller by its
 * published contract (a CloneSet whose lifecycle preNormal, inPlaceUpdate and preDelete hooks name
 * the label {@code k8s-sync.io/traffic-hook: "true"}): it moves the state label, and waits for the
 * hook before it goes on. k8s-sync sets the hook once the pod is online, removes it once the pod is
 * offline everywhere, and never removes a hook someone else set.
 */
@ExtendWith(KubeApiServerExtension.class)
class KruiseHooksTest {

  static final String STATE = "lifecycle.apps.kruise.io/state";
  static final String HOOK = "k8s-sync.io/traffic-hook";

  static Pod kruisePod(String ns, String name, String state, boolean hooked) {
    PodBuilder b = new PodBuilder(TestPods.scheduled(ns, name)).editMetadata().addToLabels(STATE, state).endMetadata();
    if (hooked) {
      b = b.editMetadata().addToLabels(HOOK, "true").endMetadata();
    }
    return b.build();
  }

  static Pod pod(KubernetesClient client, String ns, String name) {
    return client.pods().inNamespace(ns).withName(name).get();
  }

  static String label(KubernetesClient client, String ns, String name, String key) {
    Pod p = pod(client, ns, name);
    return p == null || p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(key);
  }

  /** What Kruise does: moves the pod's lifecycle state. */
  static void state(KubernetesClient client, String ns, String name, String state) {
    // Read, change, write with the version read; another writer in between (the kubelet, k8s-sync) means read again.
    await().atMost(Duration.ofSeconds(10)).ignoreException(io.fabric8.kubernetes.client.KubernetesClientException.class)
        .until(() -> {
          client.pods().inNamespace(ns).withName(name).edit(p -> new PodBuilder(p).editMetadata().addToLabels(STATE, state)
              .endMetadata().build());
          return true;
        });
  }

  @Test
  void theHookFollowsThePodOnlineAndOfflineThroughCreationInPlaceUpdateAndDeletion(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "kruise");
      Daemon d = ReadinessGateTest.daemon(api, ns, "{name: reg-" + ns + ", type: routing, config: {drain: 300ms}}",
          "kruise: {enabled: true}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);

        // preNormal: Kruise creates the pod PreparingNormal and waits for the hook.
        client.pods().inNamespace(ns).resource(kruisePod(ns, "cs-1", "PreparingNormal", false)).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> "true".equals(label(client, ns, "cs-1", HOOK)));
        Instant hookSet = Instant.now();
        assertTrue(reg.online.contains("cs-1") && reg.last("online", "cs-1").isBefore(hookSet), "online first, then the hook");
        assertEquals(HOOK, pod(client, ns, "cs-1").getMetadata().getAnnotations().get("k8s-sync.io/lifecycle-hook"),
            "k8s-sync marks the hook as its own");
        state(client, ns, "cs-1", "Normal");

        // inPlaceUpdate: PreparingUpdate → k8s-sync takes the pod offline (drain included), then removes the hook.
        state(client, ns, "cs-1", "PreparingUpdate");
        await().atMost(Duration.ofSeconds(30)).until(() -> label(client, ns, "cs-1", HOOK) == null);
        Instant hookRemoved = Instant.now();
        Instant offline = reg.last("offline", "cs-1");
        assertTrue(offline != null && offline.isAfter(reg.last("draining", "cs-1")) && offline.isBefore(hookRemoved),
            "offline everywhere before the hook goes: " + reg.reports);
        assertFalse(reg.online.contains("cs-1"));
        assertNull(pod(client, ns, "cs-1").getMetadata().getAnnotations().get("k8s-sync.io/lifecycle-hook"));

        // Kruise updates in place (containers restart), then Updated: online again, then the hook is back.
        state(client, ns, "cs-1", "Updating");
        kubelet.containers("cs-1", false);
        state(client, ns, "cs-1", "Updated");
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> label(client, ns, "cs-1", HOOK) == null);
        kubelet.containers("cs-1", true);
        await().atMost(Duration.ofSeconds(30)).until(() -> "true".equals(label(client, ns, "cs-1", HOOK)));
        assertTrue(reg.online.contains("cs-1"), "online before the hook is set back");
        state(client, ns, "cs-1", "Normal");

        // preDelete: PreparingDelete → offline everywhere, then the hook goes and Kruise may delete.
        state(client, ns, "cs-1", "PreparingDelete");
        await().atMost(Duration.ofSeconds(30)).until(() -> label(client, ns, "cs-1", HOOK) == null);
        assertFalse(reg.online.contains("cs-1"));
        assertTrue(Daemons.counter(d, "k8s_sync_lifecycle_hook_transitions", Map.of("action", "set", "result", "ok")) >= 2);
        assertTrue(Daemons.counter(d, "k8s_sync_lifecycle_hook_transitions", Map.of("action", "removed", "result", "ok")) >= 2);
      } finally {
        d.close();
      }
    }
  }

  @Test
  void aHookSetBySomeoneElseIsLeftAlone(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = ReadinessGateTest.namespace(client, "kruise2");
      Daemon d = ReadinessGateTest.daemon(api, ns, "{name: reg-" + ns + ", type: routing}", "kruise: {enabled: true}");
      try (TestKubelet kubelet = new TestKubelet(client, ns, ReadinessGateTest::ip, p -> { })) {
        Routing reg = RoutingSinkFactory.get("reg-" + ns);
        // Born with the hook from its template: not k8s-sync's.
        client.pods().inNamespace(ns).resource(kruisePod(ns, "cs-9", "Normal", true)).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> reg.online.contains("cs-9"));
        state(client, ns, "cs-9", "PreparingDelete");
        await().atMost(Duration.ofSeconds(30)).until(() -> !reg.online.contains("cs-9"));
        await().atMost(Duration.ofSeconds(10)).until(() ->
            Daemons.counter(d, "k8s_sync_lifecycle_hook_transitions", Map.of("action", "left_alone")) == 1);
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
            .until(() -> "true".equals(label(client, ns, "cs-9", HOOK)));
        assertEquals(0.0, Daemons.counter(d, "k8s_sync_lifecycle_hook_transitions", Map.of("action", "removed")));
      } finally {
        d.close();
      }
    }
  }
}

package io.k8ssync.daemon.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.k8ssync.daemon.informer.RolloutRules;
import io.k8ssync.sink.PodState;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each rollout write is one PATCH carrying its preconditions, and nothing else: the gate patches sit
 * on the rollout's one thread, where a GET before each (fabric8's named patch) doubled the round trips.
 */
@EnableKubernetesMockClient
class PodPatchesTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  static final PodState POD = new PodState("real", "ns", "web-1", "uid-1", "web", "10.0.0.1", "192.168.0.1", 8080, "node-1",
      PodState.Phase.RUNNING, true, false, 1, Map.of(), Map.of(), Map.of(), "41", 1_700_000_000_000L, 1_700_000_000_000L, null);
  static final RolloutRules.Marks MARKS = new RolloutRules.Marks("uid-1", "42", true, null, null, false, false);

  @Test
  void theGateConditionIsOnePatchOfTheStatusWithUidAndResourceVersion() throws Exception {
    server.expect().patch().withPath("/api/v1/namespaces/ns/pods/web-1/status")
        .andReturn(200, new PodBuilder().withNewMetadata().withName("web-1").withNamespace("ns").endMetadata().build()).once();
    while (server.takeRequest(1, TimeUnit.MILLISECONDS) != null) {
      // the other test's requests
    }
    int before = server.getRequestCount();

    assertEquals(PodPatches.Result.OK,
        PodPatches.condition(client, POD, MARKS, "k8s-sync.io/online", true, "Online", "online in consul", true, p -> { }));

    assertEquals(1, server.getRequestCount() - before, "one round trip, no GET first");
    RecordedRequest r = server.takeRequest();
    assertEquals("PATCH", r.getMethod());
    assertEquals("/api/v1/namespaces/ns/pods/web-1/status", r.getPath());
    assertTrue(r.getHeader("Content-Type").startsWith("application/strategic-merge-patch+json"), r.getHeader("Content-Type"));
    String body = r.getUtf8Body();
    assertTrue(body.contains("\"uid\":\"uid-1\"") && body.contains("\"resourceVersion\":\"42\""), body);
    assertTrue(body.contains("\"type\":\"k8s-sync.io/online\"") && body.contains("\"status\":\"True\""), body);
  }

  @Test
  void aConflictAndAGonePodAreAnsweredFromThePatchAlone() {
    server.expect().patch().withPath("/api/v1/namespaces/ns/pods/web-1/status").andReturn(409, "{}").once();
    server.expect().patch().withPath("/api/v1/namespaces/ns/pods/web-1").andReturn(404, "{}").once();
    int before = server.getRequestCount();

    assertEquals(PodPatches.Result.CONFLICT,
        PodPatches.condition(client, POD, MARKS, "k8s-sync.io/online", false, "SinkPending", "waiting for consul (pending)", true, p -> { }));
    assertEquals(PodPatches.Result.GONE, PodPatches.hook(client, POD, MARKS, "k8s-sync.io/traffic-hook", "true", p -> { }));
    assertEquals(2, server.getRequestCount() - before);
  }
}

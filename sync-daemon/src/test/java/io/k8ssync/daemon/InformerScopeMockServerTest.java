package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.pending;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two clusters in one daemon, each with its own namespaces and label selector (both served by the
 * one mock API server): a pod reaches the cache and the sinks only through a cluster that watches
 * its namespace and whose selector it matches, and carries that cluster's name.
 */
@EnableKubernetesMockClient(crud = true)
class InformerScopeMockServerTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private static final Map<String, String> EAST = Map.of("sync", "yes");
  private static final Map<String, String> WEST = Map.of("team", "blue");
  private static final Map<String, String> BOTH = Map.of("sync", "yes", "team", "blue");

  private final String id = UUID.randomUUID().toString().substring(0, 8);
  private final String ns1 = "e" + id + "-1";
  private final String ns2 = "e" + id + "-2";
  private final String ns3 = "w" + id + "-3";
  private final String unwatched = "x" + id + "-4";
  private final String sinkName = "scope-" + id;
  private Daemon daemon;

  @AfterEach
  void stop() {
    if (daemon != null) {
      daemon.close();
    }
  }

  private static void create(String namespace, String name, Map<String, String> labels) {
    Pod pod = new PodBuilder(pending(namespace, name, "web"))
        .editMetadata().addToLabels(labels).endMetadata().build();
    client.pods().inNamespace(namespace).resource(pod).create();
  }

  private static Set<String> keys(Recording sink) {
    return sink.applied.stream().map(PodChange::key).collect(Collectors.toSet());
  }

  private Set<String> cached() {
    return daemon.cache().pods().stream().map(PodState::key).collect(Collectors.toSet());
  }

  @Test
  void eachClusterSeesOnlyItsNamespacesAndSelectorAndNamesItsPods() throws Exception {
    // Listed at start.
    create(ns1, "a1", BOTH);
    create(ns1, "n-unlabelled", Map.of());
    create(ns3, "c1", BOTH);
    create(unwatched, "n-listed", BOTH);

    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters:",
        "  - {name: east, namespaces: [" + ns1 + ", " + ns2 + "], labelSelector: 'sync=yes'}",
        "  - {name: west, namespaces: [" + ns3 + "], labelSelector: 'team=blue'}",
        "sinks:",
        "  - {name: " + sinkName + ", type: recording}",
        "");
    daemon = Daemons.synced(yaml, () -> server.createClient());

    // Watched: each would be seen by a cluster that ignored its namespaces or borrowed the other's selector.
    create(ns1, "n-west-label", WEST);
    create(ns2, "n-wrong-value", Map.of("sync", "no"));
    create(ns3, "n-east-label", EAST);
    create(unwatched, "n-watched", BOTH);
    create(ns2, "a2", EAST);
    // Created last: a watch delivers in order, so once these are cached, everything before them was seen or filtered.
    create(ns1, "z1", EAST);
    create(ns2, "z2", EAST);
    create(ns3, "z3", WEST);

    Set<String> expected = Set.of(
        "east/" + ns1 + "/a1", "east/" + ns2 + "/a2", "west/" + ns3 + "/c1",
        "east/" + ns1 + "/z1", "east/" + ns2 + "/z2", "west/" + ns3 + "/z3");
    Recording sink = RecordingSinkFactory.get(sinkName);
    await().until(() -> cached().containsAll(expected)
        && daemon.dispatcher().runner(sinkName).queue().unfinished() == 0
        && keys(sink).containsAll(expected));

    assertEquals(expected, cached(), "the cache holds exactly the pods in scope");
    assertEquals(expected, keys(sink), "the sink got exactly the pods in scope");
    for (PodChange c : sink.applied) {
      String namespace = c.latest().namespace();
      String cluster = namespace.equals(ns3) ? "west" : "east";
      assertEquals(cluster, c.latest().cluster(), c.key() + " carries the name of the cluster that watched it");
    }
  }
}

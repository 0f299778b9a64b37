package io.k8ssync.daemon;

import static io.k8ssync.daemon.RealApiServerTest.startDaemon;
import static io.k8ssync.daemon.RealApiServerTest.transitions;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeProcesses;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Transition;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The API server the daemon watches goes away while pods change (through a second API server on
 * the same etcd), then comes back on the same address. Its watch cache starts over, so the
 * informer's old resourceVersion is too old (410 Gone) and it relists: the cache must converge,
 * with DELETED only for the pod that really went away.
 */
class WatchInterruptionTest {

  private static double informerUpdates(Daemon daemon) {
    return io.k8ssync.daemon.testing.Daemons.counter(daemon, "k8s_sync_informer_events", java.util.Map.of("type", "UPDATE"));
  }

  @Test
  void apiServerRestartConvergesWithoutSpuriousDeletes() throws Exception {
    String ns = "watch";
    try (KubeProcesses kube = new KubeProcesses().startEtcd()) {
      KubeProcesses.ApiServer watched = kube.startApiServer();
      try (KubernetesClient c = watched.client()) {
        c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        for (String p : List.of("p1", "p2", "p3")) {
          c.pods().inNamespace(ns).resource(TestPods.scheduled(ns, p)).create();
          c.pods().inNamespace(ns).withName(p).editStatus(x -> TestPods.withReadyStatus(x, "10.244.2." + p.charAt(1), true));
        }
      }
      Daemon daemon = startDaemon("restart", ns, "rec-restart", watched::client);
      try {
        Recording rec = RecordingSinkFactory.get("rec-restart");
        await().atMost(Duration.ofSeconds(30)).until(() -> daemon.cache().size() == 3
            && daemon.dispatcher().runner("rec-restart").queue().unfinished() == 0);
        int seenBefore = rec.applied.size();
        double updatesBefore = informerUpdates(daemon);

        watched.stop();
        KubeProcesses.ApiServer other = kube.startApiServer();
        try (KubernetesClient c = other.client()) {
          c.pods().inNamespace(ns).withName("p3").withGracePeriod(0).delete();
          c.pods().inNamespace(ns).withName("p2").editStatus(x -> TestPods.withReadyStatus(x, "10.244.2.2", false));
          c.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "p4")).create();
          // Enough writes that the restarted server's history cannot reach back to the daemon's version.
          TestPods.touch(c, ns, "p1", 20);
        }
        other.stop();
        watched.start();

        await().atMost(Duration.ofSeconds(90)).until(() -> daemon.cache().size() == 3
            && daemon.cache().get("restart/" + ns + "/p4") != null
            && daemon.cache().get("restart/" + ns + "/p3") == null
            && !daemon.cache().get("restart/" + ns + "/p2").ready()
            && daemon.dispatcher().runner("rec-restart").queue().unfinished() == 0);

        List<PodChange> after = rec.applied.subList(seenBefore, rec.applied.size());
        assertEquals(List.of("restart/" + ns + "/p3"),
            after.stream().filter(x -> x.transition() == Transition.DELETED).map(PodChange::key).toList(),
            "only the pod that went away is DELETED");
        assertTrue(transitions(rec, "p2").contains(Transition.BECAME_UNREADY));
        assertEquals(Transition.ADDED, transitions(rec, "p4").get(0));
        assertFalse(transitions(rec, "p1").contains(Transition.DELETED), "p1 never left");
        assertTrue(daemon.cache().get("restart/" + ns + "/p1").ready());
        // A resumed watch would replay p1's 20 edits; a relist sees p1 once, at its latest version.
        double updates = informerUpdates(daemon) - updatesBefore;
        assertTrue(updates >= 1, "updates were counted after the restart");
        assertTrue(updates < 20, "the informer relisted instead of replaying the watch: " + updates);
      } finally {
        daemon.close();
      }
    }
  }
}

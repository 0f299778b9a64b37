package io.k8ssync.daemon;

import static io.k8ssync.daemon.RealApiServerTest.transitions;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeProcesses;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Transition;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The relist guard against a real API server: while the daemon's API server is away, most pods
 * go; when it comes back, the informer relists and would remove them all at once. The guard holds
 * those removals (nothing goes offline), then a new list confirms them and they are applied.
 */
class RelistGuardTest {

  private static double relist(Daemon d, String outcome) {
    return Daemons.counter(d, "k8s_sync_relist_removals", Map.of("outcome", outcome));
  }

  private static long deleted(Recording r) {
    return r.applied.stream().filter(c -> c.transition() == Transition.DELETED).count();
  }

  @Test
  void aRelistThatWouldRemoveMostPodsIsHeldUntilANewListConfirms() throws Exception {
    String ns = "relist";
    try (KubeProcesses kube = new KubeProcesses().startEtcd()) {
      KubeProcesses.ApiServer watched = kube.startApiServer();
      try (KubernetesClient c = watched.client()) {
        c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
        for (int i = 0; i < 10; i++) {
          c.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "p" + i)).create();
          TestPods.markReady(c, ns, "p" + i, "10.249.0." + (i + 1), true);
        }
      }
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: guarded, namespaces: [" + ns + "], relistConfirmAfter: 5s}]",
          "sinks: [{name: rec-relist, type: recording}]", "");
      Daemon daemon = Daemons.synced(yaml, watched::client);
      try {
        Recording rec = RecordingSinkFactory.get("rec-relist");
        await().atMost(Duration.ofSeconds(30)).until(() -> daemon.cache().size() == 10
            && daemon.dispatcher().runner("rec-relist").queue().unfinished() == 0);

        watched.stop();
        KubeProcesses.ApiServer other = kube.startApiServer();
        try (KubernetesClient c = other.client()) {
          for (int i = 2; i < 10; i++) {
            c.pods().inNamespace(ns).withName("p" + i).withGracePeriod(0).delete();
          }
          // Enough writes that the restarted server cannot resume the daemon's watch: it relists.
          TestPods.touch(c, ns, "p0", 20);
        }
        other.stop();
        watched.start();

        // The relist finds 2 of 10: 8 removals held, the pods still cached, nothing deleted yet.
        await().atMost(Duration.ofSeconds(90)).until(() -> relist(daemon, "held") == 8);
        assertEquals(0, deleted(rec), "held: no pod went offline");
        assertEquals(10, daemon.cache().size());

        // The confirming list agrees: the 8 go, and only they.
        await().atMost(Duration.ofSeconds(60)).until(() -> relist(daemon, "confirmed") == 8 && deleted(rec) == 8);
        assertEquals(2, daemon.cache().size());
        assertEquals(0.0, relist(daemon, "kept"));
        assertEquals(List.of(), transitions(rec, "p0").stream().filter(t -> t == Transition.DELETED).toList());
        assertEquals(List.of(), rec.applied.stream().filter(x -> x.transition() == Transition.DELETED)
            .map(PodChange::key).filter(k -> k.endsWith("/p0") || k.endsWith("/p1")).toList());
      } finally {
        daemon.close();
      }
    }
  }
}

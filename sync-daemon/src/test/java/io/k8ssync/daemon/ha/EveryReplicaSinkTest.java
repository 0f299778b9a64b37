package io.k8ssync.daemon.ha;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A sink of local state (an upstream file beside each host's nginx) applies on every replica: leader
 * election decides who writes the shared systems, not who keeps its own host in step.
 */
@ExtendWith(KubeApiServerExtension.class)
class EveryReplicaSinkTest {


  @Test
  void aLocalSinkAppliesOnTheStandbyTooWhileTheSharedSinkAppliesOnlyOnTheLeader(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = LeaderElectionTest.namespace(client, "local");
      java.util.function.Function<String, String> yaml = id -> String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "leaderElection: {enabled: true, namespace: " + ns + ", identity: " + id + ", " + LeaderElectionTest.LEASE + "}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 1ms, maxDelay: 20ms, jitter: 0}}",
          "sinks: [{name: shared-" + ns + "-" + id + ", type: recording}, {name: local-" + ns + "-" + id + ", type: recording-local}]", "");
      Daemon a = Daemons.synced(yaml.apply("a"), api::client);
      Daemon b = null;
      try {
        await().atMost(Duration.ofSeconds(30)).until(a::leading);
        b = Daemons.synced(yaml.apply("b"), api::client);
        LeaderElectionTest.readyPod(client, ns, "web-1", "10.244.9.1");

        Recording localA = RecordingSinkFactory.get("local-" + ns + "-a");
        Recording localB = RecordingSinkFactory.get("local-" + ns + "-b");
        Recording sharedA = RecordingSinkFactory.get("shared-" + ns + "-a");
        Recording sharedB = RecordingSinkFactory.get("shared-" + ns + "-b");
        await().atMost(Duration.ofSeconds(30)).until(() -> LeaderElectionTest.sawOnline(localA, "web-1")
            && LeaderElectionTest.sawOnline(localB, "web-1") && LeaderElectionTest.sawOnline(sharedA, "web-1"));
        assertFalse(b.leading(), "b stands by");
        assertTrue(sharedB.applied.isEmpty(), "the standby's shared sink applies nothing: " + sharedB.applied);
        assertFalse(localB.ledAtApply.isEmpty());
        assertTrue(localB.ledAtApply.stream().allMatch(Boolean::booleanValue),
            "the standby's local sink may write its own state: " + localB.ledAtApply);
        assertEquals(List.of("leadershipChanged(real,0,true)"), localB.toldWhat().stream()
            .filter(w -> w.startsWith("leadership")).toList(), "told once that it applies the cluster, never of the Lease");
      } finally {
        a.close();
        if (b != null) {
          b.close();
        }
      }
    }
  }
}

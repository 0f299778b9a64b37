package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.StatusFixtures.events;
import static io.k8ssync.daemon.status.StatusFixtures.get;
import static io.k8ssync.daemon.status.StatusFixtures.namespace;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.sink.PodState;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A replica that leads one cluster and is a standby for another (whose Lease another replica
 * holds): the status API says so and names the leader, and only the led cluster's pods get Events,
 * even from a sink that applies on every replica.
 */
@ExtendWith(KubeApiServerExtension.class)
class StatusStandbyTest {

  @Test
  void aStandbySaysWhoLeadsAndRecordsNoEvents(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String leases = namespace(client, "leases");
      String nsA = namespace(client, "sb-a");
      String nsB = namespace(client, "sb-b");
      StatusFixtures.foreignLease(client, leases, "a", "other-replica");
      String local = "local-" + nsA;
      String shared = "shared-" + nsA;
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 1s}",
          "leaderElection: {enabled: true, namespace: " + leases + ", identity: this-replica, leaseDuration: 3s,"
              + " renewDeadline: 2s, retryPeriod: 200ms}",
          "clusters: [{name: a, namespaces: [" + nsA + "]}, {name: b, namespaces: [" + nsB + "]}]",
          "sinks: [{name: " + shared + ", type: recording}, {name: " + local + ", type: recording-local}]", "");
      Daemon daemon = Daemons.synced(yaml, api::client);
      try {
        await().atMost(Duration.ofSeconds(30)).until(() -> daemon.leading("b"));
        PodEventsTest.readyPod(client, nsA, "a-1", "10.30.0.1");
        await().atMost(Duration.ofSeconds(30)).until(() -> {
          PodProgress.Entry e = daemon.progress().get(local, PodState.key("a", nsA, "a-1"));
          return e != null && e.state() == PodProgress.State.ONLINE;
        });
        PodEventsTest.readyPod(client, nsB, "b-1", "10.30.1.1");
        await().atMost(Duration.ofSeconds(30)).until(() -> events(client, nsB, "b-1", "Online").size() == 2);

        JsonNode body = get(daemon, "/v1/pods").json();
        JsonNode replica = body.get("replica");
        assertEquals("partial", replica.get("role").asText());
        assertEquals("this-replica", replica.get("identity").asText());
        assertEquals("other-replica", replica.get("leaders").get("a").asText());
        assertEquals("this-replica", replica.get("leaders").get("b").asText());
        assertEquals("a", replica.get("standbyFor").get(0).asText());
        assertTrue(replica.get("note").asText().startsWith("this replica is a standby for cluster a (led by other-replica)"),
            replica.toString());
        JsonNode a1 = body.get("pods").get(0);
        assertEquals("a-1", a1.get("name").asText());
        assertEquals("standby", a1.get("sinks").get(shared).get("state").asText(), "the leader of a knows, not this replica");
        assertEquals("online", a1.get("sinks").get(local).get("state").asText(), "local state applies on every replica");
        assertEquals("online", body.get("pods").get(1).get("sinks").get(shared).get("state").asText());

        assertEquals(0, events(client, nsA, "a-1").size(), "the standby of cluster a records nothing on its pods");
      } finally {
        daemon.close();
      }
    }
  }
}

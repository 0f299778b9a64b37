package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.pending;
import static io.k8ssync.daemon.testing.TestPods.withReadyStatus;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * What the daemon tells its sinks besides changes, without leader election: that it leads every
 * cluster in term 0, before the first change, and once that the initial list is in.
 */
@EnableKubernetesMockClient(crud = true)
class SinkToldMockServerTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  @Test
  void withoutLeaderElectionSinksLeadInTermZeroBeforeAnyChangeAndHearOfTheInitialListOnce() throws Exception {
    String ns = "t" + UUID.randomUUID().toString().substring(0, 8);
    String sink = "told-" + ns;
    client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "web-1", "web"), "10.0.9.1", true)).create();
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "clusters: [{name: mock, namespaces: [" + ns + "]}]",
        "sinks: [{name: " + sink + ", type: recording}]", "");
    try (Daemon daemon = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
        spec -> server.createClient(), false)) {
      daemon.start();
      Recording r = RecordingSinkFactory.get(sink);
      await().atMost(Duration.ofSeconds(30)).until(() -> r.toldWhat().contains("podsSynced()")
          && r.toldWhat().contains("applied mock/" + ns + "/web-1"));
      client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "web-2", "web"), "10.0.9.2", true)).create();
      await().atMost(Duration.ofSeconds(30)).until(() -> r.toldWhat().contains("applied mock/" + ns + "/web-2"));

      List<String> told = r.toldWhat();
      assertEquals("leadershipChanged(mock,0,true)", told.get(0), "leadership first, before any change: " + told);
      assertEquals(1, told.stream().filter("podsSynced()"::equals).count(), "the initial list is told once: " + told);
      assertTrue(told.indexOf("podsSynced()") < told.indexOf("applied mock/" + ns + "/web-2"),
          "after the initial list, before the changes that follow it: " + told);
      assertEquals(1, told.stream().filter(t -> t.startsWith("leadershipChanged")).count(), told.toString());
    }
  }
}

package io.k8ssync.daemon.status;

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
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.PodState;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code k8s-sync status} against a running daemon on a real kube-apiserver: a table, JSON, and clear failures. */
@ExtendWith(KubeApiServerExtension.class)
class StatusCommandTest {

  private record Run(int code, String out, String err) {}

  private static Run status(String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    List<String> all = new ArrayList<>(List.of("status"));
    all.addAll(List.of(args));
    // Through the real entry point (package-private), as `k8s-sync status ...` runs.
    java.lang.reflect.Method run = Class.forName("io.k8ssync.daemon.Main")
        .getDeclaredMethod("run", String[].class, PrintStream.class, PrintStream.class);
    run.setAccessible(true);
    int code = (int) run.invoke(null, all.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void printsATableOrJsonFromARunningDaemon(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "cmd");
      String sink = "gw-" + ns;
      Daemon daemon = Daemons.synced(String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 1s}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 5ms, maxDelay: 50ms, jitter: 0}}",
          "sinks: [{name: " + sink + ", type: recording}]", ""), api::client);
      try {
        PodEventsTest.readyPod(client, ns, "web-1", "10.50.0.1");
        await().atMost(Duration.ofSeconds(30)).until(() -> state(daemon, sink, ns, "web-1") == PodProgress.State.ONLINE);
        RecordingSinkFactory.get(sink).failNext.set(Integer.MAX_VALUE);
        PodEventsTest.readyPod(client, ns, "web-2", "10.50.0.2");
        client.pods().inNamespace(ns).resource(TestPods.pending(ns, "api-1", "api")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> state(daemon, sink, ns, "web-2") == PodProgress.State.FAILING);
        String url = "http://127.0.0.1:" + daemon.httpPort();

        Run table = status("--url", url, "--service", "web");
        assertEquals(0, table.code(), table.err());
        String[] lines = table.out().split("\n");
        assertEquals("replica: single", lines[0]);
        assertTrue(table.out().contains("SINK"), table.out());
        assertTrue(table.out().lines().anyMatch(l -> l.startsWith(sink) && l.contains("recording")), table.out());
        assertTrue(table.out().lines().anyMatch(l -> l.startsWith(ns + "/web-1") && l.contains("10.50.0.1") && l.endsWith("online")),
            table.out());
        assertTrue(table.out().lines().anyMatch(l -> l.startsWith(ns + "/web-2") && l.endsWith("failing")), table.out());
        assertTrue(table.out().contains("2 of 2 matching pods shown"), table.out());
        assertTrue(table.out().contains(ns + "/web-2 in " + sink + ": "), "the error under the table: " + table.out());
        assertTrue(!table.out().contains("api-1"), "only the service asked for");

        Run json = status("--url", url, "--ip", "10.50.0.2", "--json");
        assertEquals(0, json.code(), json.err());
        JsonNode body = StatusFixtures.JSON.readTree(json.out());
        assertEquals(1, body.get("pods").size());
        assertEquals("failing", body.get("pods").get(0).get("sinks").get(sink).get("state").asText());

        Run paged = status("--url", url, "--limit", "1");
        assertEquals(0, paged.code());
        assertTrue(paged.out().contains("1 of 3 matching pods shown (raise --limit for more)"), paged.out());

        Run bad = status("--url", url, "--ip", "10.50.0.300");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("400: ip \"10.50.0.300\": expected an IPv4 or IPv6 address"), bad.err());
      } finally {
        daemon.close();
      }
      Run down = status("--url", "http://127.0.0.1:1");
      assertEquals(1, down.code());
      assertTrue(down.err().startsWith("k8s-sync status: cannot reach http://127.0.0.1:1"), down.err());
      Run usage = status("--colour", "red");
      assertEquals(2, usage.code());
      assertTrue(usage.err().contains("unknown option \"--colour\""), usage.err());
    }
  }

  private static PodProgress.State state(Daemon d, String sink, String ns, String pod) {
    PodProgress.Entry e = d.progress().get(sink, PodState.key("real", ns, pod));
    return e == null ? null : e.state();
  }
}

package io.k8ssync.daemon;

import static io.k8ssync.daemon.testing.TestPods.markReady;
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
import io.k8ssync.sink.http.RecordingTarget;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;

/**
 * Every metric the alert rules and the Grafana dashboard use is exported by a running daemon with
 * every sink type, with samples: a renamed metric would leave an alert that can never fire.
 */
@EnableKubernetesMockClient(crud = true)
class MetricNamesTest {

  static KubernetesMockServer server;
  static KubernetesClient client;

  private static final Pattern NAME = Pattern.compile("k8s_sync_[a-z_]+");

  @Test
  void everySeriesOfTheRulesAndTheDashboardIsExported() throws Exception {
    Set<String> used = new TreeSet<>();
    for (Path f : List.of(Path.of("../config/prometheus/k8s-sync-alerts.yaml"), Path.of("../config/grafana/k8s-sync-dashboard.json"))) {
      Matcher m = NAME.matcher(Files.readString(f));
      while (m.find()) {
        used.add(m.group());
      }
    }
    assertTrue(used.size() > 15, "names found: " + used);

    String ns = "metrics";
    Path nginxDir = Files.createTempDirectory("metric-names-nginx-");
    try (TestingServer zk = new TestingServer(true); ConsulAgent consul = ConsulAgent.started(); RecordingTarget gw = new RecordingTarget();
         io.k8ssync.sink.testbed.Nginx nginx = io.k8ssync.sink.testbed.Nginx.started(nginxDir)) {
      // web-1: a retry, then online; web-2: refused (4xx), which drops the change as fatal.
      gw.reply("/online", new RecordingTarget.Reply(503, ""), new RecordingTarget.Reply(200, ""),
          new RecordingTarget.Reply(400, "unknown service"));
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
          "clusters: [{name: mock, namespaces: [" + ns + "]}]",
          "dispatch: {retry: {baseDelay: 1ms, maxDelay: 10ms}}",
          "rollout: {readinessGate: {enabled: true}}",
          "sinks:",
          "  - {name: out, type: log, config: {stream: stderr}}",
          "  - {name: gw, type: http, config: {online: {url: '" + gw.url() + "/online/{service}'}, offline: {url: '" + gw.url() + "/offline/{service}'}}}",
          "  - {name: zk, type: zookeeper, config: {connect: '" + zk.getConnectString() + "', drainDelay: 100ms, reconcileEvery: 200ms}}",
          "  - {name: consul, type: consul, config: {url: '" + consul.url() + "', drainDelay: 100ms, reconcileEvery: 200ms}}",
          "  - {name: nginx, type: nginx, config: {" + nginx.sinkConfigYaml() + "}}",
          "");
      Daemon daemon = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
          spec -> server.createClient(), false);
      daemon.start();
      try (CuratorFramework reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(50))) {
        reader.start();
        daemon.synced().get(30, TimeUnit.SECONDS);
        client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "web-1", "web"), "10.0.5.1", true)).create();
        client.pods().inNamespace(ns).resource(pending(ns, "bad", "../x")).create();
        await().until(() -> reader.checkExists().forPath("/nginx/upstreams/web/10.0.5.1:8080") != null);
        // Someone removes our entry: reconcile finds drift and repairs it.
        reader.delete().forPath("/nginx/upstreams/web/10.0.5.1:8080");
        await().until(() -> reader.checkExists().forPath("/nginx/upstreams/web/10.0.5.1:8080") != null);
        // One of two servers goes unready: drained, then deleted; then the last one: held.
        client.pods().inNamespace(ns).resource(withReadyStatus(pending(ns, "web-2", "web"), "10.0.5.2", true)).create();
        await().until(() -> reader.checkExists().forPath("/nginx/upstreams/web/10.0.5.2:8080") != null);
        markReady(client, ns, "web-1", "10.0.5.1", false);
        await().until(() -> metrics(daemon).contains("k8s_sync_upstream_entries_deleted_total{sink=\"zk\"}"));
        markReady(client, ns, "web-2", "10.0.5.2", false);
        await().until(() -> metrics(daemon).contains("k8s_sync_upstream_removals_held_total{reason=\"last_server\",sink=\"zk\"}"));
        await().until(() -> metrics(daemon).contains("k8s_sync_queue_dropped_total{reason=\"fatal\",sink=\"gw\"}"));

        // A preStop offline wait (here for a pod the daemon does not know) is counted by outcome.
        HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + daemon.httpPort()
            + "/v1/offline-wait?namespace=" + ns + "&pod=nope")).build(), HttpResponse.BodyHandlers.discarding());
        String exported = metrics(daemon);
        for (String name : used) {
          assertTrue(Pattern.compile("(?m)^" + name + "[{ ]").matcher(exported).find(), name + " has no sample in /metrics");
        }
      } finally {
        daemon.close();
      }
    }
  }

  private static String metrics(Daemon d) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.httpPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    return r.body();
  }
}

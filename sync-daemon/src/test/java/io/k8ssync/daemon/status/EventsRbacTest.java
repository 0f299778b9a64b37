package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.StatusFixtures.events;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testbed.KubeProcesses;
import io.k8ssync.daemon.testing.Daemons;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The shipped RBAC (config/kubernetes/rbac.yaml) is enough to record Events, and needed: a daemon
 * running with exactly the ServiceAccount's rights (impersonated, on an API server with RBAC on)
 * writes the Online Event; without the events rule the write is refused, counted, and nothing
 * else breaks.
 */
class EventsRbacTest {

  private static final String SA = "system:serviceaccount:k8s-sync:k8s-sync";

  @Test
  void theServiceAccountMayRecordEventsAndOnlyThroughItsEventsRule() throws Exception {
    try (KubeProcesses kube = new KubeProcesses().startEtcd()) {
      KubeProcesses.ApiServer api = kube.startApiServer();
      try (KubernetesClient admin = api.client()) {
        for (String file : List.of("../config/kubernetes/namespace.yaml", "../config/kubernetes/rbac.yaml")) {
          try (InputStream in = Files.newInputStream(Path.of(file))) {
            for (HasMetadata o : admin.load(in).items()) {
              admin.resource(o).create();
            }
          }
        }
        String ns = StatusFixtures.namespace(admin, "rbac");
        Daemon daemon = asServiceAccount(api, ns);
        try {
          PodEventsTest.readyPod(admin, ns, "web-1", "10.60.0.1");
          await().atMost(Duration.ofSeconds(30)).until(() -> !events(admin, ns, "web-1", "Online").isEmpty());
          assertEquals("k8s-sync", events(admin, ns, "web-1", "Online").get(0).getReportingComponent());
        } finally {
          daemon.close();
        }

        // Without the events rule: the pod still goes online, the Event is refused and counted.
        admin.rbac().clusterRoles().withName("k8s-sync").edit(r -> new ClusterRoleBuilder(r)
            .withRules(r.getRules().stream().filter(rule -> !rule.getResources().contains("events")).toList()).build());
        Daemon denied = asServiceAccount(api, ns);
        try {
          PodEventsTest.readyPod(admin, ns, "web-2", "10.60.0.2");
          await().atMost(Duration.ofSeconds(30)).until(() ->
              Daemons.counter(denied, "k8s_sync_pod_events_dropped", Map.of("reason", "api_error")) >= 1);
          assertTrue(events(admin, ns, "web-2").isEmpty());
          assertTrue(Daemons.counter(denied, "k8s_sync_sink_applied", Map.of()) >= 1, "the sink went on");
        } finally {
          denied.close();
        }
      }
    }
  }

  private static Daemon asServiceAccount(KubeProcesses.ApiServer api, String ns) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 1s}",
        "clusters: [{name: rbac, namespaces: [" + ns + "]}]",
        "sinks: [{name: out-" + ns + ", type: recording}]", "");
    Config config = new ConfigBuilder(api.client().getConfiguration())
        .withImpersonateUsername(SA)
        .withImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:k8s-sync", "system:authenticated")
        .build();
    Daemon d = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
        spec -> new KubernetesClientBuilder().withConfig(config).build(), false);
    d.start();
    d.synced().get(60, TimeUnit.SECONDS);
    return d;
  }
}

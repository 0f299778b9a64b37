package io.k8ssync.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testbed.KubeProcesses;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.TestBed;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The manifests in config/kubernetes against a real API server: accepted by a server-side dry run,
 * and the daemon runs with exactly the ServiceAccount's permissions (by impersonation) — and says
 * clearly what is missing when a permission is taken away.
 */
class KubernetesManifestsTest {

  // A ServiceAccount's token carries these groups too; kubectl's --as alone would not, and without
  // system:authenticated nobody may even ask "can I?" (create selfsubjectaccessreviews).
  private static final String SA = "system:serviceaccount:k8s-sync:k8s-sync";

  @Test
  void manifestsApplyAndTheDaemonRunsWithExactlyThoseRights() throws Exception {
    try (KubeProcesses kube = new KubeProcesses().startEtcd()) {
      KubeProcesses.ApiServer api = kube.startApiServer();
      Path kubectl = TestBed.cache().resolve("kubeapitest/k8s/" + io.k8ssync.daemon.testbed.KubeApiServerExtension.kubeVersion()
          + "-linux-amd64/kubectl");
      // A server-side dry run does not create the namespace, so the namespaced objects need it first.
      kubectl(kubectl, api, "apply", "-f", "../config/kubernetes/namespace.yaml");
      String dryRun = kubectl(kubectl, api, "apply", "--dry-run=server", "-k", "../config/kubernetes");
      for (String kind : List.of("serviceaccount/k8s-sync", "clusterrole.rbac.authorization.k8s.io/k8s-sync",
          "configmap/k8s-sync", "deployment.apps/k8s-sync", "service/k8s-sync", "poddisruptionbudget.policy/k8s-sync")) {
        assertTrue(dryRun.contains(kind), kind + " in:\n" + dryRun);
      }
      kubectl(kubectl, api, "apply", "-f", "../config/kubernetes/rbac.yaml");
      // The API server answers before its post-start hook has created the default roles; until
      // then nobody but the admin may even ask "can I?".
      try (KubernetesClient admin = api.client()) {
        await().atMost(Duration.ofSeconds(60)).until(() ->
            admin.rbac().clusterRoleBindings().withName("system:basic-user").get() != null);
      }
      assertEquals("yes", kubectl(kubectl, api, "auth", "can-i", "watch", "pods", "--all-namespaces", "--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated").strip());
      assertEquals("no", kubectlAllowFailure(kubectl, api, "auth", "can-i", "delete", "pods", "--all-namespaces", "--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated").strip());
      assertEquals("no", kubectlAllowFailure(kubectl, api, "auth", "can-i", "list", "secrets", "--all-namespaces", "--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated").strip());
      assertEquals("yes", kubectl(kubectl, api, "auth", "can-i", "update", "leases", "-n", "k8s-sync", "--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated").strip());
      assertEquals("no", kubectlAllowFailure(kubectl, api, "auth", "can-i", "update", "leases", "-n", "default", "--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated").strip());
      // The optional components: patch on pods/status (readiness gate) and on pods (Kruise hooks) only once applied.
      String[] as = {"--as", SA, "--as-group", "system:serviceaccounts", "--as-group", "system:authenticated"};
      assertEquals("no", canI(kubectl, api, as, "patch", "pods", "--subresource=status", "--all-namespaces"));
      assertEquals("no", canI(kubectl, api, as, "patch", "pods", "--all-namespaces"));
      kubectl(kubectl, api, "apply", "-f", "../config/kubernetes/components/readiness-gate/rbac.yaml");
      await().atMost(Duration.ofSeconds(30)).until(() ->
          canI(kubectl, api, as, "patch", "pods", "--subresource=status", "--all-namespaces").equals("yes"));
      assertEquals("no", canI(kubectl, api, as, "patch", "pods", "--all-namespaces"), "the gate's component grants pods/status only");
      kubectl(kubectl, api, "apply", "-f", "../config/kubernetes/components/kruise-hooks/rbac.yaml");
      await().atMost(Duration.ofSeconds(30)).until(() -> canI(kubectl, api, as, "patch", "pods", "--all-namespaces").equals("yes"));
      assertEquals("no", canI(kubectl, api, as, "delete", "pods", "--all-namespaces"));
      String overlay = kubectl(kubectl, api, "kustomize", "../config/kubernetes-overlays/lossless-rollouts");
      assertTrue(overlay.contains("name: k8s-sync-readiness-gate") && overlay.contains("name: k8s-sync\n"), overlay);

      try (KubernetesClient admin = api.client()) {
        admin.pods().inNamespace("default").resource(TestPods.pending("default", "web-1", "web")).create();
      }
      Daemon daemon = daemon(api);
      try {
        daemon.synced().get(60, TimeUnit.SECONDS);
        await().until(() -> daemon.cache().size() == 1);
        // Leader election as the manifests configure it, with only the Role's rights on leases.
        await().atMost(Duration.ofSeconds(30)).until(daemon::leading);
      } finally {
        daemon.close();
      }

      // Take "watch" away: the daemon cannot sync and says which permission is missing.
      try (KubernetesClient admin = api.client()) {
        admin.rbac().clusterRoles().withName("k8s-sync").edit(r -> new ClusterRoleBuilder(r).editFirstRule()
            .withVerbs("get", "list").endRule().build());
      }
      Daemon denied = daemon(api);
      try {
        await().atMost(Duration.ofSeconds(60)).until(() -> readyz(denied).contains("permission denied (403)"));
        String body = readyz(denied);
        assertTrue(body.contains("get, list and watch on pods"), body);
        assertTrue(body.contains("\"ready\":false"), body);
        assertTrue(body.contains("not watching") || body.contains("syncing"), body);
      } finally {
        denied.close();
      }
    }
  }

  private static Daemon daemon(KubeProcesses.ApiServer api) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: rbac}]",
        "leaderElection: {enabled: true, namespace: k8s-sync, leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms}",
        "sinks: [{name: out, type: log, config: {stream: stderr}}]", "");
    Config asServiceAccount = new ConfigBuilder(api.client().getConfiguration())
        .withImpersonateUsername(SA)
        .withImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:k8s-sync", "system:authenticated")
        .build();
    Daemon d = new Daemon(new ConfigLoader(SinkTypes.discover()).parse("test", yaml), SinkTypes.discover(),
        spec -> new KubernetesClientBuilder().withConfig(asServiceAccount).build(), false);
    d.start();
    return d;
  }

  private static String readyz(Daemon d) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + d.httpPort() + "/readyz")).build(),
        HttpResponse.BodyHandlers.ofString()).body();
  }

  private static String kubectl(Path kubectl, KubeProcesses.ApiServer api, String... args) throws Exception {
    Result r = run(kubectl, api, args);
    assertEquals(0, r.code, "kubectl " + String.join(" ", args) + "\n" + r.out);
    return r.out;
  }

  private static String canI(Path kubectl, KubeProcesses.ApiServer api, String[] as, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("auth", "can-i"));
    all.addAll(List.of(args));
    all.addAll(List.of(as));
    return kubectlAllowFailure(kubectl, api, all.toArray(String[]::new)).strip();
  }

  private static String kubectlAllowFailure(Path kubectl, KubeProcesses.ApiServer api, String... args) throws Exception {
    return run(kubectl, api, args).out;
  }

  private record Result(int code, String out) {}

  private static Result run(Path kubectl, KubeProcesses.ApiServer api, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(kubectl.toString(), "--server", api.url(), "--token", api.token(),
        "--insecure-skip-tls-verify"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "kubectl finished");
    return new Result(p.exitValue(), out);
  }
}

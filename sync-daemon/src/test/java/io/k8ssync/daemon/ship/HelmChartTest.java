package io.k8ssync.daemon.ship;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.ResourceRule;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.TestBed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Helm chart in config/helm/k8s-sync with the test bed's helm (scripts/testbed/build-helm.sh):
 * lint, the values schema, what it renders, a server-side apply to a real API server, and what its
 * ServiceAccount may then do, asked of the API server by impersonation — exactly what the config
 * needs. The kustomize manifests in config/kubernetes grant the same.
 */
@ExtendWith(KubeApiServerExtension.class)
class HelmChartTest {

  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
  private static final Path CHART = REPO.resolve("config/helm/k8s-sync");
  private static final YAMLMapper YAML = new YAMLMapper();

  /** What the daemon needs with the default values: read pods, write Events; Leases at home only. */
  private static final Set<String> DEFAULT_CLUSTER_RULES = Set.of(
      "/pods:get", "/pods:list", "/pods:watch",
      "/events:create", "/events:patch", "events.k8s.io/events:create", "events.k8s.io/events:patch");
  private static final Set<String> LEASE_RULES = Set.of(
      "coordination.k8s.io/leases:get", "coordination.k8s.io/leases:create", "coordination.k8s.io/leases:update");

  @Test
  void lintPassesAndBadValuesFailNamingTheKey() throws Exception {
    Exec.Result lint = helm("lint", CHART.toString());
    assertEquals(0, lint.code(), lint.out());

    assertFails(List.of("lint", CHART.toString(), "--set", "replicas=0"), "/replicas", "minimum");
    assertFails(List.of("lint", CHART.toString(), "--set", "replicaz=2"), "additional properties 'replicaz' not allowed");
    assertFails(List.of("template", "x", CHART.toString(), "--set", "config.sinks=null"), "/config", "missing property 'sinks'");
    assertFails(List.of("template", "x", CHART.toString(), "--set", "secretMounts[0].name=db",
        "--set", "secretMounts[0].secretName=db", "--set", "secretMounts[0].mountPath=relative"), "/secretMounts/0/mountPath");
    assertFails(List.of("template", "x", CHART.toString(), "--set", "metrics.port=70000"), "/metrics/port", "maximum");
    assertFails(List.of("template", "x", CHART.toString(), "--set", "config.leaderElection.enabled=false"),
        "replicas is 2 but config.leaderElection.enabled is false");
  }

  @Test
  void leaderElectionFollowsReplicasAndTheRenderedConfigIsValidForTheDaemon() throws Exception {
    List<JsonNode> two = render("sync", "sync-system");
    DaemonConfig config = daemonConfig(two);
    assertNotNull(config.leaderElection(), "two replicas: leader election on");
    assertEquals("sync-system", config.leaderElection().namespace());
    assertEquals("sync-k8s-sync", config.leaderElection().leaseName());
    assertNotNull(find(two, "Role", "sync-k8s-sync-leader-election"));
    assertEquals(1, find(two, "PodDisruptionBudget", "sync-k8s-sync").at("/spec/maxUnavailable").asInt());

    List<JsonNode> one = render("sync", "sync-system", "--set", "replicas=1");
    assertNull(daemonConfig(one).leaderElection(), "one replica: no leader election");
    assertTrue(one.stream().noneMatch(d -> d.path("kind").asText().equals("Role")), "no Role on leases without leader election");
    assertTrue(one.stream().noneMatch(d -> d.path("kind").asText().equals("PodDisruptionBudget")), "no PDB for one replica");
  }

  @Test
  void secretsAreMountedAsReadOnlyFilesAndThePodRunsNonRootOnAReadOnlyRoot() throws Exception {
    List<JsonNode> docs = render("sync", "sync-system", "--set", "secretMounts[0].name=db",
        "--set", "secretMounts[0].secretName=k8s-sync-db", "--set", "secretMounts[0].mountPath=/etc/k8s-sync/secrets/db");
    JsonNode pod = find(docs, "Deployment", "sync-k8s-sync").at("/spec/template/spec");
    JsonNode container = pod.at("/containers/0");
    JsonNode mount = null;
    for (JsonNode m : container.path("volumeMounts")) {
      if (m.path("name").asText().equals("secret-db")) {
        mount = m;
      }
    }
    assertNotNull(mount, container.toString());
    assertEquals("/etc/k8s-sync/secrets/db", mount.path("mountPath").asText());
    assertTrue(mount.path("readOnly").asBoolean());
    boolean volume = false;
    for (JsonNode v : pod.path("volumes")) {
      volume |= v.path("secret").path("secretName").asText().equals("k8s-sync-db");
    }
    assertTrue(volume, pod.path("volumes").toString());
    assertTrue(container.at("/securityContext/readOnlyRootFilesystem").asBoolean());
    assertEquals(10001, pod.at("/securityContext/runAsUser").asInt());
    assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean());
  }

  /** The PrometheusRule holds config/prometheus/k8s-sync-alerts.yaml's groups, and the job label they select. */
  @Test
  void prometheusRuleIsTheAlertRulesFileAndTheServiceMonitorGivesTheirJobLabel() throws Exception {
    List<JsonNode> docs = render("sync", "sync-system", "--set", "metrics.prometheusRule.enabled=true",
        "--set", "metrics.serviceMonitor.enabled=true");
    JsonNode rules = YAML.readTree(REPO.resolve("config/prometheus/k8s-sync-alerts.yaml").toFile());
    assertEquals(rules.get("groups"), find(docs, "PrometheusRule", "sync-k8s-sync").at("/spec/groups"));
    assertTrue(Files.readString(REPO.resolve("config/prometheus/k8s-sync-alerts.yaml")).contains("job=\"k8s-sync\""));
    assertEquals("app.kubernetes.io/name", find(docs, "ServiceMonitor", "sync-k8s-sync").at("/spec/jobLabel").asText());
    assertEquals("k8s-sync", find(docs, "Service", "sync-k8s-sync").at("/metadata/labels/app.kubernetes.io~1name").asText());
  }

  @Test
  void appliedServerSideItsServiceAccountCanDoExactlyWhatTheConfigNeeds(KubeApi api, @TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("kubeconfig");
    Files.writeString(kubeconfig, api.kubeconfig());
    try (KubernetesClient admin = api.client()) {
      // The API server answers before its post-start hook has created the default roles.
      await().atMost(Duration.ofSeconds(60)).until(() ->
          admin.rbac().clusterRoleBindings().withName("system:basic-user").get() != null);
      for (String ns : List.of("sync-system", "gated-system", "k8s-sync")) {
        admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).serverSideApply();
      }
    }
    kubectl(kubeconfig, "apply", "--server-side", "-f", crds(dir).toString());
    await().atMost(Duration.ofSeconds(30)).until(() -> kubectlResult(kubeconfig, "get", "servicemonitors,prometheusrules", "-A").code() == 0);

    // Default values, every optional object on: all of it accepted by the real API server.
    int port = TestBed.freePort();
    Path sync = dir.resolve("sync.yaml");
    Files.writeString(sync, template("sync", "sync-system", "--set", "metrics.prometheusRule.enabled=true",
        "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.port=" + port));
    String applied = kubectl(kubeconfig, "apply", "--server-side", "-f", sync.toString());
    for (String object : List.of("serviceaccount/sync-k8s-sync", "clusterrole.rbac.authorization.k8s.io/sync-k8s-sync",
        "role.rbac.authorization.k8s.io/sync-k8s-sync-leader-election", "configmap/sync-k8s-sync", "deployment.apps/sync-k8s-sync",
        "service/sync-k8s-sync", "poddisruptionbudget.policy/sync-k8s-sync", "servicemonitor.monitoring.coreos.com/sync-k8s-sync",
        "prometheusrule.monitoring.coreos.com/sync-k8s-sync")) {
      assertTrue(applied.contains(object + " serverside-applied"), object + " in:\n" + applied);
    }
    String sa = "system:serviceaccount:sync-system:sync-k8s-sync";
    assertEquals(DEFAULT_CLUSTER_RULES, rules(api, sa, "default"));
    assertEquals(union(DEFAULT_CLUSTER_RULES, LEASE_RULES), rules(api, sa, "sync-system"));

    // Readiness gate and Kruise hooks on, Events off, one replica: patch on pods/status and pods, no Events, no Leases.
    Path gated = dir.resolve("gated.yaml");
    Files.writeString(gated, template("gated", "gated-system", "--set", "replicas=1",
        "--set", "config.rollout.readinessGate.enabled=true", "--set", "config.rollout.kruise.enabled=true",
        "--set", "config.status.events.enabled=false"));
    kubectl(kubeconfig, "apply", "--server-side", "-f", gated.toString());
    Set<String> gatedRules = Set.of("/pods:get", "/pods:list", "/pods:watch", "/pods:patch", "/pods/status:patch");
    assertEquals(gatedRules, rules(api, "system:serviceaccount:gated-system:gated-k8s-sync", "default"));
    assertEquals(gatedRules, rules(api, "system:serviceaccount:gated-system:gated-k8s-sync", "gated-system"));

    // The kustomize manifests grant what the chart grants with its default values.
    kubectl(kubeconfig, "apply", "--server-side", "-f", REPO.resolve("config/kubernetes/rbac.yaml").toString());
    String kustomized = "system:serviceaccount:k8s-sync:k8s-sync";
    assertEquals(rules(api, sa, "default"), rules(api, kustomized, "default"), "chart and config/kubernetes, cluster-wide");
    assertEquals(rules(api, sa, "sync-system"), rules(api, kustomized, "k8s-sync"), "chart and config/kubernetes, own namespace");

    // The Deployment's daemon, as its ServiceAccount with the chart's config: it syncs and leads.
    DaemonConfig config = daemonConfig(YAML.readerFor(JsonNode.class).<JsonNode>readValues(Files.readString(sync)).readAll()
        .stream().filter(d -> d != null && !d.isEmpty()).toList());
    try (KubernetesClient admin = api.client()) {
      admin.pods().inNamespace("default").resource(TestPods.pending("default", "web-1", "web")).create();
    }
    Config asServiceAccount = impersonating(api, sa);
    Daemon daemon = new Daemon(config, SinkTypes.discover(), spec -> new KubernetesClientBuilder().withConfig(asServiceAccount).build(), false);
    try {
      daemon.start();
      daemon.synced().get(60, TimeUnit.SECONDS);
      await().atMost(Duration.ofSeconds(30)).until(() -> daemon.cache().size() == 1);
      await().atMost(Duration.ofSeconds(30)).until(daemon::leading);
    } finally {
      daemon.close();
    }
    try (KubernetesClient admin = api.client()) {
      assertNotNull(admin.leases().inNamespace("sync-system").withName("sync-k8s-sync-prod").get(), "the Lease, in the release's namespace");
    }
  }

  // --- helpers ------------------------------------------------------------------------------------------------

  /** Every (apiGroup/resource:verb) the user may do in the namespace beyond what any authenticated user may. */
  private static Set<String> rules(KubeApi api, String serviceAccount, String namespace) {
    String nobody = serviceAccount.substring(0, serviceAccount.lastIndexOf(':') + 1) + "k8s-sync-test-nobody";
    Set<String> out = flatten(review(api, serviceAccount, namespace));
    out.removeAll(flatten(review(api, nobody, namespace)));
    return out;
  }

  private static SelfSubjectRulesReview review(KubeApi api, String serviceAccount, String namespace) {
    try (KubernetesClient as = new KubernetesClientBuilder().withConfig(impersonating(api, serviceAccount)).build()) {
      SelfSubjectRulesReview r = as.authorization().v1().selfSubjectRulesReview()
          .create(new SelfSubjectRulesReviewBuilder().withNewSpec().withNamespace(namespace).endSpec().build());
      assertFalse(Boolean.TRUE.equals(r.getStatus().getIncomplete()), "complete rules for " + serviceAccount + ": " + r.getStatus());
      return r;
    }
  }

  private static Set<String> flatten(SelfSubjectRulesReview r) {
    Set<String> out = new TreeSet<>();
    for (ResourceRule rule : r.getStatus().getResourceRules()) {
      for (String group : rule.getApiGroups()) {
        for (String resource : rule.getResources()) {
          for (String verb : rule.getVerbs()) {
            out.add(group + "/" + resource + ":" + verb + (rule.getResourceNames().isEmpty() ? "" : rule.getResourceNames()));
          }
        }
      }
    }
    return out;
  }

  /** A ServiceAccount's token carries these groups; impersonating the user alone would not. */
  private static Config impersonating(KubeApi api, String serviceAccount) {
    String namespace = serviceAccount.split(":")[2];
    return new ConfigBuilder(Config.fromKubeconfig(api.kubeconfig()))
        .withImpersonateUsername(serviceAccount)
        .withImpersonateGroups("system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated")
        .build();
  }

  private static Set<String> union(Set<String> a, Set<String> b) {
    Set<String> out = new TreeSet<>(a);
    out.addAll(b);
    return out;
  }

  private static DaemonConfig daemonConfig(List<JsonNode> docs) throws Exception {
    JsonNode cm = docs.stream().filter(d -> d.path("kind").asText().equals("ConfigMap")).findFirst().orElseThrow();
    return new ConfigLoader(SinkTypes.discover()).parse("chart ConfigMap", cm.at("/data/k8s-sync.yaml").asText());
  }

  private static JsonNode find(List<JsonNode> docs, String kind, String name) {
    return docs.stream().filter(d -> d.path("kind").asText().equals(kind) && d.at("/metadata/name").asText().equals(name))
        .findFirst().orElseThrow(() -> new AssertionError(kind + " " + name + " not rendered"));
  }

  private static List<JsonNode> render(String release, String namespace, String... set) throws Exception {
    return YAML.readerFor(JsonNode.class).<JsonNode>readValues(template(release, namespace, set)).readAll()
        .stream().filter(d -> d != null && !d.isEmpty()).toList();
  }

  private static String template(String release, String namespace, String... set) throws Exception {
    List<String> args = new ArrayList<>(List.of("template", release, CHART.toString(), "--namespace", namespace));
    args.addAll(List.of(set));
    Exec.Result r = helm(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.out());
    return r.stdout();
  }

  private static void assertFails(List<String> args, String... expected) throws Exception {
    Exec.Result r = helm(args.toArray(String[]::new));
    assertNotEquals(0, r.code(), "helm " + args + " must fail:\n" + r.out());
    for (String e : expected) {
      assertTrue(r.out().contains(e), "helm " + args + " names " + e + ":\n" + r.out());
    }
  }

  private static Exec.Result helm(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(TestBed.binary(TestBed.cache().resolve("bin/helm"), "build-helm.sh").toString()));
    cmd.addAll(List.of(args));
    return Exec.run(cmd, Duration.ofMinutes(2));
  }

  private static String kubectl(Path kubeconfig, String... args) throws Exception {
    Exec.Result r = kubectlResult(kubeconfig, args);
    assertEquals(0, r.code(), "kubectl " + String.join(" ", args) + "\n" + r.out());
    return r.out();
  }

  private static Exec.Result kubectlResult(Path kubeconfig, String... args) throws Exception {
    Path kubectl = TestBed.binary(TestBed.cache().resolve("kubeapitest/k8s/" + KubeApiServerExtension.kubeVersion()
        + "-linux-amd64/kubectl"), "build-k8s.sh");
    List<String> cmd = new ArrayList<>(List.of(kubectl.toString(), "--kubeconfig", kubeconfig.toString()));
    cmd.addAll(List.of(args));
    return Exec.run(cmd, Duration.ofMinutes(1));
  }

  /** Stand-ins for the Prometheus Operator's two CRDs, with its group, kinds and scope; any spec accepted. */
  private static Path crds(Path dir) throws Exception {
    StringBuilder y = new StringBuilder();
    for (String[] k : List.of(new String[] {"ServiceMonitor", "servicemonitors"}, new String[] {"PrometheusRule", "prometheusrules"})) {
      y.append(String.join("\n",
          "apiVersion: apiextensions.k8s.io/v1",
          "kind: CustomResourceDefinition",
          "metadata: {name: " + k[1] + ".monitoring.coreos.com}",
          "spec:",
          "  group: monitoring.coreos.com",
          "  scope: Namespaced",
          "  names: {kind: " + k[0] + ", plural: " + k[1] + ", singular: " + k[0].toLowerCase() + ", listKind: " + k[0] + "List}",
          "  versions:",
          "    - name: v1",
          "      served: true",
          "      storage: true",
          "      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}",
          "---", ""));
    }
    Path f = dir.resolve("crds.yaml");
    Files.writeString(f, y.toString());
    return f;
  }
}

package io.k8ssync.daemon.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

  private final ConfigLoader loader = new ConfigLoader(SinkTypes.discover());

  private static final String MINIMAL = """
      clusters:
        - name: prod
      sinks:
        - name: out
          type: log
      """;

  private static final String KUBECONFIG = String.join("\n",
      "apiVersion: v1", "kind: Config",
      "clusters: [{name: a, cluster: {server: 'https://a.invalid:6443'}}, {name: b, cluster: {server: 'https://b.invalid:6443'}}]",
      "users: [{name: u, user: {token: not-a-secret}}]",
      "contexts: [{name: a, context: {cluster: a, user: u}}, {name: b, context: {cluster: b, user: u}}]",
      "current-context: a", "");

  private String error(String yaml) {
    return assertThrows(ConfigException.class, () -> loader.parse("test.yaml", yaml)).getMessage();
  }

  @Test
  void exampleConfigInTheRepoIsValid() throws Exception {
    DaemonConfig c = loader.load(Path.of("../config/k8s-sync.yaml"));
    assertEquals("prod", c.clusters().get(0).scope().cluster());
    assertTrue(c.clusters().get(0).inCluster());
    assertEquals("log", c.sinks().get(0).type());
  }

  @Test
  void httpExampleConfigInTheRepoIsValid(@TempDir Path dir) throws Exception {
    ConfigLoader withSecrets = new ConfigLoader(SinkTypes.discover(),
        (path, kind, ref) -> io.k8ssync.sink.config.Secret.of(kind + ":" + ref, "test-secret"));
    // validate reads the CA file named, as run would: here it is the test CA.
    Path ca = Files.writeString(dir.resolve("gateway-ca.pem"), io.k8ssync.daemon.BrokenConfigsTest.CA_PEM);
    String example = Files.readString(Path.of("../config/k8s-sync-http.yaml"));
    assertTrue(example.contains("/etc/k8s-sync/gateway-ca.pem"), "the example names its CA file");
    Path config = Files.writeString(dir.resolve("k8s-sync-http.yaml"), example.replace("/etc/k8s-sync/gateway-ca.pem", ca.toString()));
    DaemonConfig c = withSecrets.load(config);
    assertEquals(List.of("gateway", "rpc"), c.sinks().stream().map(DaemonConfig.SinkSpec::name).toList());
    assertEquals(Set.of("version", "kind"), c.podRules().keepLabels());
  }

  @Test
  void theKubernetesConfigMapHoldsAValidConfig() throws Exception {
    com.fasterxml.jackson.databind.JsonNode cm = new com.fasterxml.jackson.databind.ObjectMapper(
        new com.fasterxml.jackson.dataformat.yaml.YAMLFactory()).readTree(Path.of("../config/kubernetes/configmap.yaml").toFile());
    DaemonConfig c = loader.parse("configmap.yaml", cm.get("data").get("k8s-sync.yaml").asText());
    assertTrue(c.clusters().get(0).inCluster());
    assertEquals(9464, c.httpPort());
    assertEquals("k8s-sync", c.leaderElection().namespace(), "the Lease lives where the Role allows it");
  }

  @Test
  void minimalConfigTakesDefaults() throws Exception {
    DaemonConfig c = loader.parse("test.yaml", MINIMAL);
    assertEquals(9464, c.httpPort());
    assertEquals(Duration.ofSeconds(30), c.shutdownTimeout());
    assertEquals(Duration.ZERO, c.clusters().get(0).scope().resync(), "informer resync is off by default");
    assertEquals("app", c.podRules().serviceLabel());
    assertEquals(2, c.runnerSettings(c.sinks().get(0), false).workers());
  }

  @Test
  void selectorLabelsAreKept() throws Exception {
    DaemonConfig c = loader.parse("test.yaml", MINIMAL + "    selector: {labels: {track: stable}}\n");
    assertEquals(Set.of("track"), c.podRules().keepLabels());
  }

  @Test
  void unknownTopLevelKey() {
    assertEquals("config error at sinkz: unknown key; expected one of: daemon, leaderElection, clusters, pods, dispatch, rollout, status, sinks",
        error(MINIMAL + "sinkz: []\n"));
  }

  @Test
  void unknownNestedKey() {
    assertEquals("config error at daemon.http.prot: unknown key; expected one of: host, port",
        error(MINIMAL + "daemon: {http: {prot: 80}}\n"));
  }

  @Test
  void wrongType() {
    assertEquals("config error at daemon.http.port: found \"eighty\"; expected an integer",
        error(MINIMAL + "daemon: {http: {port: eighty}}\n"));
  }

  @Test
  void outOfRange() {
    assertEquals("config error at daemon.http.port: found \"70000\"; expected a value between 0 and 65535",
        error(MINIMAL + "daemon: {http: {port: 70000}}\n"));
  }

  @Test
  void missingClusters() {
    assertEquals("config error at clusters: missing; expected a list of mappings (the Kubernetes clusters to watch)",
        error("sinks: [{name: out, type: log}]\n"));
  }

  @Test
  void emptySinkList() {
    assertEquals("config error at sinks: found a list; expected at least one entry",
        error("clusters: [{name: prod}]\nsinks: []\n"));
  }

  @Test
  void badClusterName() {
    assertEquals("config error at clusters[0].name: found \"Prod_1\"; expected a lowercase name of letters, digits and '-' (at most 63)",
        error("clusters: [{name: Prod_1}]\nsinks: [{name: out, type: log}]\n"));
  }

  @Test
  void duplicateSinkName() {
    assertEquals("config error at sinks[1].name: found \"out\" a second time; expected each of sinks to have a unique name",
        error("clusters: [{name: prod}]\nsinks: [{name: out, type: log}, {name: out, type: log}]\n"));
  }

  @Test
  void unknownSinkType() {
    assertEquals("config error at sinks[0].type: found \"kafkaa\"; expected one of the sink types on the class path: consul, http, kafka, log, mysql, nginx, recording, recording-local, routing, zookeeper",
        error("clusters: [{name: prod}]\nsinks: [{name: out, type: kafkaa}]\n"));
  }

  @Test
  void sinkConfigIsCheckedByItsType() {
    assertEquals("config error at sinks[0].config.stream: found \"syslog\"; expected one of stdout, stderr",
        error("clusters: [{name: prod}]\nsinks: [{name: out, type: log, config: {stream: syslog}}]\n"));
    assertEquals("config error at sinks[0].config.colour: unknown key; expected one of: stream, onlyRegistrationChanges",
        error("clusters: [{name: prod}]\nsinks: [{name: out, type: log, config: {colour: red}}]\n"));
  }

  @Test
  void inClusterWithKubeconfigIsAmbiguous() {
    assertEquals("config error at clusters[0].inCluster: found true together with kubeconfig/context; expected one way to reach the cluster",
        error("clusters: [{name: prod, inCluster: true, kubeconfig: /x}]\nsinks: [{name: out, type: log}]\n"));
  }

  @Test
  void inClusterBesideADefaultLookupClusterIsAnError() {
    assertEquals("config error at clusters[1].kubeconfig: found no value beside an inCluster cluster;"
        + " expected the path of this cluster's kubeconfig (the default lookup is off in-cluster)",
        error("clusters: [{name: prod, inCluster: true}, {name: uat}]\nsinks: [{name: out, type: log}]\n"));
  }

  @Test
  void leaderElectionTimingsFollowClientGoRules() {
    assertEquals("config error at leaderElection.renewDeadline: found 15000ms; expected less than leaseDuration (15000ms)",
        error(MINIMAL + "leaderElection: {enabled: true, renewDeadline: 15s}\n"));
    assertEquals("config error at leaderElection.retryPeriod: found 10000ms; expected less than renewDeadline (10000ms)",
        error(MINIMAL + "leaderElection: {enabled: true, retryPeriod: 10s}\n"));
    assertEquals("config error at leaderElection.cluster: unknown key; expected one of: enabled, namespace, leaseName, identity,"
        + " leaseDuration, renewDeadline, retryPeriod, standbyRetention",
        error(MINIMAL + "leaderElection: {enabled: true, cluster: uat}\n"));
  }

  @Test
  void leaderElectionDefaults(@TempDir Path dir) throws Exception {
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), KUBECONFIG);
    DaemonConfig c = loader.parse("test.yaml", "clusters: [{name: prod}, {name: uat, kubeconfig: '" + kubeconfig + "'}]\n"
        + "sinks: [{name: out, type: log}]\nleaderElection: {enabled: true}\n");
    assertEquals("k8s-sync", c.leaderElection().leaseName());
    assertEquals(java.time.Duration.ofSeconds(15), c.leaderElection().leaseDuration());
    assertEquals(null, loader.parse("test.yaml", MINIMAL).leaderElection(), "off unless enabled");
  }

  @Test
  void maxDelayBelowBaseDelay() {
    assertEquals("config error at dispatch.retry.maxDelay: found 1ms; expected at least baseDelay (10ms)",
        error(MINIMAL + "dispatch: {retry: {baseDelay: 10ms, maxDelay: 1ms}}\n"));
  }

  @Test
  void badNamespaceInList() {
    assertEquals("config error at clusters[0].namespaces: found a list; expected a list of namespace names; \"../x\" is not",
        error("clusters: [{name: prod, namespaces: [ok, ../x]}]\nsinks: [{name: out, type: log}]\n"));
  }

  @Test
  void duplicateYamlKey() {
    String msg = error("clusters: [{name: prod}]\nclusters: [{name: dev}]\nsinks: [{name: out, type: log}]\n");
    assertTrue(msg.startsWith("config error at test.yaml: not valid YAML at line 2"), msg);
    assertTrue(msg.contains("Duplicate field 'clusters'"), msg);
  }

  @Test
  void brokenYaml() {
    String msg = error("clusters: [{name: prod}\nsinks: x\n");
    assertTrue(msg.startsWith("config error at test.yaml: not valid YAML at line"), msg);
  }

  @Test
  void missingFile() {
    ConfigException e = assertThrows(ConfigException.class, () -> loader.load(Path.of("/nonexistent/k8s-sync.yaml")));
    assertEquals("config error at /nonexistent/k8s-sync.yaml: file not found; expected a readable YAML config file", e.getMessage());
  }

  @Test
  void aContextMissingFromTheKubeconfigIsAnErrorNotTheCurrentContext(@TempDir Path dir) throws Exception {
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), KUBECONFIG);
    assertEquals("config error at clusters[0].context: found \"c\"; expected a context of " + kubeconfig
        + ", which has: a, b (the daemon never watches a cluster other than the one named)",
        error("clusters: [{name: prod, kubeconfig: '" + kubeconfig + "', context: c}]\nsinks: [{name: out, type: log}]\n"));
    assertEquals("b", loader.parse("test.yaml", "clusters: [{name: prod, kubeconfig: '" + kubeconfig + "', context: b}]\n"
        + "sinks: [{name: out, type: log}]\n").clusters().get(0).context());
  }

  @Test
  void theDefaultLookupIsCheckedToo(@TempDir Path dir) throws Exception {
    Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), KUBECONFIG);
    System.setProperty("kubeconfig", kubeconfig.toString());
    try {
      String msg = error("clusters: [{name: prod, context: c}]\nsinks: [{name: out, type: log}]\n");
      assertTrue(msg.startsWith("config error at clusters[0].context: found \"c\"; expected a context of " + kubeconfig), msg);
      loader.parse("test.yaml", "clusters: [{name: prod, context: b}]\nsinks: [{name: out, type: log}]\n");
      System.setProperty("kubeconfig", dir.resolve("none").toString());
      assertEquals("config error at clusters[0].context: found \"b\"; expected a context of a kubeconfig found by the default lookup"
          + " ($KUBECONFIG, else ~/.kube/config), and there is none; set kubeconfig",
          error("clusters: [{name: prod, context: b}]\nsinks: [{name: out, type: log}]\n"));
    } finally {
      System.clearProperty("kubeconfig");
    }
  }

  @Test
  void aKubeconfigThatCannotBeReadIsAnError(@TempDir Path dir) throws Exception {
    Path latin1 = Files.write(dir.resolve("latin1"), KUBECONFIG.replace("name: u,", "name: \u00e9,").getBytes(StandardCharsets.ISO_8859_1));
    String msg = error("clusters: [{name: prod, kubeconfig: '" + latin1 + "'}]\nsinks: [{name: out, type: log}]\n");
    assertTrue(msg.startsWith("config error at clusters[0].kubeconfig: found \"" + latin1 + "\"; expected UTF-8"), msg);
  }

  @Test
  void aSecondYamlDocumentIsRefused() {
    assertEquals("config error at test.yaml: found a second YAML document at line 7; expected one YAML document"
        + " (the daemon would ignore everything after the first)",
        error(MINIMAL + "---\nclusters: [{name: other}]\n"));
    assertEquals(1, assertDoesNotThrow(() -> loader.parse("test.yaml", MINIMAL + "---\n")).sinks().size(),
        "an empty document after --- ignores nothing");
  }

  @Test
  void aFileThatIsNotUtf8IsRefused(@TempDir Path dir) throws Exception {
    Path f = Files.write(dir.resolve("latin1.yaml"), (MINIMAL + "# caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
    ConfigException e = assertThrows(ConfigException.class, () -> loader.load(f));
    assertEquals("config error at " + f + ": found a byte that is not UTF-8 on line 6; expected UTF-8 text", e.getMessage());
  }

  @Test
  void aTemplateFieldOfALabelNotKeptIsAnError() {
    assertEquals("config error at sinks[0].config.upstream: found {label.track}, a label pods.keepLabels does not keep;"
        + " expected labels listed in pods.keepLabels (or a selector's labels): add track there, else the field renders empty",
        error("clusters: [{name: prod}]\nsinks: [{name: kv, type: consul, config: {url: 'http://c:8500', upstream: '{label.track}'}}]\n"));
    assertEquals("config error at sinks[0].config.online.headers.X-Team: found {annotation.team}, an annotation pods.keepAnnotations"
        + " does not keep; expected annotations listed in pods.keepAnnotations: add team there, else the field renders empty",
        error("clusters: [{name: prod}]\nsinks: [{name: gw, type: http, config: {online: {url: 'http://gw/on',"
            + " headers: {X-Team: 'a {annotation.team}'}}, offline: {url: 'http://gw/off'}}}]\n"));
  }

  @Test
  void userInfoInAUrlPointsAtTheSecretKey() {
    assertEquals("config error at sinks[0].config.url: found \"http://***@c:8500\"; expected a URL without user info"
        + " (credentials in a URL end up in logs): put the secret in sinks[0].config.aclToken, as ${env:NAME} or ${file:/path}",
        error("clusters: [{name: prod}]\nsinks: [{name: kv, type: consul, config: {url: 'http://u:pw@c:8500'}}]\n"));
  }
}

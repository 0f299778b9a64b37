package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.informer.ClusterInformers;
import io.k8ssync.sink.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a cluster is reached: in-cluster means the service account, even where a kubeconfig lies around. */
class ClientsTest {

  @Test
  void inClusterUsesTheServiceAccountNotAKubeconfigFoundByTheDefaultLookup(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("config");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1", "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://from-kubeconfig.invalid:6443'}}]",
        "users: [{name: u, user: {token: kubeconfig-token}}]",
        "contexts: [{name: c, context: {cluster: c, user: u}}]", "current-context: c", ""));
    Path token = dir.resolve("token");
    Files.writeString(token, "service-account-token");
    Map<String, String> props = Map.of(
        Config.KUBERNETES_KUBECONFIG_FILE, kubeconfig.toString(),
        Config.KUBERNETES_SERVICE_HOST_PROPERTY, "10.96.0.1",
        Config.KUBERNETES_SERVICE_PORT_PROPERTY, "443",
        Config.KUBERNETES_AUTH_SERVICEACCOUNT_TOKEN_FILE_SYSTEM_PROPERTY, token.toString());
    props.forEach(System::setProperty);
    var scope = new ClusterInformers.Scope("prod", List.of(), null, Duration.ZERO, 500);
    try {
      try (KubernetesClient lookup = Clients.forCluster(new DaemonConfig.ClusterSpec(scope, false, null, null, null))) {
        assertTrue(lookup.getConfiguration().getMasterUrl().contains("from-kubeconfig.invalid"),
            "the default lookup finds the kubeconfig: " + lookup.getConfiguration().getMasterUrl());
      }
      try (KubernetesClient inCluster = Clients.forCluster(new DaemonConfig.ClusterSpec(scope, true, null, null, null))) {
        assertTrue(inCluster.getConfiguration().getMasterUrl().startsWith("https://10.96.0.1:443"),
            inCluster.getConfiguration().getMasterUrl());
        assertEquals("service-account-token", inCluster.getConfiguration().getAutoOAuthToken());
      }
    } finally {
      props.keySet().forEach(System::clearProperty);
      System.clearProperty(Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY);
    }
  }

  /** fabric8 quietly takes the current context for one the kubeconfig lacks: that would watch another cluster. */
  @Test
  void aContextTheKubeconfigLacksIsRefusedNotReplacedByTheCurrentOne(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("config");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1", "kind: Config",
        "clusters: [{name: a, cluster: {server: 'https://a.invalid:6443'}}, {name: b, cluster: {server: 'https://b.invalid:6443'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: a, context: {cluster: a, user: u}}, {name: b, context: {cluster: b, user: u}}]", "current-context: a", ""));
    var scope = new ClusterInformers.Scope("prod", List.of(), null, Duration.ZERO, 500);
    try (KubernetesClient b = Clients.forCluster(new DaemonConfig.ClusterSpec(scope, false, kubeconfig.toString(), "b", null))) {
      assertTrue(b.getConfiguration().getMasterUrl().contains("b.invalid"), b.getConfiguration().getMasterUrl());
    }
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Clients.forCluster(new DaemonConfig.ClusterSpec(scope, false, kubeconfig.toString(), "nope", null)));
    assertInstanceOf(ConfigException.class, e.getCause());
    assertEquals("config error at clusters[name: prod].context: found \"nope\"; expected a context of " + kubeconfig
        + " (fabric8 would use the current context, a)", e.getMessage());
  }

  /**
   * The daemon's client registers Pod and Status only (not fabric8's ~730 classes): the watch events
   * of a pod informer still decode to a Pod, and a failed watch's error to the Status the informer's
   * 410-Gone relist depends on.
   */
  @Test
  void watchEventsOfPodsAndWatchErrorsDecodeToTheirTypes(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("config");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1", "kind: Config",
        "clusters: [{name: a, cluster: {server: 'https://a.invalid:6443'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: a, context: {cluster: a, user: u}}]", "current-context: a", ""));
    var scope = new ClusterInformers.Scope("prod", List.of(), null, Duration.ZERO, 500);
    try (KubernetesClient client = Clients.forCluster(new DaemonConfig.ClusterSpec(scope, false, kubeconfig.toString(), null, null))) {
      var serialization = client.getKubernetesSerialization();
      WatchEvent added = serialization.unmarshal("{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
          + "\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns\",\"resourceVersion\":\"7\"},\"status\":{\"podIP\":\"10.0.0.1\"}}}",
          WatchEvent.class);
      Pod pod = assertInstanceOf(Pod.class, added.getObject());
      assertEquals("10.0.0.1", pod.getStatus().getPodIP());
      WatchEvent error = serialization.unmarshal("{\"type\":\"ERROR\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Status\","
          + "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (9)\",\"reason\":\"Expired\",\"code\":410}}",
          WatchEvent.class);
      assertEquals(410, assertInstanceOf(Status.class, error.getObject()).getCode());
    }
  }
}

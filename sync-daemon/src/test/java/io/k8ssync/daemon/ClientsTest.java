package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.utils.TokenRefreshInterceptor;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
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

  /**
   * A pod list decodes without the objects' managedFields (half its bytes, read by nothing here) and with
   * everything else: the fields beside them in metadata, and the pod's spec and status.
   */
  @Test
  void podsDecodeWithoutManagedFieldsAndWithAllElse() {
    var serialization = Clients.serialization();
    io.fabric8.kubernetes.api.model.PodList list = serialization.unmarshal("{\"apiVersion\":\"v1\",\"kind\":\"PodList\","
        + "\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[{\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns\","
        + "\"uid\":\"u1\",\"labels\":{\"app\":\"web\"},\"managedFields\":[{\"manager\":\"kubelet\",\"operation\":\"Update\","
        + "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:podIP\":{}}}}],\"resourceVersion\":\"7\"},"
        + "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"podIP\":\"10.0.0.1\"}}]}", io.fabric8.kubernetes.api.model.PodList.class);
    Pod pod = list.getItems().get(0);
    assertTrue(pod.getMetadata().getManagedFields().isEmpty(), "managedFields skipped");
    assertTrue(pod.getMetadata().getAdditionalProperties().isEmpty(), "not kept as an unknown property either");
    assertEquals(Map.of("app", "web"), pod.getMetadata().getLabels());
    assertEquals("u1", pod.getMetadata().getUid());
    assertEquals("7", pod.getMetadata().getResourceVersion());
    assertEquals("n1", pod.getSpec().getNodeName());
    assertEquals("10.0.0.1", pod.getStatus().getPodIP());
    assertEquals("9", list.getMetadata().getResourceVersion());
  }

  /**
   * A pod decodes with what the daemon reads of it (PodProjector, RolloutRules) and nothing else of its spec
   * and status: no containers' images, env, probes or resources, no volumes, no container statuses, and no
   * field the API adds later, not even as an unknown property. Metadata is whole (a Lease is written back).
   */
  @Test
  void podsDecodeWithTheFieldsTheDaemonReadsOnly() {
    Pod pod = Clients.serialization().unmarshal("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\","
        + "\"namespace\":\"ns\",\"uid\":\"u1\",\"resourceVersion\":\"7\",\"creationTimestamp\":\"2026-12-05T10:00:00Z\","
        + "\"deletionTimestamp\":\"2026-12-05T10:05:00Z\",\"labels\":{\"app\":\"web\"},\"annotations\":{\"k8s-sync/port\":\"80\"},"
        + "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"r1\"}]},"
        + "\"spec\":{\"nodeName\":\"n1\",\"readinessGates\":[{\"conditionType\":\"k8s-sync/online\"}],"
        + "\"containers\":[{\"name\":\"app\",\"image\":\"registry/app:1\",\"ports\":[{\"containerPort\":8080,\"protocol\":\"TCP\"}],"
        + "\"env\":[{\"name\":\"A\",\"value\":\"b\"}],\"resources\":{\"limits\":{\"cpu\":\"1\"}},"
        + "\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":8080}},\"futureContainerField\":{\"x\":1}}],"
        + "\"initContainers\":[{\"name\":\"init\",\"image\":\"registry/init:1\"}],"
        + "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
        + "\"futureSpecField\":[1,2,3]},"
        + "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\",\"hostIP\":\"192.168.0.1\",\"qosClass\":\"Burstable\","
        + "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"2026-12-05T10:01:00Z\","
        + "\"reason\":\"r\",\"message\":\"m\"}],"
        + "\"containerStatuses\":[{\"name\":\"app\",\"ready\":true,\"image\":\"registry/app:1\",\"state\":{\"running\":{}}}],"
        + "\"futureStatusField\":\"x\"}}", Pod.class);

    assertEquals("u1", pod.getMetadata().getUid());
    assertEquals("7", pod.getMetadata().getResourceVersion());
    assertEquals("2026-12-05T10:00:00Z", pod.getMetadata().getCreationTimestamp());
    assertEquals("2026-12-05T10:05:00Z", pod.getMetadata().getDeletionTimestamp());
    assertEquals(Map.of("app", "web"), pod.getMetadata().getLabels());
    assertEquals(Map.of("k8s-sync/port", "80"), pod.getMetadata().getAnnotations());
    assertEquals("rs", pod.getMetadata().getOwnerReferences().get(0).getName(), "metadata stays whole");

    assertEquals("n1", pod.getSpec().getNodeName());
    assertEquals("k8s-sync/online", pod.getSpec().getReadinessGates().get(0).getConditionType());
    assertEquals(1, pod.getSpec().getContainers().size());
    var container = pod.getSpec().getContainers().get(0);
    assertEquals("app", container.getName());
    assertEquals(8080, container.getPorts().get(0).getContainerPort());
    assertNull(container.getImage());
    assertTrue(container.getEnv().isEmpty(), "env skipped");
    assertNull(container.getResources());
    assertNull(container.getReadinessProbe());
    assertTrue(container.getAdditionalProperties().isEmpty(), "an unknown container field is skipped, not kept");
    assertTrue(pod.getSpec().getInitContainers().isEmpty(), "initContainers skipped");
    assertTrue(pod.getSpec().getVolumes().isEmpty(), "volumes skipped");
    assertTrue(pod.getSpec().getTolerations().isEmpty(), "tolerations skipped");
    assertTrue(pod.getSpec().getAdditionalProperties().isEmpty(), "an unknown spec field is skipped, not kept");

    assertEquals("Running", pod.getStatus().getPhase());
    assertEquals("10.0.0.1", pod.getStatus().getPodIP());
    assertEquals("192.168.0.1", pod.getStatus().getHostIP());
    var ready = pod.getStatus().getConditions().get(0);
    assertEquals(List.of("Ready", "True", "2026-12-05T10:01:00Z", "r", "m"),
        List.of(ready.getType(), ready.getStatus(), ready.getLastTransitionTime(), ready.getReason(), ready.getMessage()));
    assertTrue(pod.getStatus().getContainerStatuses().isEmpty(), "containerStatuses skipped");
    assertNull(pod.getStatus().getQosClass());
    assertTrue(pod.getStatus().getAdditionalProperties().isEmpty(), "an unknown status field is skipped, not kept");
  }

  /**
   * fabric8's token-refresh interceptor, once a client is a minute old, re-reads and re-parses the
   * kubeconfig before every request until it finds a token (it moves its next refresh only then). A
   * user with a client certificate has none, so every call of a systemd daemon's client paid a YAML
   * parse (~70% of an Event write's CPU, docs/BENCHMARKS.md). The certificate is in the HTTP client's
   * TLS context, built once: nothing such a re-read finds could change what the client sends.
   */
  @Test
  void aClientCertificateUserIsNotReadAgainBeforeEveryRequest(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("config");
    Config config = configOf(kubeconfig, "{client-certificate: /nowhere/cert.pem, client-key: /nowhere/key.pem}");
    Files.writeString(kubeconfig, kubeconfigOf("{token: found-by-reading-it-again}"));

    Map<String, String> sent = new HashMap<>();
    // Past its first minute: the interceptor refreshes before this request.
    new TokenRefreshInterceptor(config, new JdkHttpClientFactory(), Instant.EPOCH).before(recording(sent), null, null);

    assertEquals(Map.of(), sent, "the kubeconfig was read again before the request");
  }

  /** A user with a token (a kubeconfig's, an exec plugin's, the service account's) keeps fabric8's refresh: tokens rotate. */
  @Test
  void aTokenUserKeepsTheRefresh(@TempDir Path dir) throws Exception {
    Path kubeconfig = dir.resolve("config");
    Config config = configOf(kubeconfig, "{token: first}");
    assertNull(config.getOauthTokenProvider());
    Files.writeString(kubeconfig, kubeconfigOf("{token: rotated}"));
    config.setOauthToken(null); // as an exec plugin's or a file's token is held (auto), which the interceptor refreshes

    Map<String, String> sent = new HashMap<>();
    new TokenRefreshInterceptor(config, new JdkHttpClientFactory(), Instant.EPOCH).before(recording(sent), null, null);

    assertNotNull(sent.get("Authorization"));
    assertEquals("Bearer rotated", sent.get("Authorization"));
  }

  /** The daemon's client configuration for a kubeconfig at {@code kubeconfig} with this user. */
  private static Config configOf(Path kubeconfig, String user) throws Exception {
    Files.writeString(kubeconfig, kubeconfigOf(user));
    var scope = new ClusterInformers.Scope("prod", List.of(), null, Duration.ZERO, 500);
    return Clients.config(new DaemonConfig.ClusterSpec(scope, false, kubeconfig.toString(), null, null));
  }

  private static String kubeconfigOf(String user) {
    return String.join("\n", "apiVersion: v1", "kind: Config",
        "clusters: [{name: a, cluster: {server: 'https://a.invalid:6443'}}]",
        "users: [{name: u, user: " + user + "}]",
        "contexts: [{name: a, context: {cluster: a, user: u}}]", "current-context: a", "");
  }

  /** The headers an interceptor sets on a request. */
  private static BasicBuilder recording(Map<String, String> headers) {
    return new BasicBuilder() {
      @Override
      public BasicBuilder uri(URI uri) {
        return this;
      }

      @Override
      public BasicBuilder header(String name, String value) {
        headers.put(name, value);
        return this;
      }

      @Override
      public BasicBuilder setHeader(String name, String value) {
        headers.put(name, value);
        return this;
      }
    };
  }
}

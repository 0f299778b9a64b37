package io.k8ssync.daemon;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonIncludeProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.sink.config.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the Kubernetes client of a configured cluster: in-cluster, a kubeconfig file, or the default lookup. */
final class Clients {

  private Clients() {}

  static KubernetesClient forCluster(DaemonConfig.ClusterSpec spec) {
    Config config = config(spec);
    // The JDK's own HTTP client, not fabric8's default Vert.x one: no Vert.x and Netty classes loaded
    // (~900 fewer, 17 MiB less RSS at 1,000 pods, docs/BENCHMARKS.md "Footprint beside a Go peer").
    javax.net.ssl.SSLParameters chachaFirst = ChaChaFirst.forApiClient(config);
    JdkHttpClientFactory http = chachaFirst == null ? new JdkHttpClientFactory() : new JdkHttpClientFactory() {
      @Override
      protected void additionalConfig(java.net.http.HttpClient.Builder builder) {
        builder.sslParameters(chachaFirst); // after fabric8's own (its protocols, carried over)
      }
    };
    return new KubernetesClientBuilder().withConfig(config).withHttpClientFactory(http)
        .withKubernetesSerialization(serialization()).build();
  }

  /** The client's configuration: in-cluster, from a kubeconfig file, or the default lookup. */
  static Config config(DaemonConfig.ClusterSpec spec) {
    Config config;
    if (spec.kubeconfig() != null) {
      try {
        config = Config.fromKubeconfig(spec.context(), Files.readString(Path.of(spec.kubeconfig())), spec.kubeconfig());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read kubeconfig " + spec.kubeconfig() + " of cluster " + spec.scope().cluster(), e);
      }
    } else if (spec.inCluster()) {
      // The pod's service account only: a kubeconfig found by the default lookup ($KUBECONFIG,
      // ~/.kube/config) must not win over it. The switch is process-wide because fabric8 reads it
      // again when it refreshes the (rotating) token; ConfigLoader allows no default-lookup
      // cluster beside an in-cluster one.
      System.setProperty(Config.KUBERNETES_AUTH_TRYKUBECONFIG_SYSTEM_PROPERTY, "false");
      config = Config.autoConfigure(null);
    } else {
      config = Config.autoConfigure(spec.context());
    }
    namedContext(spec, config);
    noRefreshWithoutToken(config);
    return config;
  }

  /**
   * fabric8's token-refresh interceptor, once a client is a minute old, reads and parses the kubeconfig
   * again before every request until it finds a token: it moves its next refresh only then. A user
   * authenticated by a client certificate alone has no token, so every call paid a YAML parse (~70% of
   * the CPU of an Event write, docs/BENCHMARKS.md "150,000 pods"). The certificate sits in the HTTP
   * client's TLS context, built once, so nothing a re-read finds could change what the client sends:
   * such a client asks a token provider with no token instead. A user with a token of any kind (the
   * kubeconfig's, an exec plugin's, an auth provider's, the service account's) keeps fabric8's refresh.
   */
  private static void noRefreshWithoutToken(Config config) {
    boolean certificate = config.getClientCertFile() != null || config.getClientCertData() != null;
    boolean token = config.getOauthToken() != null || config.getAutoOAuthToken() != null
        || config.getOauthTokenProvider() != null || config.getAuthProvider() != null
        || (config.getUsername() != null && !config.getUsername().isEmpty());
    if (certificate && !token) {
      config.setOauthTokenProvider(() -> null);
    }
  }

  /**
   * fabric8's default serialization registers every model class of every API group on the class path
   * (ServiceLoader, ~730 classes: ~6 MiB of class metadata and ~0.25 CPU-s at start-up, measured in
   * docs/BENCHMARKS.md, "Footprint beside a Go peer") to decode objects of a kind not known in advance.
   * The daemon watches pods only: a watch event holds a Pod, or a Status when the watch fails (a 410
   * Gone that makes the informer relist), so those two are registered and decode exactly as before.
   * Any other kind would decode as a GenericKubernetesResource, which fabric8 converts to the watched type.
   * Objects decode without their {@code metadata.managedFields} (see {@link WithoutManagedFields}), pods
   * with the parts of their spec and status the daemon reads only (see {@link PodSpecRead}).
   */
  static KubernetesSerialization serialization() {
    ObjectMapper mapper = new ObjectMapper();
    mapper.addMixIn(ObjectMeta.class, WithoutManagedFields.class);
    mapper.addMixIn(PodSpec.class, PodSpecRead.class);
    mapper.addMixIn(Container.class, ContainerRead.class);
    mapper.addMixIn(PodStatus.class, PodStatusRead.class);
    KubernetesSerialization serialization = new KubernetesSerialization(mapper, false);
    serialization.registerKubernetesResource(Pod.class);
    serialization.registerKubernetesResource(Status.class);
    return serialization;
  }

  /**
   * The server-side-apply bookkeeping of every object, about half the bytes of a pod list (48% at 1,000
   * pods in FootprintBench), decoded into nested maps that nothing here reads: the daemon projects pods
   * to PodState and writes them with hand-built patches, which never carry managedFields. Skipped by the
   * parser instead: ~0.1 CPU-s of young collections less at start-up (docs/BENCHMARKS.md, "Footprint
   * beside a Go peer"). A Lease written back by the elector without it keeps the server's (a PUT that
   * omits managedFields leaves them as they are).
   */
  @JsonIgnoreProperties("managedFields")
  private abstract static class WithoutManagedFields {}

  /**
   * Of a pod's spec, what the daemon reads (PodProjector, RolloutRules): the node, the containers' ports and
   * the readiness gates. The rest (images, env, probes, resources, volumes, tolerations, affinity, init
   * containers, and any field the API adds later) is skipped by the parser, not decoded into objects and
   * maps nothing reads, nor kept as unknown properties: fewer bytes per listed pod while the informer holds
   * it, fewer model classes introspected and compiled at start-up (docs/BENCHMARKS.md, "Footprint beside
   * a Go peer"). The daemon never writes a pod it read back (its patches are built by hand), and metadata
   * stays whole: a Lease is written back as read.
   */
  @JsonIncludeProperties({"nodeName", "containers", "readinessGates"})
  private abstract static class PodSpecRead {}

  /** Of a container, its name and ports (the first port is a pod's default one). */
  @JsonIncludeProperties({"name", "ports"})
  private abstract static class ContainerRead {}

  /** Of a pod's status: phase, IPs and conditions (Ready, ContainersReady, the rollout gate's); no container statuses. */
  @JsonIncludeProperties({"phase", "podIP", "hostIP", "conditions"})
  private abstract static class PodStatusRead {}

  /**
   * fabric8 takes the current context in place of a named one it does not find, so the daemon would
   * watch another cluster. ConfigLoader refuses such a config; this holds if the file changed since.
   */
  private static void namedContext(DaemonConfig.ClusterSpec spec, Config config) {
    String current = config.getCurrentContext() == null ? null : config.getCurrentContext().getName();
    if (spec.context() != null && !spec.context().equals(current)) {
      ConfigException e = new ConfigException("clusters[name: " + spec.scope().cluster() + "].context",
          "found " + ConfigException.show(spec.context()) + "; expected a context of "
              + (spec.kubeconfig() != null ? spec.kubeconfig() : "the kubeconfig found by the default lookup")
              + " (fabric8 would use the current context, " + current + ")");
      throw new IllegalStateException(e.getMessage(), e);
    }
  }
}

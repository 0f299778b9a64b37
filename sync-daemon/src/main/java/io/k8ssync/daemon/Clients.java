package io.k8ssync.daemon;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
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
    return new KubernetesClientBuilder().withConfig(config).build();
  }

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

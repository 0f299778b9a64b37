package io.k8ssync.daemon;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.daemon.config.DaemonConfig;
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
    return new KubernetesClientBuilder().withConfig(config).build();
  }
}

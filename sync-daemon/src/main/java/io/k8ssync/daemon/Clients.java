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
    } else {
      // In a pod with no kubeconfig, autoConfigure uses the service account token.
      config = Config.autoConfigure(spec.context());
    }
    return new KubernetesClientBuilder().withConfig(config).build();
  }
}

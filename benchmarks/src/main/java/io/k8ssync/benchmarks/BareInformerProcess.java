package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The baseline of {@link InitialSyncBenchmark}, in its own JVM: a bare fabric8 informer on all
 * pods (full Pods, fabric8's default store with its namespace index), listing with the same page
 * size as the daemon. Prints {@code synced <epoch micros> <pods>} once its initial list is in the
 * store, then keeps watching until killed. Args: kubeconfig, page size.
 */
public final class BareInformerProcess {

  private BareInformerProcess() {}

  public static void main(String[] args) throws Exception {
    Path kubeconfig = Path.of(args[0]);
    long pageSize = Long.parseLong(args[1]);
    Config config = Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    SharedIndexInformer<Pod> informer = client.pods().inAnyNamespace().withLimit(pageSize).runnableInformer(0);
    informer.start().toCompletableFuture().join();
    while (!informer.hasSynced()) {
      Thread.sleep(1);
    }
    System.out.println("synced " + InitialSyncBenchmark.micros(Instant.now()) + " " + informer.getStore().list().size());
    System.out.flush();
    Thread.currentThread().join();
  }
}

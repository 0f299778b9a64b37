package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The churn baseline of {@link InitialSyncBenchmark}, in its own JVM beside the daemon: a bare fabric8
 * watch on all pods (full Pods, fabric8's default deserialization, no store, no queue), from the
 * API server's state at its start. It shows how late the API server itself delivers a change under
 * the churn, so the daemon's lag can be read against it. Prints {@code watching <resourceVersion>}
 * once, then for each event {@code <namespace>/<name> <ready 0|1> <epoch micros when the event was
 * decoded>}. Args: kubeconfig.
 */
public final class BareWatchProcess {

  private BareWatchProcess() {}

  public static void main(String[] args) throws Exception {
    Path kubeconfig = Path.of(args[0]);
    Config config = Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    String rv = client.pods().inAnyNamespace().list(new ListOptionsBuilder().withLimit(1L).build()).getMetadata().getResourceVersion();
    BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
    Object lock = new Object();
    client.pods().inAnyNamespace().withResourceVersion(rv).watch(new Watcher<Pod>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        long at = InitialSyncBenchmark.micros(Instant.now());
        boolean ready = pod.getStatus() != null && pod.getStatus().getConditions() != null && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
        String line = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName() + " " + (ready ? 1 : 0) + " " + at;
        synchronized (lock) {
          try {
            out.write(line);
            out.newLine();
            out.flush();
          } catch (java.io.IOException e) {
            System.exit(1); // the benchmark is gone
          }
        }
      }

      @Override
      public void onClose(WatcherException cause) {
        System.err.println("bare watch closed: " + cause);
        System.exit(1);
      }
    });
    synchronized (lock) {
      out.write("watching " + rv);
      out.newLine();
      out.flush();
    }
    Thread.currentThread().join();
  }
}

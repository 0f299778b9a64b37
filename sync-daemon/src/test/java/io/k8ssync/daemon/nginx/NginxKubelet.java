package io.k8ssync.daemon.nginx;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.HttpBackend;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Plays the kubelet for pods whose containers are {@link HttpBackend}s on loopback addresses: starts
 * the server and reports the pod Ready, marks a deleted pod terminating, stops the server after its
 * preStop delay and finishes the deletion, all through the real API server.
 */
final class NginxKubelet implements AutoCloseable {

  private final KubernetesClient client;
  private final String namespace;
  private final int port;
  private final Map<String, HttpBackend> running = new ConcurrentHashMap<>();

  NginxKubelet(KubernetesClient client, String namespace, int port) {
    this.client = client;
    this.namespace = namespace;
    this.port = port;
  }

  /** A pod of service web whose container listens on {@code ip}:port, Ready once its server is up. */
  void start(String name, String ip, Map<String, String> annotations) {
    running.put(name, HttpBackend.started(name, ip, port));
    Pod pod = new PodBuilder(TestPods.scheduled(namespace, name)).editMetadata()
        .addToAnnotations("k8s-sync.io/port", Integer.toString(port)).addToAnnotations(annotations).endMetadata().build();
    client.pods().inNamespace(namespace).resource(pod).create();
    TestPods.markReady(client, namespace, name, ip, true);
  }

  /** Deletion starts: the pod is terminating (deletionTimestamp) while its preStop runs. */
  void terminating(String name) {
    client.pods().inNamespace(namespace).withName(name).withGracePeriod(30).delete();
  }

  /** The preStop is over: the container stops (connection refused from now on) and the pod is gone. */
  void killed(String name) {
    HttpBackend b = running.remove(name);
    if (b != null) {
      b.stop();
    }
    client.pods().inNamespace(namespace).withName(name).withGracePeriod(0).delete();
  }

  @Override
  public void close() {
    running.values().forEach(HttpBackend::stop);
  }
}

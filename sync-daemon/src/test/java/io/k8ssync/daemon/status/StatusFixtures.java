package io.k8ssync.daemon.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.ZonedDateTime;
import java.util.List;

/** What the status tests share: namespaces, Events read back from the API server, and calls to the status API. */
final class StatusFixtures {

  static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private StatusFixtures() {}

  /** A fresh namespace named {@code prefix-<random>}. */
  static String namespace(KubernetesClient client, String prefix) {
    return io.k8ssync.daemon.testing.TestPods.namespace(client, prefix);
  }

  /** The Events on pod {@code ns/pod}, as {@code kubectl describe pod} would list them. */
  static List<Event> events(KubernetesClient client, String ns, String pod) {
    return client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> "Pod".equals(e.getInvolvedObject().getKind()) && pod.equals(e.getInvolvedObject().getName()))
        .toList();
  }

  static List<Event> events(KubernetesClient client, String ns, String pod, String reason) {
    return events(client, ns, pod).stream().filter(e -> reason.equals(e.getReason())).toList();
  }

  /** A Lease of {@code cluster} held for an hour by {@code holder}: a daemon started now is that cluster's standby. */
  static void foreignLease(KubernetesClient client, String ns, String cluster, String holder) {
    ZonedDateTime now = ZonedDateTime.now();
    client.leases().inNamespace(ns).resource(new LeaseBuilder().withNewMetadata().withName("k8s-sync-" + cluster)
        .withNamespace(ns).endMetadata().withNewSpec().withHolderIdentity(holder).withLeaseDurationSeconds(3600)
        .withAcquireTime(now).withRenewTime(now).withLeaseTransitions(0).endSpec().build()).create();
  }

  record Answer(int status, String body, String contentType) {
    JsonNode json() throws Exception {
      return JSON.readTree(body);
    }
  }

  static Answer get(Daemon d, String pathAndQuery) throws Exception {
    return get("http://127.0.0.1:" + d.httpPort(), pathAndQuery);
  }

  static Answer get(String base, String pathAndQuery) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + pathAndQuery)).build(),
        HttpResponse.BodyHandlers.ofString());
    return new Answer(r.statusCode(), r.body(), r.headers().firstValue("Content-Type").orElse(""));
  }
}

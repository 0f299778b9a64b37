package io.k8ssync.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Creates the realistic pods of {@link RealisticPods} through the API as a controller and a kubelet
 * would: a POST of the pod without status, then its status through the status subresource (a merge
 * patch). One pod in 20 stays Pending (no status, no IP), one in 20 is Running but not Ready, the
 * rest are Running and Ready with an IP. Requests go out asynchronously, {@code inFlight} at once.
 */
final class PodPopulator {

  static final ObjectMapper JSON = new ObjectMapper();

  private PodPopulator() {}

  static boolean pending(int i) {
    return i % 20 == 0;
  }

  static boolean ready(int i) {
    return i % 20 >= 2;
  }

  static int readyCount(int pods) {
    int n = 0;
    for (int i = 0; i < pods; i++) {
      n += ready(i) ? 1 : 0;
    }
    return n;
  }

  static String namespace(int i) {
    return "team-" + (i % 50);
  }

  /** The pod's metadata name (as {@link RealisticPods#json} names it). */
  static String name(int i) {
    String app = "svc-" + (i % 400);
    String rs = app + "-" + Integer.toHexString(0x5f3a1b00 + (i % 400) * 7);
    return rs + "-" + Integer.toString(100_000 + i, 36);
  }

  /** The pod as a client creates it: what the server assigns (uid, resourceVersion, timestamps, status) taken out. */
  static String createBody(int i) throws Exception {
    ObjectNode pod = (ObjectNode) JSON.readTree(RealisticPods.json(i));
    ObjectNode meta = (ObjectNode) pod.get("metadata");
    meta.remove("uid");
    meta.remove("resourceVersion");
    meta.remove("creationTimestamp");
    pod.remove("status");
    return JSON.writeValueAsString(pod);
  }

  /** The kubelet's status of pod {@code i}, as a merge patch of the status subresource. */
  static String statusPatch(int i) throws Exception {
    ObjectNode status = (ObjectNode) JSON.readTree(RealisticPods.json(i)).get("status");
    if (!ready(i)) {
      for (JsonNode c : (ArrayNode) status.get("conditions")) {
        String type = c.get("type").asText();
        if (type.equals("Ready") || type.equals("ContainersReady")) {
          ((ObjectNode) c).put("status", "False");
        }
      }
      ((ObjectNode) status.get("containerStatuses").get(0)).put("ready", false);
    }
    ObjectNode patch = JSON.createObjectNode();
    patch.set("status", status);
    return JSON.writeValueAsString(patch);
  }

  /** Creates the namespaces and pods 0..pods-1. Returns the seconds it took. */
  static double populate(KubernetesClient client, int pods, int inFlight) throws Exception {
    long start = System.nanoTime();
    String base = client.getMasterUrl().toString().replaceAll("/$", "");
    HttpClient http = client.getHttpClient();
    for (int n = 0; n < 50; n++) {
      send(http, http.newHttpRequestBuilder().uri(base + "/api/v1/namespaces")
          .post("application/json", "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-" + n + "\"}}").build(), true)
          .join();
    }
    Semaphore slots = new Semaphore(inFlight);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger done = new AtomicInteger();
    for (int i = 0; i < pods && failure.get() == null; i++) {
      slots.acquire();
      int pod = i;
      String podsUrl = base + "/api/v1/namespaces/" + namespace(i) + "/pods";
      HttpRequest create = http.newHttpRequestBuilder().uri(podsUrl).post("application/json", createBody(i)).build();
      send(http, create, true).thenCompose(r -> {
        if (pending(pod)) {
          return java.util.concurrent.CompletableFuture.completedFuture(r);
        }
        try {
          return send(http, http.newHttpRequestBuilder().uri(podsUrl + "/" + name(pod) + "/status")
              .method("PATCH", "application/merge-patch+json", statusPatch(pod)).build(), false);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }).whenComplete((r, t) -> {
        if (t != null) {
          failure.compareAndSet(null, t);
        }
        int d = done.incrementAndGet();
        if (d % 10_000 == 0) {
          System.out.printf("  created %,d pods in %.0f s%n", d, (System.nanoTime() - start) / 1e9);
        }
        slots.release();
      });
    }
    slots.acquire(inFlight);
    if (failure.get() != null) {
      throw new IllegalStateException("creating pods failed", failure.get());
    }
    return (System.nanoTime() - start) / 1e9;
  }

  /**
   * Puts back the Ready condition of pods an earlier run's churn left flipped (or a run killed
   * mid-churn), so that every run starts from the same 1-in-20 Pending, 1-in-20 not Ready. Lists
   * page by page; returns how many pods it patched.
   */
  static int restore(KubernetesClient client) throws Exception {
    String base = client.getMasterUrl().toString().replaceAll("/$", "");
    HttpClient http = client.getHttpClient();
    int fixed = 0;
    String next = null;
    do {
      io.fabric8.kubernetes.api.model.PodList page = client.pods().inAnyNamespace().list(
          new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(500L).withContinue(next).build());
      for (io.fabric8.kubernetes.api.model.Pod p : page.getItems()) {
        String name = p.getMetadata().getName();
        int i = Integer.parseInt(name.substring(name.lastIndexOf('-') + 1), 36) - 100_000;
        if (pending(i) || p.getStatus() == null || p.getStatus().getConditions() == null) {
          continue;
        }
        boolean isReady = p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
        if (isReady != ready(i)) {
          send(http, http.newHttpRequestBuilder().uri(base + "/api/v1/namespaces/" + namespace(i) + "/pods/" + name + "/status")
              .method("PATCH", "application/strategic-merge-patch+json", "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\""
                  + (ready(i) ? "True" : "False") + "\"}]}}").build(), false).join();
          fixed++;
        }
      }
      next = page.getMetadata().getContinue();
    } while (next != null && !next.isEmpty());
    return fixed;
  }

  /** Sends; a 409 on create (already exists, from an interrupted earlier run) counts as done. */
  static java.util.concurrent.CompletableFuture<HttpResponse<String>> send(HttpClient http, HttpRequest req, boolean create) {
    return http.sendAsync(req, String.class).thenApply(r -> {
      if (r.code() >= 300 && !(create && r.code() == 409)) {
        throw new IllegalStateException(req.method() + " " + req.uri() + " -> " + r.code() + ": " + r.body());
      }
      return r;
    });
  }
}

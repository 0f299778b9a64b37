package io.k8ssync.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.RecordingSinkFactory.Recording;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Transition;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The daemon against a real kube-apiserver and etcd (no kubelet: the test plays it). */
@ExtendWith(KubeApiServerExtension.class)
class RealApiServerTest {

  static Daemon startDaemon(String cluster, String ns, String sink, Supplier<KubernetesClient> clients) throws Exception {
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 2s}",
        "clusters: [{name: " + cluster + ", namespaces: [" + ns + "]}]",
        "dispatch: {retry: {baseDelay: 1ms, maxDelay: 20ms, jitter: 0}}",
        "sinks: [{name: " + sink + ", type: recording}]", "");
    return Daemons.synced(yaml, clients);
  }

  static List<Transition> transitions(Recording r, String pod) {
    return r.applied.stream().filter(c -> c.key().endsWith("/" + pod)).map(PodChange::transition).toList();
  }

  @Test
  void podLifecycleArrivesInOrder(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = TestPods.namespace(client, "life");
      String sink = "rec-" + ns;
      Daemon daemon = startDaemon("real", ns, sink, api::client);
      try {
        Recording rec = RecordingSinkFactory.get(sink);
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-1")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 1);

        // The kubelet's part: podIP, phase and the Ready condition, through the status subresource.
        client.pods().inNamespace(ns).withName("web-1").editStatus(p -> TestPods.withReadyStatus(p, "10.244.1.7", true));
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 2);
        assertTrue(Registration.desiredOnline(rec.applied.get(rec.applied.size() - 1).after()));

        client.pods().inNamespace(ns).withName("web-1").withGracePeriod(30).delete();
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 3);
        Pod terminating = client.pods().inNamespace(ns).withName("web-1").get();
        assertTrue(terminating != null && terminating.getMetadata().getDeletionTimestamp() != null,
            "still present, with a deletionTimestamp");
        assertFalse(Registration.desiredOnline(rec.applied.get(rec.applied.size() - 1).after()), "terminating is offline");

        client.pods().inNamespace(ns).withName("web-1").withGracePeriod(0).delete();
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 4);

        assertEquals(List.of(Transition.ADDED, Transition.BECAME_READY, Transition.TERMINATING, Transition.DELETED),
            transitions(rec, "web-1"));
      } finally {
        daemon.close();
      }
    }
  }

  /**
   * A sink asks whether the cached state of a pod is on its way to it ({@code SinkContext.changePending}:
   * a reconcile pass leaves such a pod's entry to that change): yes from the moment the daemon queued the
   * change, while it waits and while it is being applied, no once its apply returned, and no while it
   * waits out a retry's backoff (it failed: the pass is what repairs what keeps failing).
   */
  @Test
  void aSinkSeesWhichPodStatesAreOnTheirWayAndNotThoseThatFailed(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = TestPods.namespace(client, "pending");
      String sink = "rec-" + ns;
      Daemon daemon = startDaemon("real", ns, sink, api::client);
      try {
        Recording rec = RecordingSinkFactory.get(sink);
        java.util.concurrent.Semaphore gate = new java.util.concurrent.Semaphore(0);
        rec.gate = gate;
        String web1 = "real/" + ns + "/web-1";
        String web2 = "real/" + ns + "/web-2";
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-1")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> rec.attempts.get() == 1);
        client.pods().inNamespace(ns).resource(TestPods.scheduled(ns, "web-2")).create();
        await().atMost(Duration.ofSeconds(30)).until(() -> onItsWay(daemon, rec, web2));
        assertTrue(onItsWay(daemon, rec, web1), "being applied");

        rec.gate = null;
        gate.release(2);
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 1
            && transitions(rec, "web-2").size() == 1 && !onItsWay(daemon, rec, web1) && !onItsWay(daemon, rec, web2));

        // Every apply fails now: the ready state goes back and forth between a retry's backoff and an attempt.
        rec.failNext.set(Integer.MAX_VALUE);
        client.pods().inNamespace(ns).withName("web-1").editStatus(p -> TestPods.withReadyStatus(p, "10.244.1.7", true));
        await().atMost(Duration.ofSeconds(30)).until(() -> rec.attempts.get() > 3);
        await().atMost(Duration.ofSeconds(30)).until(() -> state(daemon, web1).ready() && !onItsWay(daemon, rec, web1));
        rec.failNext.set(0);
        await().atMost(Duration.ofSeconds(30)).until(() -> transitions(rec, "web-1").size() == 2 && !onItsWay(daemon, rec, web1));
      } finally {
        daemon.close();
      }
    }
  }

  private static io.k8ssync.sink.PodState state(Daemon daemon, String key) {
    return daemon.cache().pods().stream().filter(p -> p.key().equals(key)).findFirst().orElseThrow();
  }

  /** What the sink's context says of the pod's cached state. */
  private static boolean onItsWay(Daemon daemon, Recording rec, String key) {
    return rec.context().changePending(state(daemon, key));
  }

}

package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.HeadlessChromium.strings;
import static io.k8ssync.daemon.status.StatusFixtures.namespace;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import io.k8ssync.daemon.testing.RecordingSinkFactory;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.PodState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The status page in a real browser (Debian's headless Chromium) served by a daemon on a real
 * kube-apiserver, with pods online, failing, pending, rejected and 120 more to page through: a
 * person types a service into the search box, presses Enter, and sees its pods coloured by state.
 * The screenshot is kept as target/status-page.png.
 */
@ExtendWith(KubeApiServerExtension.class)
class StatusPageBrowserTest {

  static final Path SCREENSHOT = Path.of("target/status-page.png");

  @Test
  void aPersonSearchesForAServiceAndSeesItsPodsColouredByState(KubeApi api) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "shop");
      String bulk = namespace(client, "bulk");
      String yaml = String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 1s}",
          "clusters: [{name: prod, namespaces: [" + ns + ", " + bulk + "]}]",
          "dispatch: {failingThreshold: 3, retry: {baseDelay: 5ms, maxDelay: 200ms, jitter: 0}}",
          "sinks:",
          "  - {name: gateway, type: recording}",
          "  - {name: rpc, type: recording, workers: 1, selector: {services: [web, cart]}}",
          "  - {name: mysql, type: recording}",
          "");
      Daemon daemon = Daemons.synced(yaml, api::client);
      Semaphore gate = new Semaphore(0);
      try {
        for (int i = 1; i <= 3; i++) {
          PodEventsTest.readyPod(client, ns, "web-" + i, "10.40.0." + i);
        }
        client.pods().inNamespace(ns).resource(TestPods.pending(ns, "cart-1", "cart")).create();
        TestPods.markReady(client, ns, "cart-1", "10.40.1.1", true);
        client.pods().inNamespace(ns).resource(new PodBuilder(TestPods.pending(ns, "web-bad", "web"))
            .editMetadata().addToAnnotations("k8s-sync.io/weight", "987654321").endMetadata().build()).create();
        for (int i = 0; i < 120; i++) {
          client.pods().inNamespace(bulk).resource(TestPods.pending(bulk, String.format("batch-%03d", i), "bulk")).create();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> daemon.cache().size() == 3 + 1 + 1 + 120
            && daemon.dispatcher().runners().stream().allMatch(r -> r.queue().unfinished() == 0)
            && online(daemon, "gateway", ns, "web-3") && online(daemon, "rpc", ns, "cart-1"));
        RecordingSinkFactory.get("gateway").failNext.set(Integer.MAX_VALUE);
        RecordingSinkFactory.get("rpc").gate = gate;
        PodEventsTest.readyPod(client, ns, "web-4", "10.40.0.4");
        await().atMost(Duration.ofSeconds(30)).until(() -> {
          PodProgress.Entry e = daemon.progress().get("gateway", PodState.key("prod", ns, "web-4"));
          return e != null && e.attempts() >= 3 && daemon.dispatcher().runner("gateway").failing();
        });

        try (HeadlessChromium browser = new HeadlessChromium(1280, 860)) {
          String base = "http://127.0.0.1:" + daemon.httpPort();
          browser.open(base + "/");
          assertEquals("single", browser.eval("document.getElementById('replica').dataset.role").asText());
          assertEquals(List.of("gateway", "rpc", "mysql"),
              strings(browser.eval("[...document.querySelectorAll('#sinks tbody tr')].map(r => r.dataset.sink)")));
          assertEquals("false", browser.eval("document.querySelector('#sinks tr[data-sink=gateway]').dataset.healthy").asText());
          assertEquals(126, browser.eval("+document.getElementById('matched').dataset.matched").asInt(), "125 pods and web-4");
          assertEquals(StatusPage.DEFAULT_LIMIT, browser.eval("document.querySelectorAll('#pods tbody tr').length").asInt(),
              "one page, not one giant table");

          // Search as a person does: type the service, press Enter.
          browser.eval("document.getElementById('q').focus()");
          browser.type("web");
          browser.navigatingBy(browser::pressEnter);
          assertTrue(browser.eval("location.search").asText().contains("q=web"));
          assertEquals(List.of(ns + "/web-1", ns + "/web-2", ns + "/web-3", ns + "/web-4", ns + "/web-bad"),
              strings(browser.eval("[...document.querySelectorAll('#pods tbody tr')].map(r => r.dataset.pod)")));
          assertEquals("web", browser.eval("document.getElementById('q').value").asText(), "the box keeps the search");
          assertEquals("online", cell(browser, ns + "/web-1", "gateway"));
          assertEquals("failing", cell(browser, ns + "/web-4", "gateway"));
          assertEquals("pending", cell(browser, ns + "/web-4", "rpc"));
          assertEquals("rgb(248, 215, 218)", background(browser, ns + "/web-4", "gateway"), "failing is red");
          assertEquals("rgb(255, 243, 205)", background(browser, ns + "/web-4", "rpc"), "pending is amber");
          assertEquals("rgb(209, 231, 221)", background(browser, ns + "/web-1", "gateway"), "online is green");
          String web4 = browser.eval("document.querySelector('#pods tr[data-pod=\"" + ns + "/web-4\"]').innerText").asText();
          assertTrue(web4.contains("told to fail"), "the gateway's error is on the row: " + web4);
          String bad = browser.eval("document.querySelector('#pods tr[data-pod=\"" + ns + "/web-bad\"]').innerText").asText();
          assertTrue(bad.contains("rejected: k8s-sync.io/weight is not an integer"), bad);
          assertFalse(browser.eval("document.body.innerText").asText().contains("987654321"), "never the rejected value");
          browser.screenshot(SCREENSHOT);
          assertTrue(Files.size(SCREENSHOT) > 10_000, "a real picture");

          // 120 pods of one service: pages of 50, in order, each pod once.
          browser.open(base + "/?q=bulk");
          Set<String> seen = new HashSet<>();
          int[] sizes = new int[3];
          for (int page = 0; page < 3; page++) {
            List<String> rows = strings(browser.eval("[...document.querySelectorAll('#pods tbody tr')].map(r => r.dataset.pod)"));
            sizes[page] = rows.size();
            seen.addAll(rows);
            if (page < 2) {
              browser.navigatingBy(() -> browser.eval("document.getElementById('next').click()"));
            }
          }
          assertEquals(List.of(50, 50, 20), List.of(sizes[0], sizes[1], sizes[2]));
          assertEquals(120, seen.size());
          assertFalse(browser.eval("!!document.getElementById('next')").asBoolean(), "the last page has no next");
          assertEquals("bulk", browser.eval("document.getElementById('q').value").asText(), "paging keeps the search");

          browser.open(base + "/?ip=not-an-ip");
          assertTrue(browser.eval("document.getElementById('problem').innerText").asText()
              .startsWith("ip \"not-an-ip\": expected an IPv4 or IPv6 address"));
        }
      } finally {
        RecordingSinkFactory.get("rpc").gate = null;
        gate.release(1000);
        daemon.close();
      }
    }
  }

  private static boolean online(Daemon d, String sink, String ns, String pod) {
    PodProgress.Entry e = d.progress().get(sink, PodState.key("prod", ns, pod));
    return e != null && e.state() == PodProgress.State.ONLINE;
  }

  private static String cell(HeadlessChromium b, String pod, String sink) throws Exception {
    return b.eval("document.querySelector('#pods tr[data-pod=\"" + pod + "\"] td[data-sink=\"" + sink + "\"]').dataset.state").asText();
  }

  private static String background(HeadlessChromium b, String pod, String sink) throws Exception {
    return b.eval("getComputedStyle(document.querySelector('#pods tr[data-pod=\"" + pod + "\"] td[data-sink=\"" + sink
        + "\"]')).backgroundColor").asText();
  }
}

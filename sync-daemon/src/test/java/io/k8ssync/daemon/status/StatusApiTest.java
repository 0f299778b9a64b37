package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.StatusFixtures.get;
import static io.k8ssync.daemon.status.StatusFixtures.namespace;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The status API against a daemon on a real kube-apiserver, with pods in every state: online in
 * all sinks, failing in one, pending in another (its apply blocked), rejected, not selected,
 * deleted but still held by a failing sink, and 25 more to page through.
 */
@ExtendWith(KubeApiServerExtension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StatusApiTest {

  private KubernetesClient client;
  private Daemon daemon;
  private String ns;
  private String pages;
  private String gw;
  private String slow;
  private String db;

  @BeforeAll
  void start(KubeApi api) throws Exception {
    client = api.client();
    ns = namespace(client, "api");
    pages = namespace(client, "pages");
    gw = "gw-" + ns;
    slow = "slow-" + ns;
    db = "db-" + ns;
    String yaml = String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 1s}",
        "clusters: [{name: real, namespaces: [" + ns + ", " + pages + "]}]",
        "dispatch: {failingThreshold: 3, retry: {baseDelay: 5ms, maxDelay: 50ms, jitter: 0}}",
        "sinks:",
        "  - {name: " + gw + ", type: recording}",
        "  - {name: " + slow + ", type: recording, workers: 1}",
        "  - {name: " + db + ", type: recording, selector: {services: [api]}}",
        "");
    daemon = Daemons.synced(yaml, api::client);

    // Online everywhere it is selected.
    for (int i = 1; i <= 3; i++) {
      PodEventsTest.readyPod(client, ns, "web-" + i, "10.20.0." + i);
    }
    client.pods().inNamespace(ns).resource(TestPods.pending(ns, "api-1", "api")).create();
    TestPods.markReady(client, ns, "api-1", "10.20.1.1", true);
    // Rejected: an annotation out of range (the value must never show). Not ready: offline everywhere.
    client.pods().inNamespace(ns).resource(new PodBuilder(TestPods.pending(ns, "web-bad", "web"))
        .editMetadata().addToAnnotations("k8s-sync.io/weight", "987654321").endMetadata().build()).create();
    for (int i = 0; i < 25; i++) {
      client.pods().inNamespace(pages).resource(TestPods.pending(pages, String.format("p-%02d", i), "paged")).create();
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> online(gw, "web-3") && online(slow, "web-3") && online(db, "api-1")
        && daemon.dispatcher().runners().stream().allMatch(r -> r.queue().unfinished() == 0)
        && daemon.progress().get(slow, PodState.key("real", pages, "p-24")) != null);

    // From now on the gateway fails everything and the slow sink takes nothing in.
    RecordingSinkFactory.get(gw).failNext.set(Integer.MAX_VALUE);
    RecordingSinkFactory.get(slow).gate = new Semaphore(0);
    PodEventsTest.readyPod(client, ns, "web-4", "10.20.0.4");
    PodEventsTest.readyPod(client, ns, "web-5", "10.20.0.5");
    await().atMost(Duration.ofSeconds(30)).until(() -> state(gw, "web-4") == PodProgress.State.FAILING
        && state(gw, "web-5") == PodProgress.State.FAILING);
    // web-5 goes: the gateway fails its offline too, so it still holds the deleted pod.
    String web5 = client.pods().inNamespace(ns).withName("web-5").get().getMetadata().getUid();
    client.pods().inNamespace(ns).withName("web-5").withGracePeriod(0).delete();
    await().atMost(Duration.ofSeconds(30)).until(() -> daemon.cache().get(key(ns, "web-5")) == null);
    assertEquals(web5, daemon.progress().get(gw, key(ns, "web-5")).uid());

    await().atMost(Duration.ofSeconds(30)).until(() -> daemon.cache().size() == 3 + 1 + 1 + 1 + 25 /* web-1..3, api-1, web-4, web-bad, pages */);
  }

  @AfterAll
  void stop() {
    Semaphore gate = RecordingSinkFactory.get(slow).gate;
    RecordingSinkFactory.get(slow).gate = null;
    gate.release(1000);
    daemon.close();
    client.close();
  }

  private static String key(String ns, String pod) {
    return PodState.key("real", ns, pod);
  }

  private PodProgress.State state(String sink, String pod) {
    PodProgress.Entry e = daemon.progress().get(sink, key(ns, pod));
    return e == null ? null : e.state();
  }

  private boolean online(String sink, String pod) {
    return state(sink, pod) == PodProgress.State.ONLINE;
  }

  private JsonNode ok(String pathAndQuery) throws Exception {
    StatusFixtures.Answer a = get(daemon, pathAndQuery);
    assertEquals(200, a.status(), pathAndQuery + " -> " + a.body());
    assertTrue(a.contentType().startsWith("application/json"), a.contentType());
    return a.json();
  }

  private String refused(String pathAndQuery) throws Exception {
    StatusFixtures.Answer a = get(daemon, pathAndQuery);
    assertEquals(400, a.status(), pathAndQuery + " -> " + a.body());
    assertEquals(400, a.json().get("status").asInt());
    return a.json().get("error").asText();
  }

  private static List<String> names(JsonNode body) {
    List<String> out = new ArrayList<>();
    body.get("pods").forEach(p -> out.add(p.get("name").asText()));
    return out;
  }

  private static JsonNode pod(JsonNode body, String name) {
    for (JsonNode p : body.get("pods")) {
      if (p.get("name").asText().equals(name)) {
        return p;
      }
    }
    throw new AssertionError(name + " not in " + body);
  }

  @Test
  void byServiceEachPodSaysWhereItStandsInEverySink() throws Exception {
    JsonNode body = ok("/v1/pods?service=web");
    assertEquals(List.of("web-1", "web-2", "web-3", "web-4", "web-5", "web-bad"), names(body));
    assertEquals(6, body.get("matched").asInt());
    assertEquals("single", body.get("replica").get("role").asText());

    JsonNode web1 = pod(body, "web-1");
    assertEquals("10.20.0.1", web1.get("ip").asText());
    assertEquals(8080, web1.get("port").asInt());
    assertEquals("online", web1.get("sinks").get(gw).get("state").asText());
    assertEquals("online", web1.get("sinks").get(slow).get("state").asText());
    assertEquals("offline", web1.get("sinks").get(db).get("state").asText(), "db selects only service api");
    assertFalse(web1.get("sinks").get(db).get("selected").asBoolean());
    assertTrue(web1.get("sinks").get(gw).hasNonNull("since"));

    JsonNode web4 = pod(body, "web-4").get("sinks");
    assertEquals("failing", web4.get(gw).get("state").asText());
    assertEquals("online", web4.get(gw).get("want").asText());
    assertTrue(web4.get(gw).get("lastError").asText().contains("told to fail"), web4.toString());
    assertTrue(web4.get(gw).get("attempts").asInt() >= 1);
    assertEquals("pending", web4.get(slow).get("state").asText(), "the slow sink has not had it yet");
    assertEquals("online", web4.get(slow).get("want").asText());
    assertTrue(web4.get(slow).get("queued").asBoolean(), "its change waits in the slow sink");

    JsonNode web5 = pod(body, "web-5");
    assertTrue(web5.get("gone").asBoolean(), "deleted, but the gateway still holds it");
    assertEquals("failing", web5.get("sinks").get(gw).get("state").asText());
    assertEquals("offline", web5.get("sinks").get(gw).get("want").asText());

    JsonNode bad = pod(body, "web-bad");
    assertEquals("k8s-sync.io/weight", bad.get("rejection").get("field").asText());
    assertTrue(bad.get("rejection").get("reason").asText().startsWith("is not an integer"), bad.toString());
    assertFalse(body.toString().contains("987654321"), "never the rejected value");
  }

  @Test
  void theSinksHealthQueueAndLagComeWithEveryPodAnswer() throws Exception {
    JsonNode sinks = ok("/v1/pods?name=web-1").get("sinks");
    assertEquals(3, sinks.size());
    assertEquals(gw, sinks.get(0).get("name").asText());
    assertEquals("recording", sinks.get(0).get("type").asText());
    assertFalse(sinks.get(0).get("healthy").asBoolean(), "the gateway fails on and on");
    assertTrue(sinks.get(0).get("consecutiveFailures").asInt() >= 3);
    assertTrue(sinks.get(1).get("healthy").asBoolean());
    assertTrue(sinks.get(1).get("lagSeconds").asDouble() > 0, "the slow sink's oldest change waits");
    assertTrue(sinks.get(1).get("queueCapacity").asInt() > 0);
  }

  @Test
  void byNamespaceNameIpAndFreeText() throws Exception {
    assertEquals(25, ok("/v1/pods?namespace=" + pages).get("matched").asInt());
    assertEquals(List.of("web-2"), names(ok("/v1/pods?name=web-2")));
    assertEquals(List.of("web-2"), names(ok("/v1/pods?namespace=" + ns + "&name=web-2")));
    assertEquals(List.of("web-3"), names(ok("/v1/pods?ip=10.20.0.3")));
    assertEquals(List.of("web-3"), names(ok("/v1/pods?q=10.20.0.3")), "an IP typed in the search box");
    assertEquals(List.of("api-1"), names(ok("/v1/pods?q=api")), "a service typed in the search box");
    assertEquals(List.of("p-10", "p-11", "p-12"), names(ok("/v1/pods?q=p-1&limit=3")), "part of a pod name");
    assertEquals(List.of(), names(ok("/v1/pods?cluster=elsewhere")));
    JsonNode api1 = pod(ok("/v1/pods?service=api"), "api-1");
    assertEquals("online", api1.get("sinks").get(db).get("state").asText());
  }

  @Test
  void anUnknownIpIsAnEmptyAnswerNotAnError() throws Exception {
    JsonNode body = ok("/v1/pods?ip=10.99.99.99");
    assertEquals(0, body.get("matched").asInt());
    assertEquals(0, body.get("pods").size());
    assertNull(body.get("continue"));
    assertEquals(0, ok("/v1/pods?ip=fd00::99").get("matched").asInt());
  }

  @Test
  void byStateInAnySinkOrInOne() throws Exception {
    assertEquals(List.of("web-4", "web-5"), names(ok("/v1/pods?state=failing")));
    assertEquals(List.of("web-4"), names(ok("/v1/pods?state=pending&sink=" + slow)));
    assertEquals(List.of("api-1"), names(ok("/v1/pods?state=online&sink=" + db)));
    assertEquals(List.of(), names(ok("/v1/pods?state=failing&sink=" + db)));
  }

  @Test
  void pagesFollowThePodKeyOrderUntilNoTokenIsLeft() throws Exception {
    List<String> seen = new ArrayList<>();
    JsonNode page = ok("/v1/pods?namespace=" + pages + "&limit=10");
    int pagesRead = 1;
    while (true) {
      assertTrue(page.get("pods").size() <= 10);
      assertEquals(25, page.get("matched").asInt(), "matched counts all pages");
      seen.addAll(names(page));
      if (page.get("continue") == null) {
        break;
      }
      page = ok("/v1/pods?namespace=" + pages + "&limit=10&continue=" + page.get("continue").asText());
      pagesRead++;
    }
    assertEquals(3, pagesRead);
    assertEquals(25, seen.size());
    assertEquals(new ArrayList<>(new TreeSet<>(seen)), seen, "sorted, each once");
    // The page size may change between pages; the filters may not.
    String token = ok("/v1/pods?namespace=" + pages + "&limit=20").get("continue").asText();
    assertEquals(5, ok("/v1/pods?namespace=" + pages + "&limit=50&continue=" + token).get("pods").size());
    assertTrue(refused("/v1/pods?namespace=" + ns + "&continue=" + token).contains("belongs to a query with other filters"));
  }

  @Test
  void badParametersAreRefusedWithAMessageNamingThem() throws Exception {
    assertEquals("ip \"999.1.1.1\": expected an IPv4 or IPv6 address, such as 10.1.2.3", refused("/v1/pods?ip=999.1.1.1"));
    assertEquals("limit \"0\": expected an integer from 1 to 1000", refused("/v1/pods?limit=0"));
    assertEquals("limit \"lots\": expected an integer from 1 to 1000", refused("/v1/pods?limit=lots"));
    assertEquals("limit \"1001\": expected an integer from 1 to 1000", refused("/v1/pods?limit=1001"));
    assertTrue(refused("/v1/pods?state=up").startsWith("state \"up\": expected one of online, draining, offline, pending, failing"));
    assertTrue(refused("/v1/pods?sink=nope").startsWith("sink \"nope\": expected a configured sink: "));
    assertTrue(refused("/v1/pods?colour=red").startsWith("unknown parameter \"colour\"; expected any of: service, namespace"));
    assertEquals("parameter service is given more than once; expected it at most once", refused("/v1/pods?service=web&service=api"));
    assertTrue(refused("/v1/pods?namespace=Not_A_Namespace").startsWith("namespace \"Not_A_Namespace\": expected a namespace name"));
    assertTrue(refused("/v1/pods?service=a/b").startsWith("service \"a/b\": expected a service name"));
    assertTrue(refused("/v1/pods?continue=not-a-token").startsWith("continue \"not-a-token\": expected a token"));
    assertTrue(refused("/v1/pods?q=%00x").startsWith("q \"\\u0000x\": expected"));
    assertTrue(refused("/v1/services?limit=-1").startsWith("limit \"-1\""));
    assertTrue(refused("/v1/sinks?x=1").startsWith("unknown parameter \"x\""));
  }

  @Test
  void servicesAreCountedPerSinkAndState() throws Exception {
    JsonNode body = ok("/v1/services");
    assertEquals(3, body.get("matched").asInt(), "api, paged, web");
    JsonNode web = null;
    for (JsonNode s : body.get("services")) {
      if (s.get("service").asText().equals("web")) {
        web = s;
      }
    }
    assertEquals(5, web.get("pods").asInt(), "cached pods of web (web-5 is deleted)");
    assertEquals(3, web.get("sinks").get(gw).get("online").asInt());
    assertEquals(1, web.get("sinks").get(gw).get("failing").asInt());
    assertEquals(1, web.get("sinks").get(slow).get("pending").asInt());
    JsonNode first = ok("/v1/services?limit=1");
    assertEquals("api", first.get("services").get(0).get("service").asText());
    JsonNode second = ok("/v1/services?limit=1&continue=" + first.get("continue").asText());
    assertEquals("paged", second.get("services").get(0).get("service").asText());
    assertEquals(List.of("web"), ok("/v1/services?q=we").findValuesAsText("service"));
  }

  @Test
  void sinksSayHealthLagAndPodsPerState() throws Exception {
    JsonNode body = ok("/v1/sinks");
    assertEquals(3, body.get("sinks").size());
    JsonNode counts = body.get("pods");
    assertEquals(1, counts.get(db).get("online").asInt(), "only api-1 is the db's");
    assertEquals(2, counts.get(gw).get("failing").asInt(), "web-4, and web-5 gone but held");
  }

  @Test
  void onlyGetAndOnlyKnownPaths() throws Exception {
    StatusFixtures.Answer missing = get(daemon, "/v1/nothing");
    assertEquals(404, missing.status());
    assertTrue(missing.json().get("error").asText().contains("/v1/pods"));
    HttpResponse<String> post = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + daemon.httpPort() + "/v1/pods")).POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(405, post.statusCode());
    assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElse(""));
  }

  @Test
  void withoutFiltersEveryPodCountsAndTheDeletedButHeldOneToo() throws Exception {
    JsonNode body = ok("/v1/pods");
    assertEquals(32, body.get("matched").asInt(), "31 cached pods and web-5, deleted but held");
    assertEquals(32, body.get("pods").size(), "within the default limit of " + StatusApi.DEFAULT_LIMIT);
    assertEquals(Set.of(), Set.copyOf(names(ok("/v1/pods?limit=1&state=draining"))));
  }
}

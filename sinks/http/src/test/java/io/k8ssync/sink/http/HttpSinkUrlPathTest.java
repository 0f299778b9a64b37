package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withAnnotations;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.TestSinkContext;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue #15: a kept annotation of {@code ..} sent {@code POST /gw/hteam/../online}, which a server
 * that normalises paths reads as {@code /gw/online}; an empty one sent {@code //}. Such a pod is
 * rejected for the sink: never called, counted, one log line naming the field, not the value.
 */
class HttpSinkUrlPathTest {

  private final RecordingTarget target;
  private final List<String> log = new CopyOnWriteArrayList<>();
  private TestSinkContext context;
  private HttpSink sink;

  HttpSinkUrlPathTest() throws Exception {
    target = new RecordingTarget();
  }

  @AfterEach
  void close() {
    if (sink != null) {
      sink.close();
    }
    target.close();
  }

  private void sink(Map<String, Object> online, Map<String, Object> offline, Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(extra);
    c.put("online", online);
    c.put("offline", offline);
    c.put("timeout", "2s");
    context = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    SinkContext logged = HttpSinkTest.logging(context, log);
    sink = new HttpSink(logged, HttpTarget.from(logged), System::nanoTime);
    sink.leadershipChanged("c1", 0, true);
    sink.start();
    sink.podsSynced();
  }

  private void teamInPath() throws Exception {
    sink(Map.of("url", target.url() + "/gw/{annotation.team}/online?ip={ip}"),
        Map.of("method", "DELETE", "url", target.url() + "/gw/{annotation.team}/offline?ip={ip}"), Map.of());
  }

  private void apply(PodState before, PodState after) throws Exception {
    PodState any = after != null ? after : before;
    sink.apply(List.of(PodChange.of(any.key(), before, after)));
  }

  private static PodState pod(int n, String team) {
    PodState p = ready("web-" + n, "10.0.0." + n);
    Map<String, String> a = new HashMap<>();
    if (team != null) {
      a.put("team", team);
    }
    return withAnnotations(p, a);
  }

  private List<String> linesAbout(PodState p) {
    return log.stream().filter(l -> l.contains("pod=" + p.key() + " ")).toList();
  }

  /** No path that reached the target has a segment a server would resolve away, or an empty one. */
  private void noDotOrEmptySegmentArrived() {
    for (RecordingTarget.Call call : target.calls) {
      String[] segments = call.path().substring(1).split("/", -1);
      for (String s : segments) {
        assertFalse(s.isEmpty() || s.equals(".") || s.equals("..") || s.equalsIgnoreCase("%2e") || s.equalsIgnoreCase("%2e%2e"),
            "the target received " + call.method() + " " + call.path());
      }
    }
  }

  @Test
  void aValueThatWouldMakeAPathSegmentDotDotDotOrEmptyRejectsThePodForTheSink() throws Exception {
    teamInPath();
    List<String> values = new ArrayList<>(List.of("..", ".", ""));
    values.add(null); // no such annotation: its value is empty
    int n = 0;
    for (String value : values) {
      n++;
      PodState p = pod(n, value);
      apply(null, p); // returns: a pod's bad value is not the sink failing
      assertEquals(List.of(), target.calls, "nothing is sent for team=" + value);
      assertEquals(n, context.metric("http_pods_rejected_total", "online", "annotation.team"));
      List<String> lines = linesAbout(p);
      assertEquals(1, lines.size(), "one log line: " + log);
      String line = lines.get(0);
      assertTrue(line.contains("sink=gw") && line.contains("field=annotation.team"), line);
      assertFalse(line.contains("/gw/"), "no rendered URL, so no value: " + line);
      if ("..".equals(value)) {
        assertFalse(line.contains(".."), "the value is not echoed: " + line);
      }
      apply(p, null); // it was never put online: no offline either
      assertEquals(List.of(), target.calls);
      assertEquals(1, linesAbout(p).size(), "nothing more to say about it: " + log);
    }

    // With leader election, a pod another replica may have put online gets its offline, unless that
    // offline could not be built: then it is refused too, once, and never repeated.
    context.term = 1;
    sink.leadershipChanged("c1", 0, false);
    sink.leadershipChanged("c1", 1, true);
    PodState other = pod(9, "..");
    apply(other, null);
    assertEquals(List.of(), target.calls);
    assertEquals(1.0, context.metric("http_pods_rejected_total", "offline", "annotation.team"));
    assertEquals(1, linesAbout(other).size(), "one log line: " + log);

    // A good value goes out; changed to a bad one while online, the registered instance stays, and
    // its offline goes to where its online went.
    PodState good = pod(10, "hteam");
    apply(null, good);
    PodState turned = withAnnotations(good, Map.of("team", ".."));
    apply(good, turned);
    apply(turned, null);
    assertEquals(List.of("POST /gw/hteam/online", "DELETE /gw/hteam/offline"),
        target.calls.stream().map(c -> c.method() + " " + c.path()).toList());
    noDotOrEmptySegmentArrived();
  }

  @Test
  void aPodWhoseOfflineOrDrainCheckCouldNotBeBuiltIsNeverPutOnline() throws Exception {
    sink(Map.of("url", target.url() + "/online?ip={ip}"),
        Map.of("method", "DELETE", "url", target.url() + "/instances/{annotation.team}"),
        Map.of("drain", Map.of("url", target.url() + "/drain/{annotation.slot}/inflight", "interval", "10ms")));
    target.reply("/drain", new RecordingTarget.Reply(200, "0"));
    PodState offlineBad = withAnnotations(pod(1, null), Map.of("team", "..", "slot", "1"));
    apply(null, offlineBad);
    PodState drainBad = withAnnotations(pod(2, null), Map.of("team", "a", "slot", "."));
    apply(null, drainBad);
    assertEquals(List.of(), target.calls, "an online that could never be taken offline is not sent");
    assertEquals(2.0, context.metric("http_pods_rejected_total", "online", "annotation.team")
        + context.metric("http_pods_rejected_total", "online", "annotation.slot"));
    assertEquals(1, linesAbout(offlineBad).size(), "one log line: " + log);
    assertTrue(linesAbout(offlineBad).get(0).contains("field=annotation.team"), log.toString());
    assertTrue(linesAbout(drainBad).get(0).contains("field=annotation.slot"), log.toString());

    PodState fine = withAnnotations(pod(3, null), Map.of("team", "t", "slot", "s"));
    apply(null, fine);
    apply(fine, null);
    await().until(() -> target.calls.size() == 3);
    assertEquals(List.of("/online", "/instances/t", "/drain/s/inflight"), target.calls.stream().map(RecordingTarget.Call::path).toList());
    noDotOrEmptySegmentArrived();
  }

  @Test
  void aDryRunPlanSaysThePodIsRefusedInsteadOfFailing() throws Exception {
    teamInPath();
    PodState p = pod(1, "..");
    List<String> plan = sink.plan(List.of(PodChange.of(p.key(), null, p)));
    assertEquals(1, plan.size());
    assertTrue(plan.get(0).startsWith("refuse online of " + p.key() + ": {annotation.team}: "), plan.get(0));
    assertEquals(List.of(), target.calls);
  }
}

package io.k8ssync.sink.log;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The log sink prints one JSON object per change, saying whether the pod is desired online. */
class LogSinkTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8);

  private static TestSinkContext context(Map<String, Object> config) throws Exception {
    return new TestSinkContext("log", LogSinkFactory.CONFIG, config, Selector.ALL);
  }

  private List<JsonNode> printed() throws Exception {
    return lines(buffer);
  }

  private static List<JsonNode> lines(ByteArrayOutputStream from) throws Exception {
    List<JsonNode> out = new ArrayList<>();
    for (String line : from.toString(StandardCharsets.UTF_8).split("\n")) {
      if (!line.isBlank()) {
        JsonNode n = JSON.readTree(line);
        assertTrue(n.isObject(), "one JSON object per line: " + line);
        out.add(n);
      }
    }
    return out;
  }

  @Test
  void eachChangeIsOneJsonLineWithPodTransitionAndDesiredOnline() throws Exception {
    Sink sink = new LogSink(context(Map.of()), out, false);
    PodState up = ready("web-1", "10.0.0.1");
    PodState down = withVersion(withReady(up, false), "2");
    PodState other = ready("web-2", "10.0.0.2");

    sink.apply(List.of(PodChange.of(up.key(), null, up), PodChange.of(other.key(), null, other)));
    sink.apply(List.of(PodChange.of(up.key(), up, down)));
    sink.apply(List.of(PodChange.of(up.key(), down, null)));

    List<JsonNode> lines = printed();
    assertEquals(4, lines.size(), "one line per change");

    JsonNode added = lines.get(0);
    assertEquals("log", added.get("sink").asText());
    assertEquals("c1/ns/web-1", added.get("pod").asText());
    assertEquals("ADDED", added.get("transition").asText());
    assertEquals("uid-web-1", added.get("uid").asText());
    assertEquals("web", added.get("service").asText());
    assertEquals("10.0.0.1:8080", added.get("address").asText());
    assertTrue(added.get("ready").asBoolean());
    assertTrue(added.get("online").asBoolean());
    assertEquals("online", added.get("action").asText());
    assertTrue(added.hasNonNull("ts"));

    assertEquals("c1/ns/web-2", lines.get(1).get("pod").asText());

    JsonNode unready = lines.get(2);
    assertEquals("c1/ns/web-1", unready.get("pod").asText());
    assertEquals("BECAME_UNREADY", unready.get("transition").asText());
    assertFalse(unready.get("online").asBoolean());
    assertEquals("offline", unready.get("action").asText());
    assertEquals("10.0.0.1:8080", unready.get("offlineAddress").asText());

    JsonNode deleted = lines.get(3);
    assertEquals("DELETED", deleted.get("transition").asText());
    assertFalse(deleted.get("online").asBoolean());
    assertFalse(deleted.has("action"), "an unready pod was offline already: " + deleted);
  }

  @Test
  void deletingAnOnlinePodTakesItsAddressOffline() throws Exception {
    Sink sink = new LogSink(context(Map.of()), out, false);
    PodState up = ready("web-1", "10.0.0.1");
    sink.apply(List.of(PodChange.of(up.key(), up, null)));
    JsonNode line = printed().get(0);
    assertEquals("DELETED", line.get("transition").asText());
    assertEquals("c1/ns/web-1", line.get("pod").asText(), "a deleted pod is named by its last state");
    assertFalse(line.get("online").asBoolean());
    assertEquals("offline", line.get("action").asText());
    assertEquals("10.0.0.1:8080", line.get("offlineAddress").asText());
  }

  @Test
  void onlyRegistrationChangesSkipsChangesThatMoveNothing() throws Exception {
    Sink sink = new LogSink(context(Map.of("onlyRegistrationChanges", true)), out, true);
    PodState up = ready("web-1", "10.0.0.1");
    sink.apply(List.of(PodChange.of(up.key(), null, up)));
    sink.apply(List.of(PodChange.of(up.key(), up, withVersion(up, "2"))));
    List<JsonNode> lines = printed();
    assertEquals(1, lines.size(), "the UPDATED change kept the pod online: " + lines);
    assertEquals("ADDED", lines.get(0).get("transition").asText());
  }

  @Test
  void planPrintsNothingAndDescribesTheLineItWouldPrint() throws Exception {
    Sink sink = new LogSink(context(Map.of()), out, false);
    PodState up = ready("web-1", "10.0.0.1");
    List<String> plan = sink.plan(List.of(PodChange.of(up.key(), null, up)));
    assertEquals(1, plan.size());
    assertTrue(plan.get(0).startsWith("print {"), plan.get(0));
    assertEquals("c1/ns/web-1", JSON.readTree(plan.get(0).substring("print ".length())).get("pod").asText());
    assertEquals("", buffer.toString(StandardCharsets.UTF_8), "dry-run plans print nothing");
  }

  @Test
  void theFactoryWritesToTheConfiguredStream() throws Exception {
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    Sink sink;
    // The factory takes System.err when it creates the sink.
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      sink = new LogSinkFactory().create(context(Map.of("stream", "stderr")));
    } finally {
      System.setErr(stderr);
    }
    PodState up = ready("web-1", "10.0.0.1");
    sink.apply(List.of(PodChange.of(up.key(), null, up)));
    sink.close();
    List<JsonNode> lines = lines(captured);
    assertEquals(1, lines.size(), captured.toString(StandardCharsets.UTF_8));
    assertEquals("c1/ns/web-1", lines.get(0).get("pod").asText());
    assertEquals("ADDED", lines.get(0).get("transition").asText());
    assertTrue(lines.get(0).get("online").asBoolean());
  }
}

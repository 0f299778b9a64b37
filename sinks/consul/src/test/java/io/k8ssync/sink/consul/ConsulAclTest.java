package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The consul sink against a real agent that enforces ACLs (default deny): the token makes writes
 * work; a refusal is retried until an operator fixes the token or its policy, never dropped; and
 * the token appears in no log line, no error message and no metric.
 */
class ConsulAclTest {

  private final String token = UUID.randomUUID().toString();
  private final ConsulAgent consul = ConsulAgent.startedWithAcls(token);
  private final HttpClient http = HttpClient.newHttpClient();
  private final List<Sink> sinks = new ArrayList<>();
  private final List<TestSinkContext> contexts = new ArrayList<>();
  /** Everything logged through logback (the Consul client, the daemon) and through java.util.logging (the sink). */
  private final ListAppender<ILoggingEvent> logback = new ListAppender<>();
  private final List<String> jul = new CopyOnWriteArrayList<>();
  private final java.util.logging.Handler julHandler = new java.util.logging.Handler() {
    @Override
    public void publish(java.util.logging.LogRecord r) {
      jul.add(new java.util.logging.SimpleFormatter().format(r));
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final Level rootLevel = root.getLevel();

  ConsulAclTest() {
    logback.start();
    root.addAppender(logback);
    root.setLevel(Level.ALL);
    java.util.logging.Logger.getLogger("").addHandler(julHandler);
  }

  @AfterEach
  void close() {
    sinks.forEach(Sink::close);
    consul.close();
    root.detachAppender(logback);
    root.setLevel(rootLevel);
    java.util.logging.Logger.getLogger("").removeHandler(julHandler);
  }

  private Sink sink(Map<String, Object> config) throws Exception {
    TestSinkContext context = new TestSinkContext("consul", new ConsulSinkFactory().configDef(), config, Selector.ALL);
    contexts.add(context);
    Sink s = new ConsulSinkFactory().create(context);
    sinks.add(s);
    s.start();
    return s;
  }

  private static void apply(Sink s, PodState pod) throws SinkException {
    s.apply(List.of(PodChange.of(pod.key(), null, pod)));
  }

  /** What a log line with the stack trace would show: each exception of the chain, with its message. */
  private static List<String> chain(Throwable e) {
    List<String> out = new ArrayList<>();
    for (Throwable t = e; t != null; t = t.getCause()) {
      out.add(String.valueOf(t));
    }
    return out;
  }

  private HttpResponse<String> asOperator(String method, String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(consul.url() + path)).header("X-Consul-Token", token)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private boolean written(String address) throws Exception {
    return asOperator("GET", "/v1/kv/upstreams/web/" + address, null).statusCode() == 200;
  }

  @Test
  void withTheTokenWritesWorkWithoutItTheyAreRetriedUntilAnOperatorAllowsThem() throws Exception {
    Path tokenFile = Files.writeString(Files.createTempFile("consul", ".token"), token + "\n");
    Sink withToken = sink(Map.of("url", consul.url(), "aclToken", "${file:" + tokenFile + "}", "reconcileEvery", "0", "timeout", "2s"));
    apply(withToken, ready("web-1", "10.0.0.1"));
    assertTrue(written("10.0.0.1:8080"));

    Sink anonymous = sink(Map.of("url", consul.url(), "reconcileEvery", "0", "timeout", "2s"));
    PodState pod = ready("web-2", "10.0.0.2");
    SinkException e = assertThrows(SinkException.class, () -> apply(anonymous, pod));
    List<String> messages = new ArrayList<>(chain(e));
    assertTrue(e.retriable(), "an operator can fix a token or its policy: retried, not dropped: " + e.getMessage());
    assertTrue(e.getMessage().contains("ACL"), e.getMessage());
    assertEquals(1.0, contexts.get(1).metric("consul_refused_total", "acl_denied"));
    assertFalse(written("10.0.0.2:8080"));

    // The operator lets the anonymous token write upstreams: the same change, retried, now lands.
    assertEquals(200, asOperator("PUT", "/v1/acl/policy",
        "{\"Name\":\"upstreams-write\",\"Rules\":\"key_prefix \\\"upstreams/\\\" { policy = \\\"write\\\" }\"}").statusCode());
    assertEquals(200, asOperator("PUT", "/v1/acl/token/00000000-0000-0000-0000-000000000002",
        "{\"Description\":\"Anonymous Token\",\"Policies\":[{\"Name\":\"upstreams-write\"}]}").statusCode());
    await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
      try {
        apply(anonymous, pod);
        return true;
      } catch (SinkException retried) {
        messages.addAll(chain(retried));
        return false;
      }
    });
    assertTrue(written("10.0.0.2:8080"));

    for (String m : messages) {
      assertFalse(m.contains(token), "token in an error the engine logs (message, or causes in a stack trace): " + m);
    }
    for (ILoggingEvent event : logback.list) {
      String line = event.getFormattedMessage() + (event.getThrowableProxy() == null ? "" : " " + event.getThrowableProxy().getMessage());
      assertFalse(line.contains(token), "token in a log line: " + line);
    }
    for (String line : jul) {
      assertFalse(line.contains(token), "token in a log line: " + line);
    }
    for (TestSinkContext c : contexts) {
      for (String series : c.metrics.keySet()) {
        assertFalse(series.contains(token), "token in a metric: " + series);
      }
      assertFalse(c.config().toString().contains(token));
    }
  }
}

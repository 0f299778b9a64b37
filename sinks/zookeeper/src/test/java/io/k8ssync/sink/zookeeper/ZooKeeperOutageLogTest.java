package io.k8ssync.sink.zookeeper;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.ContextInitializer;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * An unreachable ZooKeeper is one log line per change of the connection's state, with a metric, not
 * a stack trace per retry: over many failed applies, the client libraries (which log through
 * logback, here with the daemon's production config) say at most a handful of things, and the sink
 * (java.util.logging here) one line per state.
 */
class ZooKeeperOutageLogTest {

  private final TestingServer zk;
  private final TestSinkContext context;
  private final Sink sink;
  private final ListAppender<ILoggingEvent> logback = new ListAppender<>();
  private final List<String> sinkLines = new CopyOnWriteArrayList<>();
  private final java.util.logging.Handler julHandler = new java.util.logging.Handler() {
    @Override
    public void publish(java.util.logging.LogRecord r) {
      if (r.getLoggerName().startsWith("io.k8ssync") && r.getLevel().intValue() >= java.util.logging.Level.INFO.intValue()) {
        sinkLines.add(new java.util.logging.SimpleFormatter().format(r));
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  ZooKeeperOutageLogTest() throws Exception {
    zk = new TestingServer(true);
    context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "300ms", "sessionTimeout", "2s", "reconcileEvery", "0"),
        Selector.ALL);
    // The daemon's own logging config, as it runs in production: what it lets through is what an operator reads.
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    JoranConfigurator joran = new JoranConfigurator();
    joran.setContext(ctx);
    joran.doConfigure(Path.of("../../sync-daemon/src/main/resources/logback.xml").toFile());
    logback.setContext(ctx);
    logback.start();
    root.addAppender(logback);
    java.util.logging.Logger.getLogger("").addHandler(julHandler);
    sink = new ZooKeeperSinkFactory().create(context);
    sink.start();
  }

  @AfterEach
  void close() throws Exception {
    java.util.logging.Logger.getLogger("").removeHandler(julHandler);
    sink.close();
    zk.close();
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ctx.reset();
    new ContextInitializer(ctx).autoConfig();
  }

  private void apply(PodState p) throws SinkException {
    sink.apply(List.of(PodChange.of(p.key(), null, p)));
  }

  /** What the libraries said through the daemon's logging config, one entry per event. */
  private List<String> libraryWarnings() {
    return logback.list.stream().filter(e -> !e.getLoggerName().startsWith("io.k8ssync"))
        .map(e -> e.getLevel() + " " + e.getLoggerName() + ": " + e.getFormattedMessage()).toList();
  }

  @Test
  void aStoppedZooKeeperIsOneLinePerStateChangeNotAStackTracePerRetry() throws Exception {
    apply(ready("web-1", "10.0.0.1"));
    await().atMost(Duration.ofSeconds(10)).until(() -> context.metric("zookeeper_connection_state_changes_total", "connected") == 1);

    zk.stop();
    for (int i = 2; i <= 8; i++) {
      PodState p = ready("web-" + i, "10.0.0." + i);
      SinkException e = assertThrows(SinkException.class, () -> apply(p));
      assertTrue(e.retriable(), e.getMessage());
    }
    // Past the session timeout: the session is lost, and retries go on.
    await().atMost(Duration.ofSeconds(15)).until(() -> context.metric("zookeeper_connection_state_changes_total", "lost") == 1);
    for (int i = 9; i <= 12; i++) {
      PodState p = ready("web-" + i, "10.0.0." + i);
      assertThrows(SinkException.class, () -> apply(p));
    }
    assertEquals(1.0, context.metric("zookeeper_connection_state_changes_total", "suspended"));

    zk.restart();
    await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> {
      apply(ready("web-13", "10.0.0.13"));
      return true;
    });
    assertEquals(1.0, context.metric("zookeeper_connection_state_changes_total", "reconnected"));

    List<String> noise = libraryWarnings();
    assertTrue(noise.size() <= 3, "the client libraries said " + noise.size() + " things at WARN or above: " + noise);
    // The line comes on Curator's event thread just after the metric moved: wait for it, then count.
    await().atMost(Duration.ofSeconds(5)).until(() -> sinkLines.stream().filter(l -> l.contains("zookeeper connection")).count() >= 4);
    List<String> ours = sinkLines.stream().filter(l -> l.contains("zookeeper connection")).toList();
    assertEquals(4, ours.size(), "one line per state change: " + sinkLines);
  }
}

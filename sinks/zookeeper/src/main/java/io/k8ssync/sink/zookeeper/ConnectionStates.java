package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkMetrics;
import java.lang.System.Logger.Level;
import java.util.Locale;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;

/**
 * The one account of the connection to ZooKeeper: a log line and a count per change of state
 * (connected, suspended, lost, reconnected, read_only), instead of the client libraries' stack trace
 * per retry. What each failed operation does is the queue's to say (a retriable failure, retried
 * with backoff). Curator calls it on its own event thread, one change at a time.
 */
final class ConnectionStates implements ConnectionStateListener {

  private final SinkContext context;
  private final String connect;
  private final SinkMetrics.Counter changes;

  ConnectionStates(SinkContext context, String connect) {
    this.context = context;
    this.connect = connect;
    this.changes = context.metrics().counter("zookeeper_connection_state_changes_total",
        "Changes of the connection to ZooKeeper, by state reached (connected, suspended, lost, reconnected, read_only)", "state");
  }

  @Override
  public void stateChanged(CuratorFramework client, ConnectionState state) {
    String name = state.name().toLowerCase(Locale.ROOT);
    changes.inc(name);
    Level level = state.isConnected() ? Level.INFO : Level.WARNING;
    String meaning = switch (state) {
      case SUSPENDED -> "; writes fail and are retried with backoff until it is back";
      case LOST -> "; the session expired, entries stay (persistent), writes are retried until a new session";
      default -> "";
    };
    context.logger().log(level, "zookeeper connection {0}{1}: sink={2} connect={3}", name, meaning, context.name(), connect);
  }
}

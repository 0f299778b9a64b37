package io.k8ssync.sink.upstream;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;

/** Reaches into an upstream sink for tests: one reconcile pass now, a server held as a writer holds it, a pending deletion. */
public final class UpstreamTestAccess {

  private UpstreamTestAccess() {}

  public static void reconcile(Sink sink) throws SinkException {
    ((UpstreamSink) sink).reconcile();
  }

  /** Holds one server as a writer does (its upstream shared, the server alone) until closed: a deletion pass waits. */
  public static AutoCloseable holdServer(Sink sink, String cluster, String upstream, String address) {
    UpstreamLocks.Held held = ((UpstreamSink) sink).locks.shared(new Server(cluster, upstream, address));
    return held::close;
  }

  /** True while the server's deletion is pending (scheduled, not yet taken by a pass). */
  public static boolean deletionPending(Sink sink, String cluster, String upstream, String address) {
    return ((UpstreamSink) sink).drainer.draining(new Server(cluster, upstream, address));
  }
}

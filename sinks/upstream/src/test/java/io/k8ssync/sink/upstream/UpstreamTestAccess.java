package io.k8ssync.sink.upstream;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;

/** Runs one reconcile pass now, for tests that need passes one at a time. */
public final class UpstreamTestAccess {

  private UpstreamTestAccess() {}

  public static void reconcile(Sink sink) throws SinkException {
    ((UpstreamSink) sink).reconcile();
  }
}

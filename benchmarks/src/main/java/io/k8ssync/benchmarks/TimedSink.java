package io.k8ssync.benchmarks;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Wraps the measured sink to split a latency in three: from ready to the sink's {@code apply} of the
 * batch holding it (dispatcher, queue, waiting for a free worker), the {@code apply} call itself
 * (the sink's locks and registry round trips), and from its return to the reader's sighting (the
 * registry showing it and the reader noticing; negative when the reader saw it before the rest of
 * the batch was written). Only calls through; times are {@code System.nanoTime()}.
 */
final class TimedSink implements Sink {

  private final Sink sink;
  /** Per address ({@code ip:port}) that became ready in a batch: {apply start, apply end}, of its latest such batch. */
  private final Map<String, long[]> applied = new ConcurrentHashMap<>();

  TimedSink(Sink sink) {
    this.sink = sink;
  }

  /** The latest apply of a ready change of {@code address}, {start, end}, or null. */
  long[] applied(String address) {
    return applied.get(address);
  }

  @Override
  public void start() throws SinkException {
    sink.start();
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    long start = System.nanoTime();
    try {
      sink.apply(batch);
    } finally {
      long end = System.nanoTime();
      for (PodChange c : batch) {
        if (c.after() != null && c.after().ready()) {
          applied.put(c.after().ip() + ":" + c.after().port(), new long[] {start, end});
        }
      }
    }
  }

  @Override
  public int maxBatchSize() {
    return sink.maxBatchSize();
  }

  @Override
  public boolean coalesce() {
    return sink.coalesce();
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    return sink.plan(batch);
  }

  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    sink.leadershipChanged(cluster, term, leading);
  }

  @Override
  public void podsSynced() {
    sink.podsSynced();
  }

  @Override
  public void close() {
    sink.close();
  }
}

package io.k8ssync.sink;

import java.util.List;

/**
 * Makes one external system agree with the pods. Lifecycle: {@link #start} once, then
 * {@link #apply} for each batch of changes, then {@link #close}.
 *
 * <p>The daemon guarantees that changes of one pod arrive in order and never concurrently, and that
 * changes which piled up are coalesced to the latest state. A sink guarantees that applying the
 * same change twice is harmless, and signals failures with {@link SinkException}: retriable ones are
 * retried with backoff, fatal ones are counted and dropped with a log line.
 */
public interface Sink extends AutoCloseable {

  /** Connects and validates the connection; a sink that cannot reach its system fails here. */
  default void start() throws SinkException {}

  /**
   * Applies a batch of changes, of distinct pods unless {@link #coalesce()} is false (at most
   * {@link #maxBatchSize()} pods). On a
   * partial failure, throw a {@link SinkException} naming the failed keys; the rest count as done.
   */
  void apply(List<PodChange> batch) throws SinkException;

  /** How many changes this sink takes at once; 1 for sinks that do not batch. */
  default int maxBatchSize() {
    return 1;
  }

  /**
   * True (the default) when changes of a pod that pile up may be merged into one, as a sink that
   * makes a system agree with the latest state wants. An event stream returns false: it then gets
   * every change of a pod, in order, possibly several of one pod in one batch.
   */
  default boolean coalesce() {
    return true;
  }

  /**
   * What {@link #apply} would do with this batch, one line per action, without doing it. Used by
   * the daemon's dry-run mode. The default describes the changes themselves.
   */
  default List<String> plan(List<PodChange> batch) {
    return batch.stream()
        .map(c -> c.transition() + " " + c.key())
        .toList();
  }

  /**
   * Told, not polled: this replica started ({@code leading} true, a new {@code term}) or stopped
   * leading {@code cluster}. Without leader election every watched cluster is reported once, as
   * led in term 0, before the first change. Called on the leader election's thread, before the
   * changes held for a newly led cluster are replayed: do not block here (schedule work). On a
   * stop, cancel or disown the timers and pending writes of that cluster: another replica owns
   * its entries now, and a late write of ours could remove what that replica just registered.
   */
  default void leadershipChanged(String cluster, long term, boolean leading) {}

  /**
   * Every informer delivered its initial list: the cache is complete, so a reconcile pass may run
   * now (a sink that reconciles runs one here, for the clusters it leads, instead of waiting a period).
   * Called once, off the informers' threads: do not block here (schedule work).
   */
  default void podsSynced() {}

  /** Releases clients and threads. Idempotent. */
  @Override
  void close();
}

package io.k8ssync.daemon.dispatch;

/**
 * The default capacity of a sink's queue, and what it costs. A queue that merges a pod's changes
 * holds at most one entry per pod (bounded in practice by the pods watched), so its default is a
 * count; a queue that keeps every change (Kafka's events) grows with churn for as long as its
 * system is down, so its default is a share of the heap.
 *
 * <p>Bytes per entry as {@code QueueHeapBench} measured them (JDK 17, compressed oops), each
 * change a new version of its pod with the fresh strings of a watch event: 1,283 bytes per pending
 * pod in a merging queue whose oldest before and newest after are both held only by the queue (an
 * upper bound: the newest is usually the cache's own), and 655 bytes per change in a queue that
 * keeps them all.
 */
public final class QueueBudget {

  /** Retained heap per pending pod of a merging queue, rounded up from the measurement. */
  public static final int BYTES_PER_MERGED_POD = 1_300;
  /** Retained heap per change of a queue that keeps every change, rounded up from the measurement. */
  public static final int BYTES_PER_KEPT_CHANGE = 700;
  /** Default of a merging queue, in pods. */
  public static final int MERGED_DEFAULT = 1_000_000;
  /** A derived capacity is never below this, however small the heap. */
  public static final int MIN_KEPT = 10_000;

  private QueueBudget() {}

  /**
   * @param coalesce    whether the sink's queue merges a pod's changes
   * @param heapBytes   the heap a queue that keeps every change may fill
   */
  public static int defaultCapacity(boolean coalesce, long heapBytes) {
    if (coalesce) {
      return MERGED_DEFAULT;
    }
    return (int) Math.max(MIN_KEPT, Math.min(Integer.MAX_VALUE, heapBytes / BYTES_PER_KEPT_CHANGE));
  }

  /** The most a queue of {@code capacity} may retain, in bytes, for the changes it applies (held ones: as much again). */
  public static long bytes(boolean coalesce, int capacity) {
    return (long) capacity * (coalesce ? BYTES_PER_MERGED_POD : BYTES_PER_KEPT_CHANGE);
  }
}

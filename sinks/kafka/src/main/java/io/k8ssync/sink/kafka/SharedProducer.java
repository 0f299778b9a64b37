package io.k8ssync.sink.kafka;

import java.time.Duration;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;

/**
 * The sink's one producer, shared by the workers the daemon runs for this sink. A worker takes a
 * {@link Lease} for a whole batch, so every record of the batch goes through one producer (one
 * producer id is what keeps a pod's events in order). A producer that cannot recover (an idempotent
 * producer whose id request was refused) is retired: the next lease gets a new one, and the retired
 * one is closed when its last lease is returned, never under a worker that is still sending on it.
 *
 * <p>Thread rules: {@code current}, {@code closed} and each lease's {@code users} and {@code retired}
 * are guarded by this object's monitor; a producer is closed outside it.
 */
final class SharedProducer {

  private final Supplier<Producer<String, byte[]>> factory;
  private Lease current;
  private boolean closed;

  SharedProducer(Supplier<Producer<String, byte[]>> factory) {
    this.factory = factory;
  }

  /**
   * The current producer, built on first use; return it with {@link Lease#close()}. Throws the
   * factory's {@code KafkaException} for rejected settings, and {@link IllegalStateException} once closed.
   */
  synchronized Lease acquire() {
    if (closed) {
      throw new IllegalStateException("kafka sink closed");
    }
    if (current == null) {
      current = new Lease(factory.get());
    }
    current.users++;
    return current;
  }

  /** Retires the current producer, if any (see {@link Lease#retire()}). */
  void retireCurrent() {
    Lease l;
    synchronized (this) {
      l = current;
    }
    if (l != null) {
      l.retire();
    }
  }

  /**
   * No lease after this. The current producer is closed now, waiting up to {@code timeout} for its
   * records; one still leased is closed by its last worker instead. Idempotent.
   */
  void close(Duration timeout) {
    Lease toClose = null;
    synchronized (this) {
      closed = true;
      if (current != null) {
        current.retired = true;
        if (current.users == 0) {
          toClose = current;
        }
        current = null;
      }
    }
    if (toClose != null) {
      toClose.producer.close(timeout);
    }
  }

  /** One worker's use of a producer, for one batch. */
  final class Lease implements AutoCloseable {

    private final Producer<String, byte[]> producer;
    private int users;
    private boolean retired;

    private Lease(Producer<String, byte[]> producer) {
      this.producer = producer;
    }

    Producer<String, byte[]> producer() {
      return producer;
    }

    /** Later leases get a new producer; this one is closed once every worker using it returned it. Idempotent. */
    void retire() {
      boolean idle;
      synchronized (SharedProducer.this) {
        if (current == this) {
          current = null;
        }
        idle = !retired && users == 0;
        retired = true;
      }
      if (idle) {
        producer.close(Duration.ZERO);
      }
    }

    /** Returns the lease; the last worker to return a retired producer closes it. */
    @Override
    public void close() {
      boolean last;
      synchronized (SharedProducer.this) {
        users--;
        last = retired && users == 0;
      }
      if (last) {
        // Its workers are done: every record they sent was acknowledged or failed.
        producer.close(Duration.ZERO);
      }
    }
  }
}

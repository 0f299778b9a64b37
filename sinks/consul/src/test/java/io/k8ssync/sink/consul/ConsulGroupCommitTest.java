package io.k8ssync.sink.consul;

import static io.k8ssync.sink.PodStates.ready;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.testbed.ConsulAgent;
import io.k8ssync.sink.testbed.ConsulProxy;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Group commit of the sink's writes (issue 19, target 4), through a counting proxy in front of a real
 * Consul agent: writes of other workers that arrive while one transaction is in flight wait for it
 * and go together in the next one; the Lease is checked again for a write that waited.
 */
class ConsulGroupCommitTest {

  private final ProxiedConsulSink fixture = new ProxiedConsulSink("5s");
  private final ConsulAgent consul = fixture.consul;
  private final ConsulProxy proxy = fixture.proxy;
  private final Sink sink = fixture.sink;
  private final TestSinkContext context = fixture.context;
  private final Map<String, Throwable> failures = new ConcurrentHashMap<>();

  @AfterEach
  void close() {
    fixture.close();
  }

  private Map<String, UpsyncEntry> upstream(String name) throws Exception {
    return fixture.upstream(name);
  }

  /** A worker applying one new pod's registration, as the daemon's queue workers do, each its own batch. */
  private Thread worker(int i) {
    PodState p = ready("web-" + i, "10.0.0." + (i + 1));
    context.pods.add(p);
    Thread t = new Thread(() -> {
      try {
        sink.apply(List.of(PodChange.of(p.key(), null, p)));
      } catch (SinkException | RuntimeException e) {
        failures.put(p.key(), e);
      }
    }, "worker-" + i);
    t.start();
    return t;
  }

  /** Holds the next transaction in the proxy until {@code release}; returns the worker that sent it, once it is held. */
  private Thread heldFirst(CountDownLatch release) throws Exception {
    proxy.requests.clear();
    proxy.beforeNextWrite(() -> {
      try {
        release.await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    Thread first = worker(1);
    await().atMost(Duration.ofSeconds(10)).until(() -> proxy.requests.size() == 1);
    return first;
  }

  /** Until the others have sent their own requests, or wait (in the group commit) for the one in flight. */
  private void othersQueuedOrSent(List<Thread> others) {
    await().atMost(Duration.ofSeconds(10)).until(() -> proxy.requests.size() > 1
        || others.stream().allMatch(t -> t.getState() == Thread.State.WAITING));
  }

  @Test
  void writesArrivingWhileOneIsInFlightGoTogetherInTheNextTransaction() throws Exception {
    // The sink's one listing before its first write, out of the way.
    worker(0).join();
    CountDownLatch release = new CountDownLatch(1);
    Thread first = heldFirst(release);

    List<Thread> others = new ArrayList<>();
    for (int i = 2; i <= 4; i++) {
      others.add(worker(i));
    }
    othersQueuedOrSent(others);
    release.countDown();
    first.join();
    for (Thread t : others) {
      t.join();
    }

    assertEquals(Map.of(), failures);
    assertEquals(List.of("PUT /v1/txn", "PUT /v1/txn"), proxy.requests, "the held one, then the three together");
    assertEquals(5, upstream("web").size());
  }

  @Test
  void aWriteThatWaitedIsNotSentOnceTheLeaseIsShort() throws Exception {
    worker(0).join();
    CountDownLatch release = new CountDownLatch(1);
    Thread first = heldFirst(release);

    List<Thread> others = List.of(worker(2));
    othersQueuedOrSent(others);
    // The renewal is overdue while the second write waits: it must not start when the first ends.
    context.budget = Duration.ofMillis(100);
    release.countDown();
    first.join();
    others.get(0).join();

    assertEquals(List.of("PUT /v1/txn"), proxy.requests);
    Throwable held = failures.get("c1/ns/web-2");
    assertNotNull(held, failures.toString());
    assertNotNull(((SinkException) held).deferral(), held.toString());
    assertNull(failures.get("c1/ns/web-1"));
    Map<String, UpsyncEntry> web = upstream("web");
    assertTrue(web.containsKey("10.0.0.2:8080"), web.toString());
    assertFalse(web.containsKey("10.0.0.3:8080"), web.toString());
  }
}

package io.k8ssync.sink.upstream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class UpstreamLocksTest {

  private static List<Server> servers(int from, int n) {
    List<Server> list = new ArrayList<>();
    for (int i = from; i < from + n; i++) {
      list.add(new Server("c", "app", "10.0." + (i / 250) + "." + (i % 250) + ":8080"));
    }
    return list;
  }

  /**
   * Two workers' batches of distinct servers of one upstream write side by side: a batch of 64 must
   * not wait for another batch of 64 other servers (with 256 lock stripes, two such batches shared a
   * stripe almost always, so a sink that fell behind wrote its batches one after another).
   */
  @Test
  void batchesOfDistinctServersDoNotWaitForEachOther() throws Exception {
    UpstreamLocks locks = new UpstreamLocks();
    for (int round = 0; round < 20; round++) {
      List<Server> first = servers(round * 128, 64);
      List<Server> second = servers(round * 128 + 64, 64);
      try (UpstreamLocks.Held h = locks.sharedAll(first)) {
        CompletableFuture<Void> other = CompletableFuture.runAsync(() -> {
          try (UpstreamLocks.Held h2 = locks.sharedAll(second)) {
            // taken and released
          }
        });
        other.get(10, TimeUnit.SECONDS);
      }
    }
  }

  /** The same server in two batches: the second waits for the first to let go. */
  @Test
  void theSameServerIsHeldByOneWriterAtATime() throws Exception {
    UpstreamLocks locks = new UpstreamLocks();
    List<Server> first = servers(0, 10);
    List<Server> second = new ArrayList<>(servers(100, 5));
    second.add(new Server("other-cluster", "app", first.get(3).address()));
    CountDownLatch taken = new CountDownLatch(1);
    CompletableFuture<Void> other;
    try (UpstreamLocks.Held h = locks.sharedAll(first)) {
      other = CompletableFuture.runAsync(() -> {
        try (UpstreamLocks.Held h2 = locks.sharedAll(second)) {
          taken.countDown();
        }
      });
      assertFalse(taken.await(200, TimeUnit.MILLISECONDS), "a server held by one batch was taken by another");
    }
    other.get(10, TimeUnit.SECONDS);
    assertTrue(taken.getCount() == 0);
  }

  /** A deletion holds the whole upstream: a writer of any of its servers waits, one of another upstream does not. */
  @Test
  void exclusiveHoldsTheUpstreamAgainstWriters() throws Exception {
    UpstreamLocks locks = new UpstreamLocks();
    CompletableFuture<Void> same;
    try (UpstreamLocks.Held h = locks.exclusive("app")) {
      same = CompletableFuture.runAsync(() -> locks.shared(servers(0, 1).get(0)).close());
      await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !same.isDone());
      locks.shared(new Server("c", "other-app-x", "10.9.9.9:80")).close();
    }
    same.get(10, TimeUnit.SECONDS);
  }

  /** Locks of servers no longer held are not kept: the table does not grow with every address ever written. */
  @Test
  void releasedServersLeaveNoLockBehind() {
    UpstreamLocks locks = new UpstreamLocks();
    for (int round = 0; round < 50; round++) {
      try (UpstreamLocks.Held h = locks.sharedAll(servers(round * 64, 64))) {
        assertTrue(locks.serversHeld() >= 64);
      }
    }
    assertTrue(locks.serversHeld() == 0, "locks left: " + locks.serversHeld());
  }
}

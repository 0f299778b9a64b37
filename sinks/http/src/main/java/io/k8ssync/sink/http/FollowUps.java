package io.k8ssync.sink.http;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The work that follows a write, after a delay: repeated offlines and drain polls. Runs on its own
 * two threads, never behind a re-assertion pass (one drain poll waiting on an unreachable pod does
 * not hold up a repeat). Each task is owned by the leadership {@link Leadership.Term} it was
 * scheduled in and runs only while that term is current: when the cluster is lost its tasks are
 * cancelled ({@link #disown}), since another replica owns its entries now. Nothing is dropped
 * silently: the task's {@link Owner} counts and logs what is disowned or dropped at close.
 */
final class FollowUps {

  /** Counts and logs, in one line, follow-ups of its kind that will not run. */
  interface Owner {
    /** {@code outcome}: "disowned" (leadership ended) or "dropped" (the sink is closing). */
    void dropped(String outcome, String reason, List<String> what);
  }

  private record Pending(Owner owner, Leadership.Term term, String what) {}

  private final Leadership leadership;
  private final ScheduledThreadPoolExecutor executor;
  private final Map<Object, Pending> pending = new ConcurrentHashMap<>();
  private final Map<Object, Future<?>> futures = new ConcurrentHashMap<>();

  FollowUps(String sinkName, Leadership leadership) {
    this.leadership = leadership;
    AtomicInteger n = new AtomicInteger();
    this.executor = new ScheduledThreadPoolExecutor(2, r -> {
      Thread t = new Thread(r, "http-sink-follow-up-" + sinkName + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    executor.setRemoveOnCancelPolicy(true);
  }

  /**
   * Runs {@code task} after {@code delay} if {@code term} is still current then; {@code what} names
   * it in log lines (pod and address, never a secret).
   */
  void schedule(Owner owner, Leadership.Term term, String what, Runnable task, Duration delay) {
    if (!leadership.owns(term)) {
      owner.dropped("disowned", notLed(term), List.of(what));
      return;
    }
    Object token = new Object();
    pending.put(token, new Pending(owner, term, what));
    try {
      Future<?> f = executor.schedule(() -> {
        futures.remove(token);
        if (pending.remove(token) == null) {
          return; // disowned or dropped, and counted, already
        }
        if (!leadership.owns(term)) {
          owner.dropped("disowned", notLed(term), List.of(what));
          return;
        }
        task.run();
      }, delay.toMillis(), TimeUnit.MILLISECONDS);
      futures.put(token, f);
      if (!pending.containsKey(token)) {
        futures.remove(token); // it ran, or was disowned, before its future was noted
      }
    } catch (RejectedExecutionException e) {
      if (pending.remove(token) != null) {
        owner.dropped("dropped", "the sink is closing", List.of(what));
      }
    }
  }

  /** Cancels every follow-up of {@code cluster}, of any term; each owner counts and logs its own. */
  void disown(String cluster, String reason) {
    takeAll(p -> p.term().cluster.equals(cluster)).forEach((owner, what) -> owner.dropped("disowned", reason, what));
  }

  /** Stops the threads; what was pending is counted as dropped. */
  void close() {
    executor.shutdownNow();
    takeAll(p -> true).forEach((owner, what) -> owner.dropped("dropped", "the sink is closing", what));
  }

  private Map<Owner, List<String>> takeAll(java.util.function.Predicate<Pending> which) {
    Map<Owner, List<String>> taken = new LinkedHashMap<>();
    for (Map.Entry<Object, Pending> e : new ArrayList<>(pending.entrySet())) {
      if (which.test(e.getValue()) && pending.remove(e.getKey(), e.getValue())) {
        Future<?> f = futures.remove(e.getKey());
        if (f != null) {
          f.cancel(false);
        }
        taken.computeIfAbsent(e.getValue().owner(), o -> new ArrayList<>()).add(e.getValue().what());
      }
    }
    return taken;
  }

  private static String notLed(Leadership.Term term) {
    return term == null ? "this replica does not lead the cluster" : "this replica no longer leads " + term;
  }
}

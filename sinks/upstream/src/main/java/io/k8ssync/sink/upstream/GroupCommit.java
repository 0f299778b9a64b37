package io.k8ssync.sink.upstream;

import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.upstream.UpstreamRegistry.Put;
import io.k8ssync.sink.upstream.UpstreamRegistry.PutResult;
import io.k8ssync.sink.upstream.UpstreamRegistry.PutsAndDeletions;
import io.k8ssync.sink.upstream.UpstreamRegistry.Removal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Group commit of the sink's batch writes ({@link UpstreamRegistry#putBatch(List, List)}): a write that
 * finds none in flight goes at once; one that finds a write in flight waits for it, then goes with
 * every other that queued meanwhile, in one call (one Consul transaction while 64 operations hold
 * them). No timer: a lone write is never held, and a write waits at most for the one call before it.
 *
 * <p>Callers hold their servers' locks, so no two writes of a group share a key. Whoever sends a
 * group checks the Lease ({@link WriteGate}) of each put and each deletion again right before the
 * call, since its caller may have waited: a put refused there fails with its hold, a deletion refused
 * there is not sent (its caller gives it back to its pass). Each caller gets its own results.
 */
final class GroupCommit {

  private final UpstreamRegistry registry;
  private final WriteGate gate;
  private final Object lock = new Object();
  /** Guarded by {@link #lock}: a call is in flight, and the writes waiting for the next one, first one sends it. */
  private boolean inFlight;
  private List<Request> queued = new ArrayList<>();

  GroupCommit(UpstreamRegistry registry, WriteGate gate) {
    this.registry = registry;
    this.gate = gate;
  }

  /** One caller's write; its fields after {@code done} are read under the lock that set them. */
  private static final class Request {
    final List<Put> puts;
    final List<Removal> riding;
    List<Request> group; // set when this request is to send a group
    PutsAndDeletions result;
    Throwable error;
    boolean done;

    Request(List<Put> puts, List<Removal> riding) {
      this.puts = puts;
      this.riding = riding;
    }
  }

  /** Writes {@code puts} with the deletions {@code riding}, alone or in a group: as {@link UpstreamRegistry#putBatch(List, List)}. */
  PutsAndDeletions write(List<Put> puts, List<Removal> riding) {
    Request me = new Request(puts, riding);
    List<Request> group;
    synchronized (lock) {
      if (!inFlight) {
        inFlight = true;
        group = List.of(me);
      } else {
        queued.add(me);
        boolean interrupted = false;
        while (!me.done && me.group == null) {
          try {
            lock.wait(); // bounded: the call in flight ends within the registry's call timeout
          } catch (InterruptedException e) {
            interrupted = true; // a queued write cannot be taken back: wait for its answer
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
        group = me.group;
      }
    }
    if (group != null) {
      sendAndHandOver(group);
    }
    synchronized (lock) {
      if (me.error instanceof Error e) {
        throw e;
      }
      if (me.error != null) {
        throw (RuntimeException) me.error;
      }
      return me.result;
    }
  }

  /** Sends {@code group}, answers each of its requests, then lets the first write queued meanwhile send the next group. */
  private void sendAndHandOver(List<Request> group) {
    PutsAndDeletions all = null;
    Throwable error = null; // whatever it is, the group is answered and the next one may go
    List<Put> puts = new ArrayList<>();
    List<Removal> riding = new ArrayList<>();
    List<PutResult[]> answers = new ArrayList<>();
    try {
      for (Request r : group) {
        PutResult[] answer = new PutResult[r.puts.size()];
        for (int i = 0; i < answer.length; i++) {
          Put p = r.puts.get(i);
          try {
            gate.require(p.cluster(), "write of " + p.upstream() + "/" + p.address());
            puts.add(p);
          } catch (SinkException e) {
            answer[i] = new PutResult(p, false, e);
          }
        }
        answers.add(answer);
        r.riding.stream().filter(d -> gate.open(d.cluster())).forEach(riding::add);
      }
      all = puts.isEmpty() ? new PutsAndDeletions(List.of(), List.of())
          : riding.isEmpty() ? new PutsAndDeletions(registry.putBatch(puts), List.of()) : registry.putBatch(puts, riding);
    } catch (RuntimeException | Error e) {
      error = e;
    }
    synchronized (lock) {
      try {
        answer(group, all, error, answers);
      } finally {
        for (Request r : group) {
          if (r.result == null && r.error == null) {
            r.error = new IllegalStateException("group commit: no answer for this write");
          }
          r.done = true;
        }
        if (queued.isEmpty()) {
          inFlight = false;
        } else {
          queued.get(0).group = queued;
          queued = new ArrayList<>();
        }
        lock.notifyAll();
      }
    }
  }

  /** Each request's own results out of the group's ({@code all}), or the group's {@code error}; under the lock. */
  private static void answer(List<Request> group, PutsAndDeletions all, Throwable error, List<PutResult[]> answers) {
    Set<Removal> deleted = all == null ? Set.of() : new HashSet<>(all.deleted());
    int next = 0;
    for (int g = 0; g < group.size(); g++) {
      Request r = group.get(g);
      if (error != null) {
        r.error = error;
        continue;
      }
      PutResult[] answer = answers.get(g);
      for (int i = 0; i < answer.length; i++) {
        if (answer[i] == null) {
          answer[i] = all.puts().get(next++);
        }
      }
      r.result = new PutsAndDeletions(List.of(answer), r.riding.stream().filter(deleted::contains).toList());
    }
  }
}

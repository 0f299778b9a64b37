package io.k8ssync.sink.upstream;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Striped locks of one sink. Writing a server shares its upstream with other writers and holds the
 * server alone; deleting a server holds its whole upstream, so "not the last server" stays true
 * while the deletion runs. Many servers are locked in one global order, so two batches never deadlock.
 */
final class UpstreamLocks {

  /** A held lock, released by try-with-resources. */
  interface Held extends AutoCloseable {
    @Override
    void close();
  }

  private final ReentrantReadWriteLock[] upstreams = new ReentrantReadWriteLock[64];
  private final ReentrantLock[] servers = new ReentrantLock[256];

  UpstreamLocks() {
    for (int i = 0; i < upstreams.length; i++) {
      upstreams[i] = new ReentrantReadWriteLock();
    }
    for (int i = 0; i < servers.length; i++) {
      servers[i] = new ReentrantLock();
    }
  }

  private int upstreamStripe(String upstream) {
    return Math.floorMod(upstream.hashCode(), upstreams.length);
  }

  private int serverStripe(Server s) {
    return Math.floorMod((s.upstream() + '/' + s.address()).hashCode(), servers.length);
  }

  /** For writing one server. */
  Held shared(Server s) {
    return sharedAll(List.of(s));
  }

  /** For writing many servers at once. */
  Held sharedAll(List<Server> list) {
    TreeSet<Integer> ups = new TreeSet<>();
    TreeSet<Integer> srv = new TreeSet<>();
    for (Server s : list) {
      ups.add(upstreamStripe(s.upstream()));
      srv.add(serverStripe(s));
    }
    List<Lock> taken = new ArrayList<>();
    for (int i : ups) {
      Lock l = upstreams[i].readLock();
      l.lock();
      taken.add(l);
    }
    for (int i : srv) {
      servers[i].lock();
      taken.add(servers[i]);
    }
    return () -> {
      for (int i = taken.size() - 1; i >= 0; i--) {
        taken.get(i).unlock();
      }
    };
  }

  /** For deleting from several upstreams at once: taken in the one global order, as {@link #sharedAll}. */
  Held exclusiveAll(java.util.Collection<String> names) {
    TreeSet<Integer> ups = new TreeSet<>();
    for (String u : names) {
      ups.add(upstreamStripe(u));
    }
    List<Lock> taken = new ArrayList<>();
    for (int i : ups) {
      Lock l = upstreams[i].writeLock();
      l.lock();
      taken.add(l);
    }
    return () -> {
      for (int i = taken.size() - 1; i >= 0; i--) {
        taken.get(i).unlock();
      }
    };
  }

  /** For deleting from an upstream: nobody else of this sink touches it meanwhile. */
  Held exclusive(String upstream) {
    Lock write = upstreams[upstreamStripe(upstream)].writeLock();
    write.lock();
    return write::unlock;
  }
}

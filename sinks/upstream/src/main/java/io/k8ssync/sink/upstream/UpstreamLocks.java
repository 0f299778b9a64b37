package io.k8ssync.sink.upstream;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The locks of one sink. Writing a server shares its upstream with other writers and holds the
 * server alone; deleting a server holds its whole upstream, so "not the last server" stays true
 * while the deletion runs. Many servers are locked in one global order, so two batches never deadlock.
 *
 * <p>Upstreams are striped (64 stripes: a deletion may hold a neighbour's upstream a moment longer).
 * Servers are locked exactly, by upstream and address, in a table that holds only the servers
 * someone holds or waits for: two workers' batches wait for each other only on a server they share
 * (with 256 stripes, two batches of 64 servers shared a stripe almost always, so a sink that fell
 * behind wrote its batches one after another).
 */
final class UpstreamLocks {

  /** A held lock, released by try-with-resources. */
  interface Held extends AutoCloseable {
    @Override
    void close();
  }

  /** A server's lock and how many threads hold it or wait for it; it leaves the table at zero. */
  private static final class ServerLock extends ReentrantLock {
    int users; // changed only inside the table's compute, for this key
  }

  private final ReentrantReadWriteLock[] upstreams = new ReentrantReadWriteLock[64];
  private final Map<String, ServerLock> servers = new ConcurrentHashMap<>();

  UpstreamLocks() {
    for (int i = 0; i < upstreams.length; i++) {
      upstreams[i] = new ReentrantReadWriteLock();
    }
  }

  private int upstreamStripe(String upstream) {
    return Math.floorMod(upstream.hashCode(), upstreams.length);
  }

  /** One name per server whatever the cluster: two clusters writing one upstream share its servers' locks. */
  private static String serverName(Server s) {
    return s.upstream() + '/' + s.address();
  }

  /** For writing one server. */
  Held shared(Server s) {
    return sharedAll(List.of(s));
  }

  /** For writing many servers at once. */
  Held sharedAll(List<Server> list) {
    TreeSet<Integer> ups = new TreeSet<>();
    TreeSet<String> srv = new TreeSet<>();
    for (Server s : list) {
      ups.add(upstreamStripe(s.upstream()));
      srv.add(serverName(s));
    }
    List<Lock> taken = new ArrayList<>(ups.size());
    List<String> names = new ArrayList<>(srv.size());
    try {
      for (int i : ups) {
        Lock l = upstreams[i].readLock();
        l.lock();
        taken.add(l);
      }
      for (String name : srv) {
        ServerLock l = servers.compute(name, (k, v) -> {
          ServerLock lock = v != null ? v : new ServerLock();
          lock.users++;
          return lock;
        });
        names.add(name);
        l.lock();
      }
    } catch (RuntimeException | Error e) {
      release(taken, names, names.size() - 1);
      throw e;
    }
    return () -> release(taken, names, names.size());
  }

  /** Unlocks the first {@code locked} of {@code names} (the rest were counted, not locked), then {@code taken}. */
  private void release(List<Lock> taken, List<String> names, int locked) {
    for (int i = names.size() - 1; i >= 0; i--) {
      boolean held = i < locked;
      servers.compute(names.get(i), (k, v) -> {
        if (held) {
          v.unlock();
        }
        return --v.users == 0 ? null : v;
      });
    }
    for (int i = taken.size() - 1; i >= 0; i--) {
      taken.get(i).unlock();
    }
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

  /** Servers held or waited for now (for tests: the table keeps no others). */
  int serversHeld() {
    return servers.size();
  }
}

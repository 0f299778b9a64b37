package io.k8ssync.daemon.cache;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.PodStateView;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The single in-memory source of truth: the latest {@link PodState} of every watched pod, indexed
 * by logical service and by IP. Every update that changes something a sink can act on becomes a
 * {@link PodChange} handed to the listeners, synchronously and in order.
 *
 * <p>Thread rules: all updates of one pod come from the one informer that watches it, so per-pod
 * order is the informer's order; different pods may be updated from different informer threads at
 * once. Listeners must not block (they enqueue). Reads are safe from any thread.
 *
 * <p>Memory: a cached pod costs its {@link PodState}, one map entry keyed by the state's own key
 * string, one entry in its service's key set (the same string) and two slots of the {@link IpIndex};
 * see "Retained heap per cached pod" in docs/BENCHMARKS.md.
 */
public final class PodStateCache implements PodStateView {

  private final Map<String, PodState> pods = new ConcurrentHashMap<>();
  private final Map<String, Set<String>> byService = new ConcurrentHashMap<>();
  private final IpIndex byIp = new IpIndex();
  private final List<Consumer<PodChange>> listeners = new CopyOnWriteArrayList<>();
  private volatile BooleanSupplier synced = () -> false;

  public void addListener(Consumer<PodChange> listener) {
    listeners.add(listener);
  }

  /** Tells the cache how to know that every informer has delivered its initial list. */
  public void syncedWhen(BooleanSupplier synced) {
    this.synced = Objects.requireNonNull(synced);
  }

  /**
   * Stores the latest state of a pod. Returns the previous state (null if new), and emits a
   * change unless nothing but the resourceVersion changed.
   */
  public PodState put(PodState state) {
    String key = state.key();
    PodState before = pods.put(key, state);
    reindex(key, before, state);
    if (!state.sameAs(before)) {
      emit(PodChange.of(key, before, state));
    }
    return before;
  }

  /** Forgets a pod; emits DELETED when it was known. Returns the last state, or null. */
  public PodState remove(String key) {
    PodState before = pods.remove(key);
    if (before != null) {
      reindex(key, before, null);
      emit(PodChange.of(key, before, null));
    }
    return before;
  }

  public PodState get(String key) {
    return pods.get(key);
  }

  public int size() {
    return pods.size();
  }

  /** Pods of one cluster, optionally one namespace (null for all). */
  public Stream<PodState> scope(String cluster, String namespace) {
    return pods.values().stream()
        .filter(p -> p.cluster().equals(cluster) && (namespace == null || p.namespace().equals(namespace)));
  }

  @Override
  public boolean synced() {
    return synced.getAsBoolean();
  }

  @Override
  public Collection<PodState> pods() {
    return List.copyOf(pods.values());
  }

  @Override
  public Collection<PodState> podsOfService(String service) {
    return resolve(byService.get(service));
  }

  @Override
  public Collection<PodState> podsWithIp(String ip) {
    long ipv4 = PodState.ipv4Bits(ip);
    Object keys = byIp.get(ipv4, ipv4 >= 0 ? null : ip);
    if (keys == null) {
      return List.of();
    }
    return resolve(keys instanceof String one ? List.of(one) : List.of((String[]) keys));
  }

  private Collection<PodState> resolve(Collection<String> keys) {
    if (keys == null) {
      return List.of();
    }
    List<PodState> out = new ArrayList<>(keys.size());
    for (String k : keys) {
      PodState p = pods.get(k);
      if (p != null) {
        out.add(p);
      }
    }
    return out;
  }

  private void reindex(String key, PodState before, PodState after) {
    move(byService, key, before == null ? null : before.service(), after == null ? null : after.service());
    long fromIpv4 = before == null ? -1 : before.ipv4Bits();
    long toIpv4 = after == null ? -1 : after.ipv4Bits();
    // ip() builds a string from an IPv4 address: only called for the others (kept as given, no copy).
    String fromText = before == null || fromIpv4 >= 0 ? null : before.ip();
    String toText = after == null || toIpv4 >= 0 ? null : after.ip();
    if (fromIpv4 != toIpv4 || !Objects.equals(fromText, toText)) {
      byIp.remove(fromIpv4, fromText, key);
      byIp.add(toIpv4, toText, key);
    }
  }

  private static void move(Map<String, Set<String>> index, String key, String from, String to) {
    if (Objects.equals(from, to)) {
      return;
    }
    if (from != null) {
      index.computeIfPresent(from, (k, keys) -> {
        keys.remove(key);
        return keys.isEmpty() ? null : keys;
      });
    }
    if (to != null) {
      index.compute(to, (k, keys) -> {
        Set<String> s = keys != null ? keys : ConcurrentHashMap.newKeySet();
        s.add(key);
        return s;
      });
    }
  }

  private void emit(PodChange change) {
    for (Consumer<PodChange> l : listeners) {
      l.accept(change);
    }
  }
}

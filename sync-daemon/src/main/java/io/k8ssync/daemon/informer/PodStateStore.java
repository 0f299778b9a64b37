package io.k8ssync.daemon.informer;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodState;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The informer's item store: instead of full Pods it keeps {@link PodState} projections, in the
 * shared {@link PodStateCache}. This is fabric8's plug-in point for a reduced state (there is no
 * transform hook), so the informer never retains a Pod: each one is projected as it arrives and
 * becomes garbage right after.
 *
 * <p>The informer asks for stored objects back (to compare resourceVersions and to find pods that
 * vanished during a relist); it gets a "ghost" Pod holding only namespace, name, uid and
 * resourceVersion, built on demand.
 *
 * <p>A relist that would remove most pods is held by a {@link RelistGuard}: the informer reads the
 * store once ({@link #values}) before removing what its list lacked, and the guard decides then.
 *
 * <p>Called by the informer under its cache lock, from its list/watch thread: work here is
 * projection plus a non-blocking hand-off to the sink queues. Mutations are also serialized on
 * this store, because a held relist is confirmed from a timer thread.
 */
public final class PodStateStore implements ItemStore<Pod> {

  private static final Logger LOG = LoggerFactory.getLogger(PodStateStore.class);
  private static final long PROGRESS_EVERY = 5_000;

  private final String cluster;
  private final String namespace;
  private final PodProjector projector;
  private final PodStateCache cache;
  private final DaemonMetrics metrics;
  private final AtomicLong puts = new AtomicLong();
  private final RelistGuard guard;
  private volatile boolean initialListDone;
  private volatile BooleanSupplier watching = () -> true;
  private volatile Runnable onHold = () -> { };
  private volatile MarksListener marks = (key, m) -> { };

  /** Told each pod's rollout marks (null: none, or the pod is gone) before its state reaches the cache. */
  @FunctionalInterface
  public interface MarksListener {
    void marks(String podKey, RolloutRules.Marks marks);
  }

  /** @param namespace the one namespace this store's informer watches, or null for all */
  public PodStateStore(String namespace, PodProjector projector, PodStateCache cache, DaemonMetrics metrics) {
    this(namespace, projector, cache, metrics, null);
  }

  /** @param guard holds relist removals of most pods; null: none */
  PodStateStore(String namespace, PodProjector projector, PodStateCache cache, DaemonMetrics metrics, RelistGuard guard) {
    this.cluster = projector.cluster();
    this.namespace = namespace;
    this.projector = projector;
    this.cache = cache;
    this.metrics = metrics;
    this.guard = guard;
  }

  /** How to know whether the informer is watching (false while it lists), and what to do when a relist is held. */
  void guardWith(BooleanSupplier watching, Runnable onHold) {
    this.watching = watching;
    this.onHold = onHold;
  }

  /** A later list's answer (informer key to pod): held removals are confirmed, or the pods stored afresh. */
  synchronized void confirmHeld(Map<String, Pod> existing) {
    guard.confirm(existing, p -> p.getMetadata().getUid(), key -> {
      PodState before = cache.remove(cacheKey(key));
      if (before != null) {
        metrics.informerEvents.labelValues(cluster, "DELETE").inc();
      }
      if (projector.rollout() != RolloutRules.OFF) {
        marks.marks(cacheKey(key), null);
      }
    }, this::put);
  }

  void marksTo(MarksListener listener) {
    this.marks = listener;
  }

  void initialListDone() {
    initialListDone = true;
  }

  @Override
  public String getKey(Pod pod) {
    return Cache.metaNamespaceKeyFunc(pod);
  }

  @Override
  public synchronized Pod put(String key, Pod pod) {
    if (guard != null) {
      if (watching.getAsBoolean()) {
        guard.fresh(key);
      } else {
        guard.listed(key);
      }
    }
    PodState state = projector.project(pod, cache.get(cacheKey(key)));
    if (projector.rollout() != RolloutRules.OFF) {
      marks.marks(state.key(), projector.rollout().marks(pod));
    }
    PodState before = cache.put(state);
    metrics.informerEvents.labelValues(cluster, before == null ? "ADD" : "UPDATE").inc();
    if (state.rejection() != null && (before == null || !Objects.equals(before.rejection(), state.rejection()))) {
      String reason = state.rejection().split(" ", 2)[0];
      metrics.podsRejected.labelValues(cluster, reason).inc();
      LOG.warn("pod rejected, registered nowhere until fixed: cluster={} pod={} reason={}",
          cluster, key, state.rejection());
    }
    if (!initialListDone) {
      long n = puts.incrementAndGet();
      if (n % PROGRESS_EVERY == 0) {
        LOG.info("initial list in progress: cluster={} namespace={} pods={}", cluster, scopeName(), n);
      }
    }
    return ghost(before);
  }

  @Override
  public synchronized Pod remove(String key) {
    if (guard != null) {
      if (!watching.getAsBoolean() && guard.holds(key)) {
        return ghost(cache.get(cacheKey(key))); // a held relist removal: the pod stays until a new list confirms
      }
      guard.fresh(key);
    }
    PodState before = cache.remove(cacheKey(key));
    if (before != null) {
      metrics.informerEvents.labelValues(cluster, "DELETE").inc();
    }
    if (projector.rollout() != RolloutRules.OFF) {
      marks.marks(cacheKey(key), null);
    }
    return ghost(before);
  }

  @Override
  public Stream<String> keySet() {
    return cache.scope(cluster, namespace).map(p -> p.namespace() + '/' + p.name());
  }

  @Override
  public synchronized Stream<Pod> values() {
    if (guard != null && !watching.getAsBoolean()) {
      // A list is done and its removals come next: the one moment the guard can see them all.
      Map<String, String> uids = cache.scope(cluster, namespace)
          .collect(Collectors.toMap(p -> p.namespace() + '/' + p.name(), PodState::uid, (a, b) -> a));
      if (initialListDone && guard.syncStarts(uids)) {
        onHold.run();
      } else if (!initialListDone) {
        guard.syncStarts(Map.of()); // forget what the initial list put
      }
    }
    return cache.scope(cluster, namespace).map(PodStateStore::ghost);
  }

  @Override
  public int size() {
    return (int) cache.scope(cluster, namespace).count();
  }

  @Override
  public Pod get(String key) {
    return ghost(cache.get(cacheKey(key)));
  }

  long initialPuts() {
    return puts.get();
  }

  String scopeName() {
    return namespace == null ? "*" : namespace;
  }

  private String cacheKey(String informerKey) {
    return cluster + '/' + informerKey;
  }

  private static Pod ghost(PodState state) {
    if (state == null) {
      return null;
    }
    return new PodBuilder().withNewMetadata()
        .withNamespace(state.namespace())
        .withName(state.name())
        .withUid(state.uid())
        .withResourceVersion(state.resourceVersion())
        .endMetadata().build();
  }
}

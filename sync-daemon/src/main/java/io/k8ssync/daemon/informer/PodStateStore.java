package io.k8ssync.daemon.informer;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.fabric8.kubernetes.client.informers.cache.ItemStore;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodState;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
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
 * <p>Called by the informer under its cache lock, from its list/watch thread: work here is
 * projection plus a non-blocking hand-off to the sink queues.
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
  private volatile boolean initialListDone;

  /** @param namespace the one namespace this store's informer watches, or null for all */
  public PodStateStore(String namespace, PodProjector projector, PodStateCache cache, DaemonMetrics metrics) {
    this.cluster = projector.cluster();
    this.namespace = namespace;
    this.projector = projector;
    this.cache = cache;
    this.metrics = metrics;
  }

  void initialListDone() {
    initialListDone = true;
  }

  @Override
  public String getKey(Pod pod) {
    return Cache.metaNamespaceKeyFunc(pod);
  }

  @Override
  public Pod put(String key, Pod pod) {
    PodState state = projector.project(pod);
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
  public Pod remove(String key) {
    PodState before = cache.remove(cacheKey(key));
    if (before != null) {
      metrics.informerEvents.labelValues(cluster, "DELETE").inc();
    }
    return ghost(before);
  }

  @Override
  public Stream<String> keySet() {
    return cache.scope(cluster, namespace).map(p -> p.namespace() + '/' + p.name());
  }

  @Override
  public Stream<Pod> values() {
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

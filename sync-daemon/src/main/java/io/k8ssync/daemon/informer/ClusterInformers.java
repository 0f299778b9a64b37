package io.k8ssync.daemon.informer;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.FilterWatchListDeletable;
import io.fabric8.kubernetes.client.dsl.PodResource;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.api.model.PodList;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod informers of one cluster: one for all namespaces, or one per configured namespace, each
 * storing projections in the shared cache through its own {@link PodStateStore}.
 */
public final class ClusterInformers implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterInformers.class);

  /** What to watch in one cluster. {@code namespaces} empty means all. */
  public record Scope(String cluster, List<String> namespaces, String labelSelector, Duration resync, long pageSize) {}

  /** Checks held relist removals with a new list, away from the informers' threads. */
  private final java.util.concurrent.ScheduledExecutorService confirmer =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "relist-guard");
        t.setDaemon(true);
        return t;
      });

  private final Scope scope;
  private final KubernetesClient client;
  private final List<SharedIndexInformer<Pod>> informers = new ArrayList<>();
  private final List<PodStateStore> stores = new ArrayList<>();
  private volatile String lastError;

  public ClusterInformers(Scope scope, KubernetesClient client, PodRules rules, PodStateCache cache, DaemonMetrics metrics) {
    this(scope, client, rules, cache, metrics, RelistGuard.Settings.DEFAULTS);
  }

  public ClusterInformers(Scope scope, KubernetesClient client, PodRules rules, PodStateCache cache, DaemonMetrics metrics,
                          RelistGuard.Settings relist) {
    this(scope, client, rules, cache, metrics, relist, RolloutRules.OFF, (key, m) -> { });
  }

  /** @param rollout how pods ask to hold their rollout; {@code marks} is told each such pod's marks */
  public ClusterInformers(Scope scope, KubernetesClient client, PodRules rules, PodStateCache cache, DaemonMetrics metrics,
                          RelistGuard.Settings relist, RolloutRules rollout, PodStateStore.MarksListener marks) {
    this.scope = scope;
    this.client = client;
    PodProjector projector = new PodProjector(scope.cluster(), rules,
        (c, field) -> metrics.podValuesDropped.labelValues(c, field).inc(), rollout);
    List<String> namespaces = scope.namespaces().isEmpty() ? java.util.Collections.singletonList(null) : scope.namespaces();
    for (String ns : namespaces) {
      String where = "cluster=" + scope.cluster() + " namespace=" + (ns == null ? "*" : ns);
      PodStateStore store = new PodStateStore(ns, projector, cache, metrics, new RelistGuard(where, relist,
          (outcome, n) -> metrics.relistRemovals.labelValues(scope.cluster(), outcome).inc(n)));
      FilterWatchListDeletable<Pod, PodList, PodResource> pods = ns == null
          ? client.pods().inAnyNamespace()
          : client.pods().inNamespace(ns);
      if (scope.labelSelector() != null && !scope.labelSelector().isEmpty()) {
        pods = pods.withLabelSelector(scope.labelSelector());
      }
      SharedIndexInformer<Pod> informer = pods.withLimit(scope.pageSize())
          .runnableInformer(scope.resync().toMillis())
          .removeNamespaceIndex()
          .itemStore(store)
          .exceptionHandler((started, t) -> {
            String problem = describe(t);
            if (!problem.equals(lastError)) {
              lastError = problem;
              LOG.error("pod list/watch failed, retrying: cluster={} namespace={} started={} error={}",
                  scope.cluster(), store.scopeName(), started, problem);
            }
            return true;
          });
      FilterWatchListDeletable<Pod, PodList, PodResource> scoped = pods;
      store.guardWith(informer::isWatching, () -> confirmLater(store, scoped, relist.confirmAfter()));
      store.marksTo(marks);
      informers.add(informer);
      stores.add(store);
    }
  }

  public String cluster() {
    return scope.cluster();
  }

  /** After {@code delay}, lists the scope afresh and lets the store confirm or drop its held removals. */
  private void confirmLater(PodStateStore store, FilterWatchListDeletable<Pod, PodList, PodResource> pods, Duration delay) {
    confirmer.schedule(() -> {
      try {
        java.util.Map<String, Pod> existing = new java.util.HashMap<>();
        for (Pod p : pods.list().getItems()) {
          existing.put(p.getMetadata().getNamespace() + "/" + p.getMetadata().getName(), p);
        }
        store.confirmHeld(existing);
      } catch (RuntimeException e) {
        LOG.warn("relist guard: the confirming list failed, trying again in {}s: cluster={} error={}",
            delay.toSeconds(), scope.cluster(), describe(e));
        confirmLater(store, pods, delay);
      }
    }, delay.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  /** Starts every informer; the future completes when all have delivered their initial list. */
  public CompletableFuture<Void> start() {
    long t0 = System.nanoTime();
    AtomicInteger remaining = new AtomicInteger(informers.size());
    List<CompletableFuture<Void>> all = new ArrayList<>();
    LOG.info("starting pod informers: cluster={} namespaces={} labelSelector={} server={}",
        scope.cluster(), scope.namespaces().isEmpty() ? "*" : scope.namespaces(),
        scope.labelSelector(), client.getMasterUrl());
    for (int i = 0; i < informers.size(); i++) {
      PodStateStore store = stores.get(i);
      all.add(informers.get(i).start().toCompletableFuture().thenRun(() -> {
        store.initialListDone();
        LOG.info("initial list done: cluster={} namespace={} pods={} tookMs={} remainingInformers={}",
            scope.cluster(), store.scopeName(), store.initialPuts(),
            (System.nanoTime() - t0) / 1_000_000, remaining.decrementAndGet());
      }));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
  }

  /** Why the informers are not synced or watching, or null; shown in /readyz. */
  public String lastError() {
    return synced() && watching() ? null : lastError;
  }

  /** One line an operator can act on; a missing permission says which and where it is granted. */
  static String describe(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof io.fabric8.kubernetes.client.KubernetesClientException k && k.getCode() == 403) {
        return "permission denied (403): the service account needs get, list and watch on pods"
            + " (config/kubernetes/rbac.yaml); API server said: "
            + (k.getStatus() != null && k.getStatus().getMessage() != null ? k.getStatus().getMessage() : k.getMessage());
      }
      if (c instanceof io.fabric8.kubernetes.client.KubernetesClientException k && k.getCode() == 401) {
        return "not authenticated (401): check the cluster's credentials";
      }
    }
    return String.valueOf(t);
  }

  public boolean synced() {
    return informers.stream().allMatch(SharedIndexInformer::hasSynced);
  }

  public boolean watching() {
    return informers.stream().allMatch(SharedIndexInformer::isWatching);
  }

  /** Stops intake: no more events reach the cache after this returns. */
  @Override
  public void close() {
    informers.forEach(SharedIndexInformer::stop);
    confirmer.shutdownNow();
  }
}

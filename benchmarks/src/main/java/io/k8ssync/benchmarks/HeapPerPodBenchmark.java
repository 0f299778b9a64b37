package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.informers.impl.cache.CacheImpl;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.informer.PodProjector;
import io.k8ssync.daemon.informer.PodRules;
import io.k8ssync.daemon.informer.PodStateStore;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.lang.management.ManagementFactory;
import java.util.Set;

/**
 * Retained heap per cached pod: a plain fabric8 informer cache (its default item store holding full
 * Pods, plus its namespace index) against ours (the PodState item store, namespace index removed,
 * with the PodStateCache and its service and IP indexes), both fed through fabric8's
 * {@code CacheImpl.put} the way the informer's reflector feeds them, in one run.
 *
 * <p>Usage: {@code java -XX:+UseSerialGC -Xmx12g -cp benchmarks/target/benchmarks.jar
 * io.k8ssync.benchmarks.HeapPerPodBenchmark [pods]}
 */
public final class HeapPerPodBenchmark {

  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
    System.out.printf("pods=%d jvm=%s %s gc=%s%n", n, System.getProperty("java.vm.name"), System.getProperty("java.version"),
        ManagementFactory.getGarbageCollectorMXBeans().get(0).getName());
    // Warm up parsing so class metadata and JIT state are not counted against the first variant.
    for (int i = 0; i < 2_000; i++) {
      RealisticPods.pod(n + i);
    }
    System.out.printf("average pod JSON: %d bytes%n", RealisticPods.json(n / 2).length());

    long plainBefore = usedHeap();
    CacheImpl<Pod> plain = new CacheImpl<>();
    for (int i = 0; i < n; i++) {
      plain.put(RealisticPods.pod(i));
    }
    long plainAfter = usedHeap();
    double plainPerPod = (plainAfter - plainBefore) / (double) n;
    check(plain.listKeys().size() == n, "plain cache holds every pod");
    plain = null;

    long oursBefore = usedHeap();
    PodStateCache cache = new PodStateCache();
    DaemonMetrics metrics = new DaemonMetrics(new PrometheusRegistry());
    PodProjector projector = new PodProjector("prod", new PodRules("app", Set.of("version"), Set.of(), 1));
    CacheImpl<Pod> ours = new CacheImpl<>();
    ours.removeIndexer(CacheImpl.NAMESPACE_INDEX);
    ours.setItemStore(new PodStateStore(null, projector, cache, metrics));
    for (int i = 0; i < n; i++) {
      ours.put(RealisticPods.pod(i));
    }
    long oursAfter = usedHeap();
    double oursPerPod = (oursAfter - oursBefore) / (double) n;
    check(cache.size() == n, "our cache holds every pod");
    check(cache.podsOfService("svc-7").size() == n / 400 + (7 < n % 400 ? 1 : 0), "service index is complete");

    System.out.println();
    System.out.println("| store | retained heap | per pod |");
    System.out.println("|---|---|---|");
    System.out.printf("| plain fabric8 informer cache (full Pods) | %.1f MiB | %.0f bytes |%n", mib(plainAfter - plainBefore), plainPerPod);
    System.out.printf("| k8s-sync PodState store + cache + indexes | %.1f MiB | %.0f bytes |%n", mib(oursAfter - oursBefore), oursPerPod);
    System.out.printf("ratio: %.1fx smaller%n", plainPerPod / oursPerPod);
    System.out.printf("targets (issue 19): <= 512 bytes per pod: %s; >= 40x smaller: %s%n",
        oursPerPod <= 512 ? "met" : "MISSED", plainPerPod / oursPerPod >= 40 ? "met" : "MISSED");
    java.lang.ref.Reference.reachabilityFence(ours);
    java.lang.ref.Reference.reachabilityFence(cache);
  }

  private static long usedHeap() throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(100);
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  private static double mib(long bytes) {
    return bytes / 1024.0 / 1024.0;
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new IllegalStateException("benchmark invariant failed: " + what);
    }
  }
}

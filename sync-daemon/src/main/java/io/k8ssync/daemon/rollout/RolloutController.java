package io.k8ssync.daemon.rollout;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.informer.RolloutRules;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes Kubernetes wait for k8s-sync, from both ends. Online: a pod listing the readiness gate
 * gets its condition True once every sink the rollout waits for has it online, and False with the
 * sinks still owing it meanwhile. Offline: {@link OfflineWaits} answers a preStop hook once every
 * such sink has the pod offline. OpenKruise: the hook label is set once a pod is online, and
 * removed (only where k8s-sync set it) once it is offline, so an update or deletion proceeds.
 *
 * <p>Decisions are made on one thread, per pod, whenever the pod, its marks or a sink's report
 * changes, from the cache and the sinks' reports rather than from memory of earlier decisions:
 * a replica that takes over decides the same way. Only the leader of a pod's cluster writes.
 * A True gate is never turned False for a pod that stays ready to register (a new leader has not
 * heard its sinks yet; the pod is online all the same).
 */
public final class RolloutController implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RolloutController.class);
  /** How often pending gates are looked at again for the stuck gauge and fail-open. */
  private static final long SWEEP_MILLIS = 1_000;
  /**
   * How long a pod whose sinks merely have not reported yet waits before its gate says so (False,
   * SinkPending): most pods are online by then, and their gate goes straight to True in one patch.
   * A failing sink is said at once. The pod is not Ready either way (a gate without its condition is False).
   */
  static final long PENDING_GRACE_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(1_000);

  private final DaemonConfig.RolloutSpec spec;
  private final PodStateCache cache;
  private final PodProgress progress;
  private final Participants participants;
  private final Predicate<String> leads;
  private final Function<String, KubernetesClient> clients;
  private final RolloutMetrics metrics;
  private final Map<String, RolloutRules.Marks> marks = new ConcurrentHashMap<>();
  /** Gated pods whose gate is not True yet, with since when (epoch millis) they wait. */
  private final Map<String, Long> pendingGates = new ConcurrentHashMap<>();
  /** Gated pods whose sinks have not reported yet, with since when (nanoTime) this replica saw them so. */
  private final Map<String, Long> unreported = new ConcurrentHashMap<>();
  private final RolloutRules rules;
  /** Pods whose foreign hook was reported once (uid), so a blocked pod logs one line, not one per event. */
  private final Set<String> foreignHooksSeen = ConcurrentHashMap.newKeySet();
  private final Set<String> dirty = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final ScheduledExecutorService thread;
  private final OfflineWaits waits;
  private volatile boolean closed;

  public RolloutController(DaemonConfig.RolloutSpec spec, PodStateCache cache, PodProgress progress,
                           List<Participants.Sink> sinks, Predicate<String> leads,
                           java.util.function.ToLongFunction<String> knownSince,
                           Function<String, KubernetesClient> clients, DaemonMetrics daemonMetrics) {
    this.spec = spec;
    this.cache = cache;
    this.progress = progress;
    this.participants = new Participants(sinks, progress, System::nanoTime, knownSince);
    this.leads = leads;
    this.clients = clients;
    this.metrics = new RolloutMetrics(daemonMetrics);
    this.rules = new RolloutRules(spec.gateCondition(), spec.hookLabel(), spec.hookLabel() == null ? null : spec.hookValue());
    this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "rollout");
      t.setDaemon(true);
      return t;
    });
    this.waits = new OfflineWaits(spec, cache, participants, metrics, thread, this::touch);
    daemonMetrics.gauge("readiness_gate_pending_pods", "Gated pods ready to register whose gate is not True yet",
        () -> pendingGates.size());
    daemonMetrics.gauge("readiness_gate_stuck_pods", "Gated pods waiting for their gate longer than rollout.readinessGate.stuckAfter",
        () -> stuck(System.currentTimeMillis()));
    daemonMetrics.gauge("offline_waiters", "preStop offline waits open now", waits::open);
    progress.addListener((key, sink) -> touch(key));
    if (spec.gateOn()) {
      thread.scheduleWithFixedDelay(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }
  }

  /**
   * The controller for {@code rollout}, or null when neither the gate nor Kruise hooks are on and no
   * sink takes part (then there is nothing to wait for). Call once the sinks' runners exist and
   * before the informers start; it listens to the cache from here on.
   */
  public static RolloutController create(DaemonConfig config, DaemonConfig.RolloutSpec rollout,
                                         io.k8ssync.daemon.dispatch.Dispatcher dispatcher, PodStateCache cache,
                                         PodProgress progress, Predicate<String> leads,
                                         java.util.function.ToLongFunction<String> knownSince,
                                         Function<String, KubernetesClient> clients, DaemonMetrics metrics) {
    if (rollout.sinks().isEmpty()) {
      if (!rollout.gateOn() && !rollout.kruiseOn()) {
        return null;
      }
      LOG.warn("rollout: readiness gate / Kruise hooks are on but no sink takes part (rollout.sinks empty and no sink"
          + " routes traffic): gated pods get their gate True at once");
    }
    List<Participants.Sink> sinks = new ArrayList<>();
    for (String name : rollout.sinks()) {
      DaemonConfig.SinkSpec s = config.sinks().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
      sinks.add(new Participants.Sink(name, s.selector(), s.propagationDelay(), dispatcher.runner(name).queue()));
    }
    RolloutController controller = new RolloutController(rollout, cache, progress, sinks, leads, knownSince, clients, metrics);
    cache.addListener(controller::changed);
    LOG.info("rollout: sinks={} readinessGate={} offlineWait={} kruiseHookLabel={}", rollout.sinks(),
        rollout.gateCondition(), rollout.offlineWait(), rollout.hookLabel());
    return controller;
  }

  /** How pods ask to hold their rollout, as the informers must read them. */
  public RolloutRules rules() {
    return rules;
  }

  public OfflineWaits waits() {
    return waits;
  }

  /** The informer's view of a pod's rollout marks (null: none, or gone). */
  public void marks(String podKey, RolloutRules.Marks m) {
    if (m == null) {
      marks.remove(podKey);
      pendingGates.remove(podKey);
      unreported.remove(podKey);
    } else {
      marks.put(podKey, m);
    }
    touch(podKey);
  }

  /** A pod changed in the cache. */
  public void changed(PodChange change) {
    touch(change.key());
    if (change.after() == null && progress.forgetOffline(change.key())) {
      foreignHooksSeen.remove(change.before().uid());
    }
  }

  /** Leadership of {@code cluster} moved: a new leader looks at every pod with marks there. */
  public void leadershipChanged(String cluster, boolean leading) {
    if (leading) {
      marks.keySet().stream().filter(k -> k.startsWith(cluster + "/")).forEach(this::touch);
    }
    waits.leadershipChanged(cluster, leading);
  }

  /** Decide again for {@code podKey}, soon, on the rollout thread. */
  void touch(String podKey) {
    if (closed) {
      return;
    }
    dirty.add(podKey);
    if (scheduled.compareAndSet(false, true)) {
      try {
        thread.execute(this::drain);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        scheduled.set(false);
      }
    }
  }

  private void drain() {
    scheduled.set(false);
    List<String> keys = new ArrayList<>(dirty);
    keys.forEach(dirty::remove);
    for (String key : keys) {
      try {
        decide(key);
      } catch (RuntimeException e) {
        LOG.warn("rollout decision failed, retrying in 1s: pod={} error={}", key, e.toString());
        thread.schedule(() -> touch(key), 1, TimeUnit.SECONDS);
      }
    }
  }

  private void decide(String key) {
    PodState pod = cache.get(key);
    waits.decide(key, pod);
    RolloutRules.Marks m = marks.get(key);
    if (pod == null || m == null || !m.uid().equals(pod.uid())) {
      pendingGates.remove(key);
      unreported.remove(key);
      return;
    }
    if (spec.gateOn() && m.gated()) {
      gate(pod, m);
    }
    if (spec.kruiseOn() && m.kruiseState() != null && leads.test(pod.cluster())) {
      hook(pod, m);
    }
  }

  /** What the gate should say now. */
  private record Verdict(boolean status, String reason, String message) {}

  private void gate(PodState pod, RolloutRules.Marks m) {
    RolloutRules.Condition current = m.gate();
    boolean currentTrue = current != null && "True".equals(current.status());
    if (pod.terminating()) {
      pendingGates.remove(pod.key());
      return; // on its way out: its gate no longer matters, and a patch would only race the kubelet
    }
    Verdict v = verdict(pod);
    if (v == null) {
      pendingGates.remove(pod.key());
      unreported.remove(pod.key());
      return;
    }
    if (v.status() || currentTrue) {
      pendingGates.remove(pod.key());
    } else {
      pendingGates.putIfAbsent(pod.key(), pod.readySinceMillis() > 0 ? pod.readySinceMillis() : System.currentTimeMillis());
    }
    if (!leads.test(pod.cluster())) {
      return;
    }
    if (currentTrue && !v.status() && pod.ready()) {
      return; // never take a pod that stays ready out of its Service because of what a sink has not said yet
    }
    if (current != null && current.status().equals(v.status() ? "True" : "False") && v.reason().equals(current.reason())
        && v.message().equals(current.message())) {
      return;
    }
    if ("SinkPending".equals(v.reason())) {
      long now = System.nanoTime();
      long since = unreported.computeIfAbsent(pod.key(), k -> now);
      if (now - since < PENDING_GRACE_NANOS) {
        thread.schedule(() -> touch(pod.key()), PENDING_GRACE_NANOS - (now - since), TimeUnit.NANOSECONDS);
        return;
      }
    } else {
      unreported.remove(pod.key());
    }
    boolean flips = current == null || currentTrue != v.status();
    PodPatches.Result result;
    try {
      result = PodPatches.condition(clients.apply(pod.cluster()), pod, m, spec.gateCondition(), v.status(), v.reason(),
          v.message(), flips, after -> patched(pod.key(), m, after));
    } catch (RuntimeException e) {
      metrics.gatePatches.labelValues(v.status() ? "True" : "False", "error").inc();
      LOG.warn("readiness gate patch failed, retrying in 1s: pod={} status={} error={}", pod.key(), v.status(), e.toString());
      thread.schedule(() -> touch(pod.key()), 1, TimeUnit.SECONDS);
      return;
    }
    metrics.gatePatches.labelValues(v.status() ? "True" : "False", result.label()).inc();
    if (result == PodPatches.Result.OK) {
      if (v.status() && flips) {
        double waited = pod.readySinceMillis() > 0 ? (System.currentTimeMillis() - pod.readySinceMillis()) / 1000.0 : 0;
        metrics.gateWaitSeconds.observe(Math.max(0, waited));
      }
      LOG.info("readiness gate set: pod={} uid={} condition={} status={} reason={} message={}", pod.key(), pod.uid(),
          spec.gateCondition(), v.status() ? "True" : "False", v.reason(), v.message());
    } else {
      // A newer pod is on its way (conflict) or the pod is gone: the informer's next event decides again.
      LOG.info("readiness gate patch not applied: pod={} status={} result={} (decided again on the pod's next event)",
          pod.key(), v.status(), result.label());
    }
  }

  /** Null when there is nothing to say yet (not ready to register, gate never set). */
  private Verdict verdict(PodState pod) {
    RolloutRules.Marks m = marks.get(pod.key());
    boolean currentTrue = m != null && m.gate() != null && "True".equals(m.gate().status());
    if (!pod.ready()) {
      return currentTrue ? new Verdict(false, "NotReadyToRegister",
          "containers or another readiness gate are not ready; k8s-sync takes the pod out of traffic") : null;
    }
    if (pod.rejected()) {
      return new Verdict(false, "Rejected", "k8s-sync rejected the pod: " + pod.rejection());
    }
    if (participants.routing(pod).isEmpty()) {
      return new Verdict(true, "NotRouted", "no k8s-sync sink routes traffic to this pod");
    }
    List<Participants.Owed> owed = participants.notYetOnline(pod);
    if (owed.isEmpty()) {
      return new Verdict(true, "Online", "online in " + String.join(", ",
          participants.routing(pod).stream().map(Participants.Sink::name).toList()));
    }
    if (!spec.failOpenAfter().isZero() && pod.readySinceMillis() > 0
        && System.currentTimeMillis() - pod.readySinceMillis() >= spec.failOpenAfter().toMillis()) {
      return new Verdict(true, "FailOpen", "failed open after " + spec.failOpenAfter().toSeconds() + "s; still waiting for "
          + Participants.describe(owed));
    }
    boolean failing = owed.stream().anyMatch(o -> o.what().startsWith("failing"));
    return new Verdict(false, failing ? "SinkFailing" : "SinkPending", "waiting for " + Participants.describe(owed));
  }

  private void hook(PodState pod, RolloutRules.Marks m) {
    String state = m.kruiseState();
    if (("PreparingNormal".equals(state) || "Updated".equals(state)) && !m.hooked()) {
      if (!pod.terminating() && pod.ready() && !pod.rejected() && participants.notYetOnline(pod).isEmpty()) {
        patchHook(pod, m, spec.hookValue(), state);
      }
    } else if (("PreparingUpdate".equals(state) || "PreparingDelete".equals(state)) && m.hooked()) {
      if (!m.hookOurs()) {
        if (foreignHooksSeen.add(m.uid())) {
          metrics.hookTransitions.labelValues("left_alone", "ok").inc();
          LOG.info("lifecycle hook left alone: pod={} state={} label={} (set by someone else, not k8s-sync)", pod.key(), state,
              spec.hookLabel());
        }
        return;
      }
      if (participants.notYetOffline(pod, new long[1]).isEmpty()) {
        patchHook(pod, m, null, state);
      }
    }
  }

  private void patchHook(PodState pod, RolloutRules.Marks m, String value, String state) {
    String action = value != null ? "set" : "removed";
    PodPatches.Result result;
    try {
      result = PodPatches.hook(clients.apply(pod.cluster()), pod, m, spec.hookLabel(), value, after -> patched(pod.key(), m, after));
    } catch (RuntimeException e) {
      metrics.hookTransitions.labelValues(action, "error").inc();
      LOG.warn("lifecycle hook patch failed, retrying in 1s: pod={} state={} action={} error={}", pod.key(), state, action, e.toString());
      thread.schedule(() -> touch(pod.key()), 1, TimeUnit.SECONDS);
      return;
    }
    metrics.hookTransitions.labelValues(action, result.label()).inc();
    LOG.info("lifecycle hook {}: pod={} uid={} state={} label={} result={}", action, pod.key(), pod.uid(), state,
        spec.hookLabel(), result.label());
  }

  /**
   * Our patch made {@code after} from the version in {@code used}: unless the informer brought a newer
   * one meanwhile, decide from it, so the next patch (a True after a False) does not fail on a stale
   * resourceVersion and wait for the watch.
   */
  private void patched(String key, RolloutRules.Marks used, io.fabric8.kubernetes.api.model.Pod after) {
    RolloutRules.Marks newer = rules.marks(after);
    if (newer != null) {
      marks.computeIfPresent(key, (k, cur) -> cur.resourceVersion().equals(used.resourceVersion()) ? newer : cur);
    }
  }

  private int stuck(long now) {
    long limit = spec.stuckAfter().toMillis();
    int n = 0;
    for (long since : pendingGates.values()) {
      if (now - since >= limit) {
        n++;
      }
    }
    return n;
  }

  /** Pending gates are decided again each second: fail-open is a matter of time, and so is a hint in the log. */
  private void sweep() {
    if (!spec.failOpenAfter().isZero()) {
      pendingGates.keySet().forEach(this::touch);
    }
  }

  @Override
  public void close() {
    closed = true;
    waits.close();
    thread.shutdownNow();
  }

  /** For tests and the status API: the gated pods still waiting, with since when (epoch millis). */
  public Map<String, Long> pendingGates() {
    return Map.copyOf(pendingGates);
  }

  static Duration millis(long ms) {
    return Duration.ofMillis(ms);
  }
}

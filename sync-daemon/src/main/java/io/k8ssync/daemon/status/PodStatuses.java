package io.k8ssync.daemon.status;

import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.Consumer;

/**
 * Where each pod stands in each sink, answered from memory: the cache says what each sink wants
 * (the shared registration rule and the sink's selector), {@link PodProgress} what each sink
 * reported, the sink's queue whether a change still waits. A query scans at most the pods of its
 * service or IP (the cache's indexes) or, for other filters, every cached pod once, keeping only
 * the page it returns (a bounded heap in key order). Thread-safe: it only reads.
 */
public final class PodStatuses {

  /** A configured sink as the status sees it. */
  record Sink(String name, String type, Selector selector, SinkRunner runner) {
    boolean everyReplica() {
      return runner != null && runner.appliesOnEveryReplica();
    }
  }

  /** One page of pods, how many match in all, and the token of the next page (null on the last). */
  public record Page(List<PodView> pods, int matched, String continueToken) {}

  /** Per sink, how many pods are in each state (only states with pods). */
  public record Counts(Map<String, Map<String, Integer>> bySink) {}

  /** One logical service: its pods and, per sink, how many are in each state. */
  public record ServiceView(String service, int pods, Map<String, Map<String, Integer>> sinks) {}

  public record ServicePage(List<ServiceView> services, int matched, String continueToken) {}

  /**
   * A sink's health: failing (its threshold of failures in a row reached), queue depth against its
   * capacity, lag (age of the oldest change not applied), changes held for another replica's clusters.
   */
  public record SinkHealth(String name, String type, boolean healthy, int consecutiveFailures, int queueDepth,
                           int queueCapacity, double lagSeconds, int heldForOtherReplicas, boolean everyReplica) {}

  /** This replica: its role, identity, who leads each cluster, and for which clusters it is a standby. */
  public record ReplicaView(String role, String identity, Map<String, String> leaders, List<String> standbyFor,
                            boolean dryRun, String note) {}

  /** How long the per-sink counts of every pod are reused: the page's header need not rescan 100,000 pods per view. */
  static final long COUNTS_FOR_NANOS = 2_000_000_000L;

  private final StatusSource source;
  private final GonePods gone;
  private final SinkStates states;
  /** Every cached pod's key, in order: an unfiltered page is a walk from the continue key, not a scan. */
  private final ConcurrentSkipListSet<String> keys = new ConcurrentSkipListSet<>();
  private volatile CachedCounts counts;

  private record CachedCounts(long atNanos, Counts counts) {}

  public PodStatuses(StatusSource source) {
    this.source = source;
    List<String> names = source.sinks().stream().map(DaemonConfig.SinkSpec::name).toList();
    this.gone = new GonePods(source.progress(), () -> names);
    this.states = new SinkStates(source);
  }

  /**
   * Keeps the key index and the last state of deleted pods: register on the cache before the
   * informers start. Runs on informer threads: a skip-list insert or removal and a map put.
   */
  Consumer<PodChange> cacheListener() {
    return change -> {
      if (change.after() == null) {
        keys.remove(change.key());
      } else if (change.before() == null) {
        keys.add(change.key());
      }
      gone.accept(change);
    };
  }

  List<Sink> sinks() {
    List<Sink> out = new ArrayList<>(source.sinks().size());
    for (DaemonConfig.SinkSpec s : source.sinks()) {
      out.add(new Sink(s.name(), s.type(), s.selector(), source.dispatcher().runner(s.name())));
    }
    return out;
  }

  java.util.Set<String> sinkNames() {
    java.util.Set<String> names = new java.util.LinkedHashSet<>();
    source.sinks().forEach(s -> names.add(s.name()));
    return names;
  }

  /** The page of pods {@code q} asks for. */
  public Page pods(PodQuery q) {
    List<Sink> sinks = sinks();
    Sink only = q.sink == null ? null : sinks.stream().filter(s -> s.name().equals(q.sink)).findFirst().orElse(null);
    String ip = q.pinnedIp();
    Comparator<Candidate> byKey = Comparator.comparing(Candidate::key);
    PriorityQueue<Candidate> page = new PriorityQueue<>(q.limit + 2, byKey.reversed());
    int matched = 0;
    if (q.filters().isEmpty()) {
      // No filter: walk the key index from the continue key; every cached pod matches.
      matched = source.cache().size();
      for (String key : q.after == null ? keys : keys.tailSet(q.after, false)) {
        PodState pod = source.cache().get(key);
        if (pod != null) {
          page.add(new Candidate(key, pod, false));
          if (page.size() > q.limit) {
            break;
          }
        }
      }
      for (PodState pod : gone.held()) {
        if (source.cache().get(pod.key()) == null) {
          matched++;
          keep(page, new Candidate(pod.key(), pod, true), q);
        }
      }
      return page(q, sinks, page, matched);
    }
    Collection<PodState> live = ip != null ? source.cache().podsWithIp(ip)
        : q.service != null ? source.cache().podsOfService(q.service)
        : q.state == SinkPodState.FAILING || q.state == SinkPodState.DRAINING ? reportedAs(q.state, sinks, only)
        : source.cache().pods();
    for (PodState pod : live) {
      if (matches(q, sinks, only, pod, false)) {
        matched++;
        keep(page, new Candidate(pod.key(), pod, false), q);
      }
    }
    for (PodState pod : gone.held()) {
      if (source.cache().get(pod.key()) == null && matches(q, sinks, only, pod, true)) {
        matched++;
        keep(page, new Candidate(pod.key(), pod, true), q);
      }
    }
    return page(q, sinks, page, matched);
  }

  /** Cached pods some sink (or {@code only}) reported failing or draining: only they can be in those states. */
  private Collection<PodState> reportedAs(SinkPodState state, List<Sink> sinks, Sink only) {
    PodProgress.State reported = state == SinkPodState.FAILING ? PodProgress.State.FAILING : PodProgress.State.DRAINING;
    java.util.Set<String> found = new java.util.HashSet<>();
    for (Sink s : only == null ? sinks : List.of(only)) {
      source.progress().of(s.name()).forEach((key, e) -> {
        if (e.state() == reported) {
          found.add(key);
        }
      });
    }
    List<PodState> out = new ArrayList<>(found.size());
    for (String key : found) {
      PodState pod = source.cache().get(key);
      if (pod != null) {
        out.add(pod);
      }
    }
    return out;
  }

  private Page page(PodQuery q, List<Sink> sinks, PriorityQueue<Candidate> page, int matched) {
    List<Candidate> sorted = new ArrayList<>(page);
    sorted.sort(Comparator.comparing(Candidate::key));
    String next = null;
    if (sorted.size() > q.limit) {
      sorted = sorted.subList(0, q.limit);
      next = q.continueAfter(sorted.get(sorted.size() - 1).key());
    }
    List<PodView> views = new ArrayList<>(sorted.size());
    for (Candidate c : sorted) {
      views.add(states.view(sinks, c.pod(), c.gone(), true));
    }
    return new Page(views, matched, next);
  }

  private record Candidate(String key, PodState pod, boolean gone) {}

  private static void keep(PriorityQueue<Candidate> page, Candidate c, PodQuery q) {
    if (q.after != null && c.key().compareTo(q.after) <= 0) {
      return;
    }
    if (page.size() <= q.limit) {
      page.add(c);
    } else if (c.key().compareTo(page.peek().key()) < 0) {
      page.poll();
      page.add(c);
    }
  }

  private boolean matches(PodQuery q, List<Sink> sinks, Sink only, PodState pod, boolean isGone) {
    if (!q.matches(pod)) {
      return false;
    }
    if (q.state == null && only == null) {
      return true;
    }
    SinkStates.Subject subject = new SinkStates.Subject(pod, isGone);
    if (q.state == null) {
      return only.selector().matches(pod) || states.entry(only, subject) != null;
    }
    for (Sink s : only == null ? sinks : List.of(only)) {
      if (states.stateIn(s, subject, states.entry(s, subject)) == q.state) {
        return true;
      }
    }
    return false;
  }

  /**
   * Per sink, how many pods (cached, and gone but held) are in each state: one pass over every pod,
   * reused for {@link #COUNTS_FOR_NANOS}.
   */
  public Counts counts() {
    CachedCounts c = counts;
    long now = System.nanoTime();
    if (c != null && now - c.atNanos() < COUNTS_FOR_NANOS) {
      return c.counts();
    }
    synchronized (this) {
      c = counts;
      if (c != null && System.nanoTime() - c.atNanos() < COUNTS_FOR_NANOS) {
        return c.counts();
      }
      Counts fresh = countNow();
      counts = new CachedCounts(System.nanoTime(), fresh);
      return fresh;
    }
  }

  private Counts countNow() {
    List<Sink> sinks = sinks();
    List<EnumMap<SinkPodState, int[]>> tallies = new ArrayList<>();
    sinks.forEach(s -> tallies.add(new EnumMap<>(SinkPodState.class)));
    for (PodState pod : source.cache().pods()) {
      states.tally(sinks, tallies, pod, false);
    }
    for (PodState pod : gone.held()) {
      if (source.cache().get(pod.key()) == null) {
        states.tally(sinks, tallies, pod, true);
      }
    }
    Map<String, Map<String, Integer>> out = new LinkedHashMap<>();
    for (int i = 0; i < sinks.size(); i++) {
      out.put(sinks.get(i).name(), SinkStates.labels(tallies.get(i)));
    }
    return new Counts(out);
  }

  /**
   * Services (the pods' logical apps) in name order, those whose name contains {@code q} (all when
   * null), one page of {@code limit} after {@code after}; each with its pods counted per sink and state.
   */
  public ServicePage services(String q, int limit, String after, java.util.function.UnaryOperator<String> token) {
    TreeMap<String, Boolean> names = new TreeMap<>();
    for (PodState pod : source.cache().pods()) {
      String svc = pod.service();
      if (svc != null && (q == null || svc.toLowerCase(java.util.Locale.ROOT).contains(q.toLowerCase(java.util.Locale.ROOT)))) {
        names.put(svc, Boolean.TRUE);
      }
    }
    List<Sink> sinks = sinks();
    List<ServiceView> out = new ArrayList<>();
    String next = null;
    for (String svc : after == null ? names.keySet() : names.tailMap(after, false).keySet()) {
      if (out.size() == limit) {
        next = token.apply(out.get(out.size() - 1).service());
        break;
      }
      List<EnumMap<SinkPodState, int[]>> tallies = new ArrayList<>();
      sinks.forEach(s -> tallies.add(new EnumMap<>(SinkPodState.class)));
      Collection<PodState> pods = source.cache().podsOfService(svc);
      pods.forEach(p -> states.tally(sinks, tallies, p, false));
      Map<String, Map<String, Integer>> bySink = new LinkedHashMap<>();
      for (int i = 0; i < sinks.size(); i++) {
        bySink.put(sinks.get(i).name(), SinkStates.labels(tallies.get(i)));
      }
      out.add(new ServiceView(svc, pods.size(), bySink));
    }
    return new ServicePage(out, names.size(), next);
  }

  /** Every sink's health, in config order. */
  public List<SinkHealth> sinkHealth() {
    List<SinkHealth> out = new ArrayList<>();
    for (Sink s : sinks()) {
      SinkRunner r = s.runner();
      if (r == null) {
        continue;
      }
      double lag = Math.round(r.queue().oldestPendingSeconds() * 1000) / 1000.0;
      out.add(new SinkHealth(s.name(), s.type(), !r.failing(), r.consecutiveFailures(), r.queue().waiting(),
          r.capacity(), lag, r.queue().parkedChanges(), r.appliesOnEveryReplica()));
    }
    return out;
  }

  /** This replica's role; on a standby, which clusters it does not apply and who does. */
  public ReplicaView replica() {
    StatusSource.Replica r = source.replica();
    Map<String, String> leaders = new TreeMap<>();
    r.leaders().forEach((c, id) -> leaders.put(c, id == null ? "unknown" : id));
    List<String> standby = leaders.keySet().stream().filter(c -> !r.leads(c)).toList();
    String note = null;
    if (!standby.isEmpty()) {
      StringBuilder b = new StringBuilder("this replica is a standby for ");
      for (int i = 0; i < standby.size(); i++) {
        String c = standby.get(i);
        b.append(i == 0 ? "" : ", ").append("cluster ").append(c).append(" (led by ").append(leaders.get(c)).append(')');
      }
      b.append(": it applies none of their pods, so their per-sink states are the leader's to tell; ask the leader");
      note = b.toString();
    } else if (r.dryRun()) {
      note = "dry run: sinks change nothing and report nothing, so every pod a sink wants online stays pending";
    }
    return new ReplicaView(r.role(), r.identity(), leaders, standby, r.dryRun(), note);
  }
}

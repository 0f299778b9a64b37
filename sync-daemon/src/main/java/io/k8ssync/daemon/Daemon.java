package io.k8ssync.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.cache.PodStateCache;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.dispatch.Dispatcher;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.ha.LeaderElection;
import io.k8ssync.daemon.informer.ClusterInformers;
import io.k8ssync.daemon.metrics.DaemonMetrics;
import io.k8ssync.daemon.metrics.HealthServer;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.PodStateView;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires informers, cache, dispatcher, sinks and the HTTP endpoints, and runs their lifecycle:
 * LATENT → STARTED → CLOSED, guarded by compare-and-set so {@link #close} is idempotent.
 */
public final class Daemon implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Daemon.class);

  private enum State { LATENT, STARTED, CLOSED }

  private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
  private final DaemonConfig config;
  private final SinkTypes sinkTypes;
  private final Function<DaemonConfig.ClusterSpec, KubernetesClient> clients;
  private final boolean dryRun;
  private final DaemonMetrics metrics;
  private final PodStateCache cache = new PodStateCache();
  private final io.k8ssync.daemon.rollout.PodProgress progress = new io.k8ssync.daemon.rollout.PodProgress();
  private final Dispatcher dispatcher;
  private final Map<String, ClusterInformers> informers = new LinkedHashMap<>();
  private final List<KubernetesClient> ownedClients = new ArrayList<>();
  private final DaemonConfig.LeaderElectionSpec leaderSpec;
  /** One Lease per cluster; empty without leader election. */
  private final Map<String, LeaderElection> elections = new LinkedHashMap<>();
  /** The clusters whose changes this replica applies now (all of them without leader election). */
  private final java.util.Set<String> led = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** Per cluster, how many times this replica started leading it (see {@link SinkContext#leadershipTerm}). */
  private final Map<String, java.util.concurrent.atomic.AtomicLong> terms = new java.util.concurrent.ConcurrentHashMap<>();
  private HealthServer http;
  private final DaemonConfig.RolloutSpec rollout;
  private io.k8ssync.daemon.rollout.RolloutController rolloutController;
  /** Per cluster, since when (epoch millis) this replica's sinks know all they did there: start, or the latest takeover. */
  private final Map<String, Long> knownSince = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, KubernetesClient> clusterClients = new java.util.concurrent.ConcurrentHashMap<>();
  private CompletableFuture<Void> synced = new CompletableFuture<>();
  /** The status API and page, and Events on pods (issue 20). */
  private io.k8ssync.daemon.status.Status status;

  /**
   * @param clients makes the client of each configured cluster; the daemon closes them
   * @param dryRun  forces dry-run on top of the config's {@code daemon.dryRun}
   */
  public Daemon(DaemonConfig config, SinkTypes sinkTypes, Function<DaemonConfig.ClusterSpec, KubernetesClient> clients,
                boolean dryRun) {
    this.config = config;
    this.sinkTypes = sinkTypes;
    this.clients = clients;
    this.dryRun = dryRun || config.dryRun();
    this.metrics = new DaemonMetrics(new PrometheusRegistry());
    this.dispatcher = new Dispatcher(metrics);
    DaemonConfig.LeaderElectionSpec le = config.leaderElection();
    this.rollout = config.rollout(s -> sinkTypes.get(s.type()).routesTraffic());
    // One identity for all of this replica's Leases (a derived one has a random part). It carries
    // the URL standbys forward offline waits to, when this replica has one to advertise.
    this.leaderSpec = le == null ? null : new DaemonConfig.LeaderElectionSpec(le.namespace(),
        le.leaseName(), LeaderElection.withUrl(le.identity() != null ? le.identity() : LeaderElection.defaultIdentity(), rollout.advertiseUrl()),
        le.leaseDuration(), le.renewDeadline(), le.retryPeriod(), le.standbyRetention());
  }

  /** Starts sinks, the HTTP endpoints, then the informers. Fails if a sink cannot start. */
  public void start() throws SinkException, IOException {
    if (!state.compareAndSet(State.LATENT, State.STARTED)) {
      throw new IllegalStateException("already started or closed");
    }
    String version = String.valueOf(Daemon.class.getPackage().getImplementationVersion());
    metrics.buildInfo.labelValues(version).set(1);
    LOG.info("k8s-sync starting: version={} clusters={} sinks={} dryRun={}", version,
        config.clusters().size(), config.sinks().size(), dryRun);

    for (DaemonConfig.SinkSpec spec : config.sinks()) {
      io.k8ssync.sink.SinkFactory factory = sinkTypes.get(spec.type());
      Sink sink = factory.create(context(spec, factory.appliesOnEveryReplica()));
      try {
        sink.start();
      } catch (SinkException | RuntimeException e) {
        sink.close();
        throw e;
      }
      SinkRunner runner = new SinkRunner(spec.name(), sink, spec.selector(), config.runnerSettings(spec, dryRun),
          dispatcher.timer(), metrics);
      if (factory.appliesOnEveryReplica()) {
        runner.applyOnEveryReplica();
      }
      runner.reportTo(progress.forSink(spec.name()), factory.routesTraffic());
      dispatcher.add(runner);
      LOG.info("sink started: sink={} type={} selector={}", spec.name(), spec.type(), spec.selector());
    }
    cache.addListener(dispatcher);
    rolloutController = io.k8ssync.daemon.rollout.RolloutController.create(config, rollout, dispatcher, cache, progress,
        led::contains, cluster -> knownSince.getOrDefault(cluster, Long.MAX_VALUE), clusterClients::get, metrics);
    status = new io.k8ssync.daemon.status.Status(config.status(), new io.k8ssync.daemon.status.StatusSource(cache, progress,
        dispatcher, config.sinks(), replica()), metrics.registry());
    status.start(clusterClients::get);
    dispatcher.everyReplicaLeads(config.clusters().stream().map(c -> c.scope().cluster()).toList());
    if (leaderSpec != null) {
      // A standby for every cluster from the start: its changes queue up until its Lease is ours.
      dispatcher.leadWhere(led::contains);
      // What came since the old leader's last renewal, it most likely never applied: written first at a takeover.
      dispatcher.replayFreshFirst(LeaderElection.freshWindow(leaderSpec));
      Duration retention = leaderSpec.standbyRetention();
      long every = Math.max(100, retention.toMillis() / 4);
      dispatcher.timer().scheduleWithFixedDelay(() -> {
        try {
          dispatcher.expireStandby(retention);
        } catch (RuntimeException e) {
          LOG.warn("standby queue expiry failed, next period tries again", e);
        }
      }, every, every, TimeUnit.MILLISECONDS);
    } else {
      config.clusters().forEach(c -> led.add(c.scope().cluster()));
      config.clusters().forEach(c -> knownSince.put(c.scope().cluster(), System.currentTimeMillis()));
      // Without leader election this replica leads every cluster, in term 0, from the start.
      config.clusters().forEach(c -> dispatcher.leadershipChanged(c.scope().cluster(), 0, true));
    }
    config.clusters().forEach(c -> metrics.leader.labelValues(c.scope().cluster()).set(led.contains(c.scope().cluster()) ? 1 : 0));
    dispatcher.start();

    metrics.gauge("cache_pods", "Pods in the in-memory cache", cache::size);
    metrics.gaugePerKey("informer_synced", "1 once the cluster's informers delivered their initial list",
        "cluster", informers, i -> i.synced() ? 1 : 0);
    metrics.gaugePerKey("informer_watching", "1 while every informer of the cluster has an open watch",
        "cluster", informers, i -> i.watching() ? 1 : 0);

    http = new HealthServer(config.httpHost(), config.httpPort(), metrics, this::readiness);
    routes(http);
    http.start();
    LOG.info("http endpoints up: port={} paths=/metrics,/healthz,/readyz", http.port());

    List<CompletableFuture<Void>> starts = new ArrayList<>();
    for (DaemonConfig.ClusterSpec spec : config.clusters()) {
      KubernetesClient client = clients.apply(spec);
      ownedClients.add(client);
      clusterClients.put(spec.scope().cluster(), client);
      ClusterInformers ci = rolloutController == null || rolloutController.rules().equals(io.k8ssync.daemon.informer.RolloutRules.OFF)
          ? new ClusterInformers(spec.scope(), client, config.podRules(), cache, metrics, spec.relist())
          : new ClusterInformers(spec.scope(), client, config.podRules(), cache, metrics, spec.relist(), rolloutController.rules(),
              rolloutController::marks);
      informers.put(spec.scope().cluster(), ci);
    }
    cache.syncedWhen(() -> !informers.isEmpty() && informers.values().stream().allMatch(ClusterInformers::synced));
    informers.forEach((cluster, ci) -> starts.add(ci.start().thenRun(() -> dispatcher.initialListDone(cluster))));
    synced = CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new))
        .thenRun(() -> {
          LOG.info("all informers synced: pods={}", cache.size());
          dispatcher.podsSynced();
        });
    if (rolloutController != null) {
      rolloutController.waits().routing(clusterClients.keySet(), led::contains, cluster -> {
        LeaderElection e = elections.get(cluster);
        return e == null ? null : LeaderElection.urlOf(e.leader());
      });
    }
    if (leaderSpec != null) {
      clusterClients.forEach((cluster, client) -> {
        LeaderElection election = new LeaderElection(cluster, client, leaderSpec, new LeaderElection.Listener() {
          @Override public void startedLeading() {
            long term = terms.computeIfAbsent(cluster, c -> new java.util.concurrent.atomic.AtomicLong()).incrementAndGet();
            knownSince.put(cluster, System.currentTimeMillis());
            // The sinks learn the new term before the cluster counts as led: none of its changes is applied before.
            dispatcher.tellLeadership(cluster, term, true);
            led.add(cluster);
            metrics.leaderTransitions.labelValues(cluster, "leader").inc();
            metrics.leader.labelValues(cluster).set(1);
            dispatcher.releaseHeld();
            if (rolloutController != null) {
              rolloutController.leadershipChanged(cluster, true);
            }
          }

          @Override public void stoppedLeading() {
            led.remove(cluster);
            metrics.leader.labelValues(cluster).set(0);
            metrics.leaderTransitions.labelValues(cluster, "standby").inc();
            dispatcher.leadershipChanged(cluster, leadershipTerm(cluster), false);
            dispatcher.runners().stream().filter(r -> !r.appliesOnEveryReplica())
                .forEach(r -> progress.forgetCluster(r.name(), cluster));
            if (rolloutController != null) {
              rolloutController.leadershipChanged(cluster, false);
            }
          }
        });
        elections.put(cluster, election);
        election.start();
      });
    }
  }

  /** The daemon's own endpoints beside /metrics, /healthz and /readyz. */
  private void routes(HealthServer server) {
    if (rolloutController != null && rollout.offlineWait()) {
      server.route("/v1/offline-wait", rolloutController.waits());
    }
    status.routes(server);
  }

  /** This replica as the status API tells it: its role, identity and who leads each cluster. */
  private io.k8ssync.daemon.status.StatusSource.Replica replica() {
    return new io.k8ssync.daemon.status.StatusSource.Replica() {
      @Override public String role() {
        return leaderSpec == null ? "single" : led.size() == elections.size() && !led.isEmpty() ? "leader"
            : led.isEmpty() ? "standby" : "partial";
      }
      @Override public String identity() { return leaderSpec == null ? null : leaderSpec.identity(); }
      @Override public Map<String, String> leaders() {
        Map<String, String> m = new LinkedHashMap<>();
        elections.forEach((cluster, e) -> m.put(cluster, e.leader()));
        return m;
      }
      @Override public boolean leads(String cluster) { return led.contains(cluster); }
      @Override public boolean dryRun() { return dryRun; }
      @Override public long leadingSinceMillis(String cluster) { return knownSince.getOrDefault(cluster, Long.MIN_VALUE); }
    };
  }

  /** True while this instance applies the changes of at least one cluster: always without leader election. */
  public boolean leading() {
    return !led.isEmpty();
  }

  /** How many times this instance started leading {@code cluster}: its current term (0 without leader election). */
  public long leadershipTerm(String cluster) {
    java.util.concurrent.atomic.AtomicLong term = terms.get(cluster);
    return term == null ? 0 : term.get();
  }

  /** True while this instance applies the changes of {@code cluster}. */
  public boolean leading(String cluster) {
    return led.contains(cluster);
  }

  /**
   * How long a write for {@code cluster} may take from now and still end before another replica
   * may hold its Lease (see {@link SinkContext#writeBudget}); zero once the renewal is overdue,
   * even before the elector reports the loss.
   */
  public Duration writeBudget(String cluster) {
    if (!led.contains(cluster)) {
      return Duration.ZERO;
    }
    LeaderElection e = elections.get(cluster);
    return e == null ? SinkContext.FOREVER : e.writeBudget();
  }

  private SinkContext context(DaemonConfig.SinkSpec spec, boolean everyReplica) {
    SinkMetrics sinkMetrics = metrics.forSink(spec.name());
    boolean dry = dryRun;
    io.k8ssync.sink.Progress reports = progress.forSink(spec.name());
    java.util.Set<String> all = config.clusters().stream().map(c -> c.scope().cluster())
        .collect(java.util.stream.Collectors.toUnmodifiableSet());
    // Sinks reconcile, re-assert and purge only once synced: a standby never counts as synced.
    PodStateView view = new PodStateView() {
      @Override public boolean synced() { return cache.synced() && (everyReplica || leading()); }
      @Override public boolean current() {
        return synced() && informers.values().stream().allMatch(ClusterInformers::watching);
      }
      // All pods: reconcile narrows them with pods(clusters()) to the clusters it may touch.
      @Override public Collection<PodState> pods() { return cache.pods(); }
      @Override public Collection<PodState> podsOfService(String service) { return cache.podsOfService(service); }
      @Override public Collection<PodState> podsWithIp(String ip) { return cache.podsWithIp(ip); }
    };
    return new SinkContext() {
      @Override public String name() { return spec.name(); }
      @Override public Config config() { return spec.config(); }
      @Override public Selector selector() { return spec.selector(); }
      @Override public boolean dryRun() { return dry; }
      @Override public SinkMetrics metrics() { return sinkMetrics; }
      @Override public PodStateView pods() { return view; }
      @Override public Clock clock() { return Clock.systemUTC(); }
      @Override public io.k8ssync.sink.Progress progress() { return reports; }
      // A sink of local state applies every cluster on every replica, in term 0.
      @Override public java.util.Set<String> clusters() { return everyReplica ? all : java.util.Set.copyOf(led); }
      @Override public long leadershipTerm(String cluster) { return everyReplica ? 0 : Daemon.this.leadershipTerm(cluster); }
      @Override public boolean leads(String cluster) { return everyReplica ? all.contains(cluster) : !writeBudget(cluster).isZero(); }
      @Override public Duration writeBudget(String cluster) {
        return everyReplica ? (all.contains(cluster) ? FOREVER : Duration.ZERO) : Daemon.this.writeBudget(cluster);
      }
      @Override public boolean changePending(PodState state) {
        SinkRunner r = dispatcher.runner(spec.name());
        return r != null && r.queue().onItsWay(state);
      }
    };
  }

  /** Completes when every informer has delivered its initial list. */
  public CompletableFuture<Void> synced() {
    return synced;
  }

  public PodStateCache cache() {
    return cache;
  }

  /** The status API and page, and the pod Events recorder. */
  public io.k8ssync.daemon.status.Status status() {
    return status;
  }

  /** Where each pod stands in each sink, as the sinks reported it. */
  public io.k8ssync.daemon.rollout.PodProgress progress() {
    return progress;
  }

  public Dispatcher dispatcher() {
    return dispatcher;
  }

  public DaemonMetrics metrics() {
    return metrics;
  }

  public int httpPort() {
    return http.port();
  }

  HealthServer.Readiness readiness() {
    ObjectMapper json = new ObjectMapper();
    ObjectNode body = json.createObjectNode();
    boolean ready = state.get() == State.STARTED;
    ObjectNode clusters = body.putObject("clusters");
    for (ClusterInformers ci : informers.values()) {
      // Ready means listed and still watching: a lost watch means changes are not arriving.
      boolean s = ci.synced();
      boolean w = ci.watching();
      String error = ci.lastError();
      String status = s && w ? "synced" : s ? "not watching" : "syncing";
      clusters.put(ci.cluster(), error == null ? status : status + ": " + error);
      ready &= s && w;
    }
    ready &= !informers.isEmpty();
    body.put("role", leaderSpec == null ? "single" : led.size() == elections.size() && !led.isEmpty() ? "leader"
        : led.isEmpty() ? "standby" : "partial");
    if (!elections.isEmpty()) {
      body.put("identity", elections.values().iterator().next().identity());
      ObjectNode leaders = body.putObject("leaders");
      elections.forEach((cluster, e) -> leaders.put(cluster, e.leader()));
    }
    ArrayNode failing = body.putArray("failingSinks");
    for (SinkRunner r : dispatcher.runners()) {
      if (r.failing()) {
        failing.add(r.name());
        ready = false;
      }
    }
    body.put("ready", ready);
    return new HealthServer.Readiness(ready, body.toString());
  }

  /** Stops intake, drains the sink queues up to the configured deadline, closes sinks and clients. */
  @Override
  public void close() {
    State prior = state.getAndSet(State.CLOSED);
    if (prior == State.CLOSED) {
      return;
    }
    LOG.info("shutting down: draining sink queues for up to {}ms", config.shutdownTimeout().toMillis());
    if (http != null) {
      http.shuttingDown();
    }
    if (rolloutController != null) {
      rolloutController.close(); // open waits get 503 and ask another replica
    }
    informers.values().forEach(ClusterInformers::close);
    if (prior == State.STARTED) {
      dispatcher.shutdown(config.shutdownTimeout());
    }
    if (status != null) {
      status.close();
    }
    // Only now, with the queues drained, hand the Lease over: a standby then takes over at once.
    elections.values().forEach(LeaderElection::close);
    config.clusters().forEach(c -> metrics.leader.labelValues(c.scope().cluster()).set(0));
    ownedClients.forEach(KubernetesClient::close);
    if (http != null) {
      http.close();
    }
    LOG.info("shut down");
  }
}

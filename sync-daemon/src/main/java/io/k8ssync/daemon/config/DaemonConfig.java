package io.k8ssync.daemon.config;

import static io.k8ssync.sink.config.ConfigDef.Type.BOOLEAN;
import static io.k8ssync.sink.config.ConfigDef.Type.DOUBLE;
import static io.k8ssync.sink.config.ConfigDef.Type.DURATION;
import static io.k8ssync.sink.config.ConfigDef.Type.INT;
import static io.k8ssync.sink.config.ConfigDef.Type.LONG;
import static io.k8ssync.sink.config.ConfigDef.Type.RAW_OBJECT;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING_LIST;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING_MAP;

import io.k8ssync.daemon.dispatch.QueueBudget;
import io.k8ssync.daemon.dispatch.RetryBackoff;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.daemon.informer.ClusterInformers;
import io.k8ssync.daemon.informer.PodRules;
import io.k8ssync.daemon.informer.RelistGuard;
import io.k8ssync.daemon.status.StatusSettings;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Validator;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The daemon's config file, declared once. Each key has a type, a default, a check and a line of
 * documentation; {@code k8s-sync config-reference} prints them (the README's reference is that
 * output). Sink-specific keys are declared by each {@link io.k8ssync.sink.SinkFactory}.
 */
public final class DaemonConfig {

  static final String NAME = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
  static final String NAME_DOC = "a lowercase name of letters, digits and '-' (at most 63)";
  static final String K8S_NAME = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
  static final String LABEL_KEY = "([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?";

  static final ConfigDef HTTP = new ConfigDef()
      .define("host", STRING, "0.0.0.0", "address the /metrics, /healthz and /readyz server binds")
      .define("port", INT, 9464, Validator.between(0, 65535), "port of that server; 0 picks a free one");

  static final ConfigDef DAEMON = new ConfigDef()
      .define("dryRun", BOOLEAN, false, "log what every sink would do and change nothing (also --dry-run)")
      .section("http", HTTP, "the metrics and health endpoints")
      .define("shutdownTimeout", DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ZERO),
          "on SIGTERM, how long to keep draining sink queues before exiting");

  static final ConfigDef CLUSTER = new ConfigDef()
      .required("name", STRING, Validator.matches(NAME, NAME_DOC), "cluster name, used in keys, metrics and ownership marks")
      .define("inCluster", BOOLEAN, false, "use the pod's service account (when running inside the cluster)")
      .define("kubeconfig", STRING, null, "path of a kubeconfig file; default: $KUBECONFIG or ~/.kube/config")
      .define("context", STRING, null, "kubeconfig context; default: the current context")
      .define("namespaces", STRING_LIST, List.of(), Validator.matches(K8S_NAME, "namespace names"),
          "namespaces to watch; empty watches all")
      .define("labelSelector", STRING, null, "only pods matching this label selector, e.g. 'tier in (web,rpc)'")
      .define("resync", DURATION, Duration.ZERO, "informer resync period; 0 (default) turns it off")
      .define("listPageSize", LONG, 500L, Validator.between(1, 100_000), "pods per page of the initial list")
      .define("relistRemovalShare", DOUBLE, RelistGuard.Settings.DEFAULTS.share(),
          v -> (Double) v > 0 && (Double) v <= 1 ? null : "a share above 0 and at most 1",
          "a relist that would remove more than this share of the cached pods is held (nothing goes offline) until a new list confirms; 1 turns the guard off")
      .define("relistConfirmAfter", DURATION, RelistGuard.Settings.DEFAULTS.confirmAfter(), Validator.durationAtLeast(Duration.ofMillis(100)),
          "how long after a held relist a new list confirms the removals");

  static final ConfigDef PODS = new ConfigDef()
      .define("serviceLabel", STRING, "app", Validator.matches(LABEL_KEY, "a label key"),
          "label naming the logical service; the annotation " + PodRules.SERVICE_ANNOTATION + " overrides it")
      .define("keepLabels", STRING_LIST, List.of(), Validator.matches(LABEL_KEY, "label keys"),
          "label keys copied onto each pod's state for sinks to use")
      .define("keepAnnotations", STRING_LIST, List.of(), Validator.matches(LABEL_KEY, "annotation keys"),
          "annotation keys copied onto each pod's state (values are validated)")
      .define("defaultWeight", INT, 1, Validator.between(PodRules.MIN_WEIGHT, PodRules.MAX_WEIGHT),
          "weight of a pod without " + PodRules.WEIGHT_ANNOTATION);

  static final ConfigDef RETRY = new ConfigDef()
      .define("baseDelay", DURATION, RetryBackoff.Settings.DEFAULTS.base(), Validator.durationAtLeast(Duration.ofMillis(1)),
          "first retry delay of a key; doubles on each failure")
      .define("maxDelay", DURATION, RetryBackoff.Settings.DEFAULTS.max(), Validator.durationAtLeast(Duration.ofMillis(1)),
          "cap of the per-key delay")
      .define("jitter", DOUBLE, RetryBackoff.Settings.DEFAULTS.jitter(),
          v -> (Double) v >= 0 && (Double) v < 1 ? null : "a number from 0 up to (not including) 1",
          "each delay is shortened by a random fraction up to this")
      .define("ratePerSecond", DOUBLE, RetryBackoff.Settings.DEFAULTS.ratePerSecond(),
          v -> (Double) v > 0 ? null : "a positive number", "overall retries per second of one sink")
      .define("burst", INT, RetryBackoff.Settings.DEFAULTS.burst(), Validator.atLeast(1), "retries allowed at once above that rate");

  static final double DEFAULT_QUEUE_HEAP_SHARE = 0.2;

  static final ConfigDef DISPATCH = new ConfigDef()
      .define("workers", INT, 2, Validator.between(1, 256), "worker threads per sink (one pod is never processed twice at once)")
      .define("queueCapacity", INT, null, Validator.atLeast(1),
          "changes per sink queue before new ones are dropped (counted, logged), and as many again held for another replica's"
              + " clusters; unset: " + QueueBudget.MERGED_DEFAULT + " pods for a sink whose queue merges a pod's changes (up to "
              + QueueBudget.BYTES_PER_MERGED_POD + " bytes each), and queueHeapShare of the heap for one that keeps every change"
              + " (kafka; " + QueueBudget.BYTES_PER_KEPT_CHANGE + " bytes each, at least " + QueueBudget.MIN_KEPT + ")")
      .define("queueHeapShare", DOUBLE, DEFAULT_QUEUE_HEAP_SHARE, v -> (Double) v > 0 && (Double) v <= 1 ? null : "a share above 0 and at most 1",
          "share of the maximum heap (-Xmx) that the default queue of a sink keeping every change may fill, held changes"
              + " included (with leader election each kind gets half)")
      .define("failingThreshold", INT, 5, Validator.atLeast(1), "failed applies in a row before a sink counts as failing in /readyz")
      .section("retry", RETRY, "retry backoff of failed changes");

  static final ConfigDef SELECTOR = new ConfigDef()
      .define("namespaces", STRING_LIST, List.of(), Validator.matches(K8S_NAME, "namespace names"), "only pods of these namespaces")
      .define("services", STRING_LIST, List.of(), "only pods of these logical services")
      .define("labels", STRING_MAP, java.util.Map.of(), "only pods with these label values (keys are kept automatically)");

  static final ConfigDef READINESS_GATE = new ConfigDef()
      .define("enabled", BOOLEAN, false, "set the readiness gate condition of pods that list it (needs patch on pods/status)")
      .define("conditionType", STRING, "k8s-sync.io/online", Validator.matches(LABEL_KEY, "a condition type such as example.com/online"),
          "the readiness gate's condition type; a pod lists it under spec.readinessGates")
      .define("stuckAfter", DURATION, Duration.ofMinutes(2), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "a gated pod whose containers have been ready this long without its gate True counts as stuck (metric, alert)")
      .define("failOpenAfter", DURATION, Duration.ZERO, Validator.durationAtLeast(Duration.ZERO),
          "set the gate True anyway after this long (reason FailOpen); 0 (default) never does: a rollout waits rather than send a pod no sink has online");

  static final ConfigDef OFFLINE_WAIT = new ConfigDef()
      .define("enabled", BOOLEAN, true, "serve /v1/offline-wait, which a preStop hook calls to wait until its pod is offline everywhere")
      .define("maxWaiters", INT, 512, Validator.between(1, 100_000), "waits answered at once; more get 429")
      .define("maxTimeout", DURATION, Duration.ofMinutes(10), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "the longest timeout a wait may ask for")
      .define("advertiseUrl", STRING, null, Validator.matches("https?://[A-Za-z0-9.\\[\\]:-]+(:[0-9]{1,5})?", "an http(s) URL of scheme, host and port"),
          "how other replicas reach this one's http server, to forward waits to the leader; default http://$POD_IP:<port> when POD_IP is set");

  static final ConfigDef KRUISE = new ConfigDef()
      .define("enabled", BOOLEAN, false, "follow OpenKruise lifecycle hooks (lifecycle.apps.kruise.io/state) of CloneSet and Advanced StatefulSet pods (needs patch on pods)")
      .define("hookLabel", STRING, "k8s-sync.io/traffic-hook", Validator.matches(LABEL_KEY, "a label key"),
          "the label the workload's lifecycle labelsHandler names; k8s-sync sets it once a pod is online and removes it once offline")
      .define("hookValue", STRING, "true", Validator.matches("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)", "a label value"),
          "the value in that labelsHandler");

  static final ConfigDef ROLLOUT = new ConfigDef()
      .define("sinks", STRING_LIST, List.of(), Validator.matches(NAME, NAME_DOC),
          "the sinks a rollout waits for; empty: every sink that routes traffic (zookeeper, consul, http, nginx)")
      .section("readinessGate", READINESS_GATE, "online side: a pod turns Ready once the sinks have it online")
      .section("offlineWait", OFFLINE_WAIT, "offline side: a preStop hook waits until the sinks have the pod offline")
      .section("kruise", KRUISE, "OpenKruise lifecycle hooks: cut traffic, then let the pod go");

  static final ConfigDef STATUS_EVENTS = new ConfigDef()
      .define("enabled", BOOLEAN, true, "record Kubernetes Events on pods (kubectl describe pod): Normal when a sink puts a pod"
          + " online, draining or offline, Warning when one keeps failing for it or gives up on it, or when the pod is rejected;"
          + " only the leader of the pod's cluster records; needs create and patch on events")
      .define("failingAfter", INT, StatusSettings.Events.DEFAULTS.failingAfter(), Validator.between(1, 1000),
          "failed attempts in a row of one sink for one pod before a Warning")
      .define("perPodBurst", INT, StatusSettings.Events.DEFAULTS.perPodBurst(), Validator.between(1, 1000),
          "Events one pod may get at once (as client-go's EventRecorder)")
      .define("perPodRefill", DURATION, StatusSettings.Events.DEFAULTS.perPodRefill(), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "after that burst, one more Event per pod per this period; repeats in between only raise the Event's count")
      .define("ratePerSecond", DOUBLE, StatusSettings.Events.DEFAULTS.ratePerSecond(), v -> (Double) v > 0 ? null : "a positive number",
          "Events per second over all pods")
      .define("burst", INT, StatusSettings.Events.DEFAULTS.burst(), Validator.atLeast(1), "Events at once over all pods above that rate")
      .define("queueCapacity", INT, StatusSettings.Events.DEFAULTS.queueCapacity(), Validator.between(1, 1_000_000),
          "Events waiting for the API server before new ones are dropped (counted, logged); a sink never waits for them");

  static final ConfigDef STATUS = new ConfigDef()
      .define("enabled", BOOLEAN, true, "serve the status page at / and the read-only API under /v1 (pods, services, sinks) on the"
          + " daemon's http port; they show pod names, IPs and nodes, as kubectl get pods -o wide does")
      .define("localhostOnly", BOOLEAN, false, "answer the status page and API only to clients on a loopback address (kubectl"
          + " port-forward, curl on the host); /metrics and the probes stay open")
      .section("events", STATUS_EVENTS, "Kubernetes Events on pods, aggregated and rate-limited like client-go's EventRecorder");

  static final ConfigDef SINK = new ConfigDef()
      .required("name", STRING, Validator.matches(NAME, NAME_DOC), "unique sink name, used in metrics and logs")
      .required("type", STRING, Validator.nonEmpty(), "sink type, e.g. log (see the sink sections)")
      .define("workers", INT, null, Validator.between(1, 256), "override dispatch.workers for this sink")
      .define("queueCapacity", INT, null, Validator.atLeast(1), "override dispatch.queueCapacity for this sink")
      .section("selector", SELECTOR, "which pods this sink manages; empty matches all")
      .define("propagationDelay", DURATION, Duration.ZERO, Validator.durationAtLeast(Duration.ZERO),
          "how long this sink's consumers may still send traffic after it took a pod offline (nginx-upsync: upsync_interval + 1s); an offline wait waits it out")
      .define("config", RAW_OBJECT, null, "the sink's own settings, checked against its type");

  static final ConfigDef LEADER_ELECTION = new ConfigDef()
      .define("enabled", BOOLEAN, false,
          "run several replicas: per cluster, only the holder of that cluster's Kubernetes Lease writes its pods to sinks")
      .define("namespace", STRING, "k8s-sync", Validator.matches(K8S_NAME, "a namespace name"),
          "namespace of the Lease, in each watched cluster")
      .define("leaseName", STRING, "k8s-sync", Validator.matches(K8S_NAME, "a Lease name"),
          "the Leases are named <leaseName>-<cluster>; one name per group of replicas that share the sinks")
      .define("identity", STRING, null, Validator.nonEmpty(), "this replica's name in the Lease; default: $POD_NAME, else host name and a random suffix")
      .define("leaseDuration", DURATION, Duration.ofSeconds(15), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "how long a standby waits after the last renewal before it takes over")
      .define("renewDeadline", DURATION, Duration.ofSeconds(10), Validator.durationAtLeast(Duration.ofMillis(500)),
          "a leader that could not renew for this long stops writing; below leaseDuration")
      .define("retryPeriod", DURATION, Duration.ofSeconds(2), Validator.durationAtLeast(Duration.ofMillis(100)),
          "how often to try to acquire or renew; below renewDeadline")
      .define("standbyRetention", DURATION, Duration.ofMinutes(2), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "a standby keeps the changes of this last period queued, so a takeover replays what the old leader may have missed");

  public static final ConfigDef ROOT = new ConfigDef()
      .section("daemon", DAEMON, "process-wide settings")
      .section("leaderElection", LEADER_ELECTION, "high availability through a Kubernetes Lease (off by default)")
      .sectionList("clusters", CLUSTER, true, "the Kubernetes clusters to watch")
      .section("pods", PODS, "how pods state their identity")
      .section("dispatch", DISPATCH, "the per-sink work queues")
      .section("rollout", ROLLOUT, "lossless rollouts: Kubernetes waits for k8s-sync (readiness gate, preStop offline wait, Kruise hooks)")
      .section("status", STATUS, "is my pod online, and if not, why: the status page and API, and Events on pods")
      .sectionList("sinks", SINK, true, "where pod state goes");

  /** A configured sink, its own config already validated by its factory. */
  public record SinkSpec(String name, String type, Selector selector, Integer workers, Integer queueCapacity, Config config,
                         Duration propagationDelay) {
    public SinkSpec(String name, String type, Selector selector, Integer workers, Config config) {
      this(name, type, selector, workers, null, config, Duration.ZERO);
    }

    public SinkSpec(String name, String type, Selector selector, Integer workers, Integer queueCapacity, Config config) {
      this(name, type, selector, workers, queueCapacity, config, Duration.ZERO);
    }
  }

  /** A configured cluster. */
  public record ClusterSpec(ClusterInformers.Scope scope, boolean inCluster, String kubeconfig, String context,
                            RelistGuard.Settings relist) {}

  private final Config root;
  private final List<SinkSpec> sinks;

  DaemonConfig(Config root, List<SinkSpec> sinks) {
    this.root = root;
    this.sinks = sinks;
  }

  public boolean dryRun() {
    return root.getSection("daemon").getBoolean("dryRun");
  }

  public String httpHost() {
    return root.getSection("daemon").getSection("http").getString("host");
  }

  public int httpPort() {
    return root.getSection("daemon").getSection("http").getInt("port");
  }

  public Duration shutdownTimeout() {
    return root.getSection("daemon").getDuration("shutdownTimeout");
  }

  public List<ClusterSpec> clusters() {
    return root.getSections("clusters").stream().map(c -> new ClusterSpec(
        new ClusterInformers.Scope(c.getString("name"), c.getList("namespaces"), c.getString("labelSelector"),
            c.getDuration("resync"), c.getLong("listPageSize")),
        c.getBoolean("inCluster"), c.getString("kubeconfig"), c.getString("context"),
        new RelistGuard.Settings(c.getDouble("relistRemovalShare"), c.getDuration("relistConfirmAfter")))).toList();
  }

  /** Pod rules; label keys that sink selectors use are kept so the selectors can see them. */
  public PodRules podRules() {
    Config pods = root.getSection("pods");
    Set<String> keep = new HashSet<>(pods.getList("keepLabels"));
    sinks.forEach(s -> keep.addAll(s.selector().labels().keySet()));
    return new PodRules(pods.getString("serviceLabel"), keep, Set.copyOf(pods.getList("keepAnnotations")),
        pods.getInt("defaultWeight"));
  }

  /** Leader election settings; null when it is off. */
  public LeaderElectionSpec leaderElection() {
    Config le = root.getSection("leaderElection");
    if (!le.getBoolean("enabled")) {
      return null;
    }
    return new LeaderElectionSpec(le.getString("namespace"), le.getString("leaseName"), le.getString("identity"),
        le.getDuration("leaseDuration"), le.getDuration("renewDeadline"), le.getDuration("retryPeriod"),
        le.getDuration("standbyRetention"));
  }

  /** Where each cluster's Lease lives and its timings; identity null means "derive one". */
  public record LeaderElectionSpec(String namespace, String leaseName, String identity,
                                   Duration leaseDuration, Duration renewDeadline, Duration retryPeriod,
                                   Duration standbyRetention) {}

  /** The rollout settings; its sink list is already resolved (never empty when a feature is on and a sink routes traffic). */
  public record RolloutSpec(List<String> sinks, String gateCondition, Duration stuckAfter, Duration failOpenAfter,
                            boolean offlineWait, int maxWaiters, Duration maxTimeout, String advertiseUrl,
                            String hookLabel, String hookValue) {
    public boolean gateOn() {
      return gateCondition != null;
    }

    public boolean kruiseOn() {
      return hookLabel != null;
    }
  }

  /**
   * The rollout settings, with {@code sinks} resolved against {@code routesTraffic} (whether a
   * sink's type routes traffic) when the config leaves it empty.
   */
  public RolloutSpec rollout(java.util.function.Predicate<SinkSpec> routesTraffic) {
    Config r = root.getSection("rollout");
    Config gate = r.getSection("readinessGate");
    Config wait = r.getSection("offlineWait");
    Config kruise = r.getSection("kruise");
    List<String> names = r.getList("sinks").isEmpty()
        ? sinks.stream().filter(routesTraffic).map(SinkSpec::name).toList() : List.copyOf(r.getList("sinks"));
    String url = wait.getString("advertiseUrl");
    if (url == null && System.getenv("POD_IP") != null && !System.getenv("POD_IP").isEmpty()) {
      String ip = System.getenv("POD_IP");
      url = "http://" + (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + httpPort();
    }
    return new RolloutSpec(names, gate.getBoolean("enabled") ? gate.getString("conditionType") : null,
        gate.getDuration("stuckAfter"), gate.getDuration("failOpenAfter"), wait.getBoolean("enabled"), wait.getInt("maxWaiters"),
        wait.getDuration("maxTimeout"), url, kruise.getBoolean("enabled") ? kruise.getString("hookLabel") : null,
        kruise.getString("hookValue"));
  }

  /** The status page, API and pod Events settings. */
  public StatusSettings status() {
    Config s = root.getSection("status");
    Config e = s.getSection("events");
    return new StatusSettings(s.getBoolean("enabled"), s.getBoolean("localhostOnly"), new StatusSettings.Events(
        e.getBoolean("enabled"), e.getInt("queueCapacity"), e.getInt("perPodBurst"), e.getDuration("perPodRefill"),
        e.getDouble("ratePerSecond"), e.getInt("burst"), e.getInt("failingAfter")));
  }

  public List<SinkSpec> sinks() {
    return sinks;
  }

  public SinkRunner.Settings runnerSettings(SinkSpec sink, boolean dryRun) {
    Config d = root.getSection("dispatch");
    Config r = d.getSection("retry");
    Integer capacity = sink.queueCapacity() != null ? sink.queueCapacity()
        : d.isSet("queueCapacity") ? Integer.valueOf(d.getInt("queueCapacity")) : null;
    // With leader election, held changes may fill as much again: each kind gets half the share.
    long heapBytes = (long) (Runtime.getRuntime().maxMemory() * d.getDouble("queueHeapShare") / (leaderElection() != null ? 2 : 1));
    return new SinkRunner.Settings(
        sink.workers() != null ? sink.workers() : d.getInt("workers"),
        capacity == null ? 0 : capacity,
        d.getInt("failingThreshold"),
        dryRun,
        new RetryBackoff.Settings(r.getDuration("baseDelay"), r.getDuration("maxDelay"), r.getDouble("jitter"),
            r.getDouble("ratePerSecond"), r.getInt("burst")),
        heapBytes);
  }
}

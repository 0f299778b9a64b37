package io.k8ssync.daemon.status;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.k8ssync.daemon.rollout.PodProgress;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes Events on pods, where {@code kubectl describe pod} shows them: Normal when a sink puts
 * the pod online, draining or offline; Warning when a sink keeps failing for it ({@code failingAfter}
 * attempts in a row) or gives up on it, and when k8s-sync rejects the pod's own values (the field,
 * never the value). Only the leader of the pod's cluster records.
 *
 * <p>A restart or a takeover is not news for a pod: a pod Ready since before this replica started
 * leading its cluster gets no "Online" when a sink first reports it online (the sinks re-assert every
 * pod at start: 135,000 such Events at once filled the queue and crowded out real ones). It is counted
 * ({@code ready_before_leading}); its later transitions get their Events as usual.
 *
 * <p>Never blocks a sink: the listeners only compare states and offer to a bounded queue (a full
 * queue drops, counted and logged once a minute); one thread, {@code k8s-events}, correlates
 * ({@link EventCorrelator}: aggregation, deduplication, rate limits per pod and overall) and writes
 * core/v1 Events through the pod's cluster client.
 *
 * <p>Thread rules: {@link #reported} runs on any sink thread, {@link #accept} on informer threads;
 * the per-sink last states are concurrent maps updated with {@code compute}; the correlator belongs
 * to the writer thread.
 */
public final class PodEvents implements PodProgress.Listener, java.util.function.Consumer<PodChange>, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(PodEvents.class);
  static final String COMPONENT = "k8s-sync";
  private static final long LOG_EVERY_MILLIS = 60_000;
  /** The Ready condition's time has whole seconds, from the node's clock: a pod counts as Ready before leading only this much before. */
  static final long READY_BEFORE_SLACK_MILLIS = 2_000;

  private final StatusSettings.Events settings;
  private final PodProgress progress;
  private final Map<String, String> sinkTypes;
  private final Predicate<String> leads;
  private final ToLongFunction<String> leadingSince;
  private final Function<String, PodState> pods;
  private volatile Function<String, KubernetesClient> clients;
  private final String instance;
  private final LongSupplier millis;
  private final BlockingQueue<EventCorrelator.Occurrence> queue;
  /** Per sink, per pod key: the last state recorded, for pods not offline (an offline pod's entry goes). */
  private final Map<String, Map<String, Last>> last = new ConcurrentHashMap<>();
  private final EventCorrelator correlator;
  private final Counter recorded;
  private final Counter dropped;
  private final Map<String, Long> loggedAt = new ConcurrentHashMap<>();
  private final Thread writer;
  private volatile boolean closed;

  private record Last(String uid, PodProgress.State state) {}

  /**
   * @param sinkTypes each sink's type, by name (for messages)
   * @param leads     true for the clusters this replica leads
   * @param leadingSince when this replica started leading a cluster (epoch millis; Long.MIN_VALUE when unknown)
   * @param pods      the cached state of a pod, by key
   * @param clients   the client of a cluster, or null while it has none
   * @param instance  this replica's identity, the Events' reporting instance
   */
  public PodEvents(StatusSettings.Events settings, PodProgress progress, Map<String, String> sinkTypes, Predicate<String> leads,
                   ToLongFunction<String> leadingSince, Function<String, PodState> pods, Function<String, KubernetesClient> clients, String instance, PrometheusRegistry registry, LongSupplier millis) {
    this.settings = settings;
    this.progress = progress;
    this.sinkTypes = Map.copyOf(sinkTypes);
    this.leads = leads;
    this.leadingSince = leadingSince;
    this.pods = pods;
    this.clients = clients;
    this.instance = instance;
    this.millis = millis;
    this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
    this.correlator = new EventCorrelator(settings, millis.getAsLong());
    this.recorded = Counter.builder().name("k8s_sync_pod_events_recorded_total")
        .help("Kubernetes Events written on pods (created or updated with a new count), by type and reason")
        .labelNames("type", "reason").register(registry);
    this.dropped = Counter.builder().name("k8s_sync_pod_events_dropped_total")
        .help("Pod Events not written, by reason (queue_full, rate_limited_pod, rate_limited, not_leader, api_error, shutdown;"
            + " ready_before_leading: no Online for a pod Ready before this replica led its cluster)")
        .labelNames("reason").register(registry);
    this.writer = new Thread(this::run, "k8s-events");
    this.writer.setDaemon(true);
  }

  public void start() {
    writer.start();
  }

  /** The client of each cluster; until set, Events wait in the queue. */
  void useClients(Function<String, KubernetesClient> clients) {
    this.clients = clients;
  }

  @Override
  public void reported(String podKey, String sink) {
    PodProgress.Entry e = progress.get(sink, podKey);
    if (e == null || closed) {
      return;
    }
    String cluster = podKey.substring(0, podKey.indexOf('/'));
    Map<String, Last> lastOfSink = last.computeIfAbsent(sink, s -> new ConcurrentHashMap<>());
    if (!leads.test(cluster)) {
      lastOfSink.remove(podKey);
      return;
    }
    EventCorrelator.Occurrence[] out = new EventCorrelator.Occurrence[1];
    boolean[] notNews = new boolean[1];
    lastOfSink.compute(podKey, (k, prev) -> {
      Last before = prev != null && prev.uid().equals(e.uid()) ? prev : null;
      PodProgress.State was = before == null ? PodProgress.State.OFFLINE : before.state();
      switch (e.state()) {
        case ONLINE -> {
          if (before == null && readyBeforeLeading(k, cluster, e)) {
            notNews[0] = true;
          } else if (was != PodProgress.State.ONLINE) {
            out[0] = occurrence(k, e, "Normal", "Online", sink,
                "Online in sink " + sink(sink) + (e.address() == null ? "" : " at " + e.address()));
          }
        }
        case DRAINING -> {
          if (was != PodProgress.State.DRAINING) {
            out[0] = occurrence(k, e, "Normal", "Draining", sink,
                "Draining in sink " + sink(sink) + ": no new traffic, waiting for requests in flight");
          }
        }
        case OFFLINE -> {
          if (was == PodProgress.State.ONLINE || was == PodProgress.State.DRAINING
              || (was == PodProgress.State.FAILING && e.wasOnline())) {
            out[0] = occurrence(k, e, "Normal", "Offline", sink, "Offline in sink " + sink(sink) + ": it sends the pod no traffic");
          }
          return null;
        }
        case FAILING -> {
          String error = ErrorText.forPeople(e.error());
          if (error != null && error.startsWith("dropped: ")) {
            out[0] = occurrence(k, e, "Warning", "SyncRejected", sink,
                "Sink " + sink(sink) + " gave up on this pod: " + error.substring("dropped: ".length()));
          } else if (e.attempts() >= settings.failingAfter()) {
            out[0] = occurrence(k, e, "Warning", "SyncFailing", sink,
                "Sink " + sink(sink) + " keeps failing for this pod, retrying: " + error);
          }
        }
        default -> { }
      }
      return new Last(e.uid(), e.state());
    });
    if (out[0] != null) {
      offer(out[0]);
    } else if (notNews[0]) {
      dropped.labelValues("ready_before_leading").inc();
    }
  }

  /** True when this incarnation of the pod was Ready before this replica started leading its cluster. */
  private boolean readyBeforeLeading(String podKey, String cluster, PodProgress.Entry e) {
    PodState pod = pods.apply(podKey);
    if (pod == null || !pod.uid().equals(e.uid()) || pod.readySinceMillis() <= 0) {
      return false;
    }
    long since = leadingSince.applyAsLong(cluster);
    return since != Long.MIN_VALUE && pod.readySinceMillis() + READY_BEFORE_SLACK_MILLIS <= since;
  }

  /** The cache's changes: a pod whose own values k8s-sync rejects gets a Warning (the field and why, never the value). */
  @Override
  public void accept(PodChange change) {
    PodState after = change.after();
    if (closed || after == null || !after.rejected() || !leads.test(after.cluster())) {
      return;
    }
    PodState before = change.before();
    if (before != null && before.uid().equals(after.uid()) && Objects.equals(before.rejection(), after.rejection())) {
      return;
    }
    offer(new EventCorrelator.Occurrence(after.cluster(), after.namespace(), after.name(), after.uid(), "Warning",
        "PodRejected", null, "k8s-sync registers this pod in no sink: " + after.rejection()));
  }

  private String sink(String name) {
    String type = sinkTypes.get(name);
    return type == null ? name : name + " (" + type + ")";
  }

  private static EventCorrelator.Occurrence occurrence(String podKey, PodProgress.Entry e, String type, String reason,
                                                       String sink, String message) {
    String[] parts = podKey.split("/", 3);
    return new EventCorrelator.Occurrence(parts[0], parts[1], parts[2], e.uid(), type, reason, sink, message);
  }

  private void offer(EventCorrelator.Occurrence o) {
    if (!queue.offer(o)) {
      dropped.labelValues("queue_full").inc();
      logSometimes("queue_full", "pod Events dropped: {} wait for the API server already (status.events.queueCapacity);"
          + " latest dropped: {} on {}/{}", settings.queueCapacity(), o.reason(), o.namespace(), o.pod());
    }
  }

  private void run() {
    while (!closed) {
      EventCorrelator.Occurrence o;
      try {
        o = queue.poll(500, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        break;
      }
      if (o == null) {
        continue;
      }
      try {
        record(o);
      } catch (RuntimeException e) {
        dropped.labelValues("api_error").inc();
        logSometimes("error", "pod Event not written: {} on {}/{}: {}", o.reason(), o.namespace(), o.pod(), String.valueOf(e));
      }
    }
    int left = queue.size();
    if (left > 0) {
      dropped.labelValues("shutdown").inc(left);
    }
  }

  private void record(EventCorrelator.Occurrence o) {
    if (!leads.test(o.cluster())) {
      dropped.labelValues("not_leader").inc();
      return;
    }
    KubernetesClient client = clients.apply(o.cluster());
    if (client == null) {
      dropped.labelValues("api_error").inc();
      return;
    }
    EventCorrelator.Decision d = correlator.observe(o, millis.getAsLong());
    if (d.write() == null) {
      dropped.labelValues(d.skipped()).inc();
      return;
    }
    EventCorrelator.Write w = d.write();
    try {
      if (!w.create()) {
        try {
          client.v1().events().inNamespace(o.namespace()).withName(w.name())
              .patch(PatchContext.of(PatchType.JSON_MERGE), patch(w));
          recorded.labelValues(o.type(), o.reason()).inc();
          return;
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) {
            throw e;
          }
          correlator.forgetWritten(w.name()); // expired (the API server's event TTL): write it anew
        }
      }
      client.v1().events().inNamespace(o.namespace()).resource(event(o, w)).create();
      recorded.labelValues(o.type(), o.reason()).inc();
    } catch (KubernetesClientException e) {
      dropped.labelValues("api_error").inc();
      String why = e.getCode() == 403 ? "forbidden (403): give k8s-sync's ServiceAccount create and patch on events"
          : "HTTP " + e.getCode() + ": " + e.getMessage();
      logSometimes("api " + o.cluster() + " " + e.getCode(), "pod Events in cluster {} not written: {}", o.cluster(), why);
    }
  }

  private Event event(EventCorrelator.Occurrence o, EventCorrelator.Write w) {
    return new EventBuilder()
        .withNewMetadata().withName(w.name()).withNamespace(o.namespace()).endMetadata()
        .withNewInvolvedObject().withApiVersion("v1").withKind("Pod").withNamespace(o.namespace()).withName(o.pod())
        .withUid(o.uid()).endInvolvedObject()
        .withType(o.type()).withReason(o.reason()).withMessage(w.message()).withCount(w.count())
        .withFirstTimestamp(time(w.firstMillis())).withLastTimestamp(time(w.lastMillis()))
        .withNewSource().withComponent(COMPONENT).endSource()
        .withReportingComponent(COMPONENT).withReportingInstance(instance)
        .build();
  }

  private static String patch(EventCorrelator.Write w) {
    return StatusApi.JSON.createObjectNode().put("count", w.count()).put("lastTimestamp", time(w.lastMillis()))
        .put("message", w.message()).toString();
  }

  private static String time(long millis) {
    return Instant.ofEpochMilli(millis).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private void logSometimes(String what, String format, Object... args) {
    long now = millis.getAsLong();
    Long before = loggedAt.get(what);
    if (before == null || now - before >= LOG_EVERY_MILLIS) {
      loggedAt.put(what, now);
      LOG.warn(format + " (logged at most once a minute)", args);
    }
  }

  /** Occurrences waiting for the writer (tests, a gauge). */
  public int waiting() {
    return queue.size();
  }

  @Override
  public void close() {
    closed = true;
    writer.interrupt();
    try {
      writer.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

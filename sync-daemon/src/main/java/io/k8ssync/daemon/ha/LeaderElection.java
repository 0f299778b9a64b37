package io.k8ssync.daemon.ha;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaderElectionRecord;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.k8ssync.daemon.config.DaemonConfig.LeaderElectionSpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Competes for a Kubernetes Lease with fabric8's {@link LeaderElector} and tells a {@link Listener}
 * when this replica starts or stops leading. fabric8's elector runs one term: once it stops
 * leading (renewal failed past the deadline, or another holder took the Lease), a fresh elector
 * competes again, so a replica that lost its lease becomes a standby instead of idling.
 *
 * <p>Two safeguards against two leaders at once. The Lease has its own client, without fabric8's
 * request retries and with a request timeout of one retry period: with the defaults, one renewal
 * against an unreachable API server retries for over a minute, long after a standby may take the
 * Lease. And a watchdog stops leading as soon as no renewal succeeded within the renew deadline,
 * whatever the elector believes.
 *
 * <p>Lifecycle: {@link #start} once, {@link #close} once (idempotent); close releases the Lease
 * when held, so a standby takes over at once instead of after the lease duration.
 */
public final class LeaderElection implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(LeaderElection.class);

  /** Told about role changes, in the order they happened (stops on the watchdog's thread, starts on the elector's): must not block. */
  public interface Listener {
    void startedLeading();

    void stoppedLeading();
  }

  private final KubernetesClient client;
  private final ScheduledExecutorService watchdog;
  private final LeaderElectionSpec spec;
  private final String cluster;
  private final String identity;
  private final Listener listener;
  private final AtomicBoolean leading = new AtomicBoolean();
  /**
   * Held while a start or stop is decided and told: the watchdog's thread tells stops, the elector's
   * starts, and a start must never reach the listener before the stop it follows.
   */
  private final Object transitions = new Object();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicReference<CompletableFuture<?>> term = new AtomicReference<>();
  private volatile String leader;
  /** nanoTime of the last successful write of the Lease by this replica. */
  private volatile long lastRenewal;

  /**
   * @param cluster the name of the cluster this Lease is about
   * @param clusterClient a client of that cluster, where the Lease lives; a copy of its config is used, it stays the caller's
   */
  public LeaderElection(String cluster, KubernetesClient clusterClient, LeaderElectionSpec spec, Listener listener) {
    this.cluster = cluster;
    int timeoutMs = (int) Math.max(100, spec.retryPeriod().toMillis());
    this.client = new KubernetesClientBuilder().withConfig(new ConfigBuilder(clusterClient.getConfiguration())
        .withRequestRetryBackoffLimit(0)
        .withRequestTimeout(timeoutMs)
        .withConnectionTimeout(timeoutMs)
        .build())
        // The cluster client's serialization: the daemon's registers only what it decodes (not every model class).
        .withKubernetesSerialization(clusterClient.getKubernetesSerialization())
        .withHttpClientFactory(new JdkHttpClientFactory()) // as the cluster client (Clients)
        .build();
    this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "lease-watchdog");
      t.setDaemon(true);
      return t;
    });
    this.spec = spec;
    this.identity = spec.identity() != null ? spec.identity() : defaultIdentity();
    this.listener = listener;
  }

  /** $POD_NAME in a Deployment (unique per replica); elsewhere the host name plus a random suffix. */
  public static String defaultIdentity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) {
      return pod;
    }
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      host = "k8s-sync";
    }
    return host + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  public String cluster() {
    return cluster;
  }

  /** {@code <leaseName>-<cluster>}: one Lease per cluster, distinct even where two names reach one API server. */
  public String leaseName() {
    return spec.leaseName() + "-" + cluster;
  }

  public String identity() {
    return identity;
  }

  public boolean leading() {
    return leading.get();
  }

  /**
   * How long a write may take from now and still end before a standby may take the Lease: the
   * last renewal (timed from the start of its request) plus the lease duration, less
   * {@link #CLOCK_SKEW} for the standby's clock. Zero when not leading or once the renewal is past
   * its deadline: from then on the watchdog steps down, whatever the elector believes.
   */
  public java.time.Duration writeBudget() {
    if (!leading.get()) {
      return java.time.Duration.ZERO;
    }
    long since = System.nanoTime() - lastRenewal;
    if (since > spec.renewDeadline().toNanos()) {
      return java.time.Duration.ZERO;
    }
    return java.time.Duration.ofNanos(Math.max(0, spec.leaseDuration().toNanos() - since - CLOCK_SKEW.toNanos()));
  }

  /**
   * How long before a takeover a change may have come that the old leader never applied, so that the
   * new leader writes it first ({@link io.k8ssync.daemon.dispatch.Dispatcher#replayFreshFirst}). From the
   * old leader's last renewal the Lease runs {@code leaseDuration}; a standby tries every
   * {@code retryPeriod} stretched by up to fabric8's jitter (× 2.2), its acquisition takes a read and a
   * write of the Lease, and its clock may differ by {@link #CLOCK_SKEW}: three retry periods cover the
   * jitter and the round trips. Too wide costs little: the initial list never counts (only watch events do).
   */
  public static java.time.Duration freshWindow(io.k8ssync.daemon.config.DaemonConfig.LeaderElectionSpec spec) {
    return spec.leaseDuration().plus(spec.retryPeriod().multipliedBy(3)).plus(CLOCK_SKEW);
  }

  /** How far a standby's clock may run ahead of the leader's without two writers overlapping. */
  public static final java.time.Duration CLOCK_SKEW = java.time.Duration.ofMillis(500);

  private static final String URL_MARK = "@";

  /**
   * {@code identity@url}: a leader's Lease then tells standbys where it answers (they forward preStop
   * offline waits there). {@code url} null leaves the identity as it is.
   */
  public static String withUrl(String identity, String url) {
    return url == null ? identity : identity + URL_MARK + url;
  }

  /** The URL a Lease holder's identity carries ({@link #withUrl}), or null. */
  public static String urlOf(String holder) {
    if (holder == null) {
      return null;
    }
    int at = holder.lastIndexOf(URL_MARK + "http");
    return at < 0 ? null : holder.substring(at + 1);
  }

  /** The holder of the Lease as last seen; null when unknown. */
  public String leader() {
    return leader;
  }

  public void start() {
    LOG.info("leader election: competing for lease {}/{} in cluster {} as {} (leaseDuration={}s renewDeadline={}s)",
        spec.namespace(), leaseName(), cluster, identity, spec.leaseDuration().toSeconds(),
        spec.renewDeadline().toSeconds());
    long every = Math.max(50, spec.retryPeriod().toMillis() / 2);
    watchdog.scheduleWithFixedDelay(this::checkRenewal, every, every, TimeUnit.MILLISECONDS);
    compete();
  }

  private void checkRenewal() {
    try {
      if (leading.get() && System.nanoTime() - lastRenewal > spec.renewDeadline().toNanos()) {
        LOG.warn("leader election: no renewal of the lease of cluster {} for {}ms (deadline {}ms)", cluster,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lastRenewal), spec.renewDeadline().toMillis());
        onStop();
        // End the elector's term too: it would keep renewing without ever telling us we lead again.
        CompletableFuture<?> f = term.get();
        if (f != null) {
          f.cancel(true);
        }
      }
    } catch (RuntimeException e) {
      LOG.warn("lease watchdog failed, next period checks again", e);
    }
  }

  /**
   * The Lease, telling us when our own write of it succeeded. fabric8 stamps the record's renewTime
   * (what a standby counts the lease duration from) before it reads the Lease, then writes it: the
   * renewal is therefore timed from the start of that read, not of the write, or a slow read would
   * let this replica believe in more Lease than a standby grants it.
   */
  private final class ObservedLeaseLock extends LeaseLock {
    /** nanoTime at the start of the last read of the Lease: the read that precedes each write. */
    private long readStartedAt = System.nanoTime();

    ObservedLeaseLock() {
      super(spec.namespace(), leaseName(), identity);
    }

    @Override
    public synchronized LeaderElectionRecord get(KubernetesClient c) {
      readStartedAt = System.nanoTime();
      return super.get(c);
    }

    @Override
    public synchronized void create(KubernetesClient c, LeaderElectionRecord r) {
      long t0 = readStartedAt;
      super.create(c, r);
      renewed(r, t0);
    }

    @Override
    public synchronized void update(KubernetesClient c, LeaderElectionRecord r) {
      long t0 = readStartedAt;
      super.update(c, r);
      renewed(r, t0);
    }

    private void renewed(LeaderElectionRecord r, long startedAt) {
      if (identity.equals(r.getHolderIdentity())) {
        LeaderElection.this.renewed(startedAt);
      }
    }
  }

  /** This replica's write of the Lease that started at {@code startedAt} (nanoTime) succeeded. */
  void renewed(long startedAt) {
    lastRenewal = startedAt;
  }

  private void compete() {
    if (closed.get()) {
      return;
    }
    LeaderElector elector = client.leaderElector().withConfig(new LeaderElectionConfigBuilder()
        .withName("k8s-sync")
        .withLock(new ObservedLeaseLock())
        .withLeaseDuration(spec.leaseDuration())
        .withRenewDeadline(spec.renewDeadline())
        .withRetryPeriod(spec.retryPeriod())
        .withReleaseOnCancel(true)
        .withLeaderCallbacks(new LeaderCallbacks(this::onStart, this::onStop, this::onNewLeader))
        .build()).build();
    CompletableFuture<?> f = elector.start();
    term.set(f);
    f.whenComplete((v, t) -> {
      onStop();
      if (!closed.get()) {
        LOG.info("leader election: term over, competing again as {}", identity);
        compete();
      }
    });
  }

  void onStart() {
    if (System.nanoTime() - lastRenewal > spec.renewDeadline().toNanos()) {
      // A stale report (the acquiring write took longer than the deadline): fabric8 would go on
      // renewing and never report again, so end this term off its thread and compete afresh.
      LOG.warn("leader election: acquired the lease of cluster {} too late to trust it; competing again", cluster);
      watchdog.execute(() -> {
        CompletableFuture<?> f = term.get();
        if (f != null) {
          f.cancel(true);
        }
      });
      return;
    }
    synchronized (transitions) {
      if (leading.compareAndSet(false, true)) {
        LOG.info("leader election: {} is now the leader of cluster {}: applying its changes to the sinks", identity, cluster);
        listener.startedLeading();
      }
    }
  }

  // fabric8 may report the end of a term twice (lost record, then the term's end): act once.
  void onStop() {
    synchronized (transitions) {
      if (leading.compareAndSet(true, false)) {
        LOG.warn("leader election: {} lost the lease of cluster {}: stopped applying its changes, now a standby", identity, cluster);
        listener.stoppedLeading();
      }
    }
  }

  private void onNewLeader(String holder) {
    leader = holder;
    if (holder != null && !holder.equals(identity)) {
      LOG.info("leader election: leader of cluster {} is {}; {} stands by with a warm cache", cluster, holder, identity);
    }
  }

  /** Stops competing; releases the Lease if held. Call after the sink queues drained. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    watchdog.shutdownNow();
    CompletableFuture<?> f = term.get();
    if (f != null) {
      f.cancel(true);
    }
    onStop();
    client.close();
  }
}

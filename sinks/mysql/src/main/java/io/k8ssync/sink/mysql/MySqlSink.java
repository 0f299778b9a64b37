package io.k8ssync.sink.mysql;

import io.k8ssync.sink.PassAfterFirstWrite;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Reconciliation;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.config.Config;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps one row per pod (by uid): written with batched multi-row upserts, each column guarded by
 * the resourceVersion so an older change never overwrites newer data, and a delete wins over a live
 * write of the same version; deleted pods are kept with {@code deleted_at} for the retention period,
 * then purged in batches. A reconcile pass marks rows of pods that no longer exist as deleted and
 * rewrites rows that drifted: once the informers delivered their initial list, whenever this replica
 * starts leading a cluster, and every period. A rejected pod keeps a row that is never ready and
 * names what failed ({@link PodRow}). Every row names its {@link RowOwner}: writes, passes and purges
 * touch this sink's own rows only, so daemons that share a cluster name share the table.
 *
 * <p>This class is the flow: start, apply, told of synced pods and of leadership, close. The work is
 * done by {@link PodTable} (pool and schema), {@link RowWriter} (writes), {@link MySqlReconciler}
 * (reconcile passes), {@link Purger} (purges) and {@link RequestedPasses} (passes asked for now).
 */
final class MySqlSink implements Sink {

  private final SinkContext context;
  private final Config config;
  private final int batchSize;
  private final System.Logger log;
  private final PodTable table;
  private final ScheduledExecutorService scheduler;
  private final PassAfterFirstWrite afterFirstWrite;
  private final Reconciliation reconciliation;
  private final RowWriter writer;
  private final Purger purger;
  private final MySqlReconciler reconciler;
  private final RequestedPasses requested;

  MySqlSink(SinkContext context) {
    this.context = context;
    this.config = context.config();
    this.batchSize = config.getInt("batchSize");
    RowOwner owner = new RowOwner(config.getString("ownerId"));
    this.log = context.logger();
    this.table = new PodTable(context);
    this.scheduler = Reconciliation.scheduler(context, "mysql");
    this.reconciliation = new Reconciliation(context);
    MySqlMetrics metrics = MySqlMetrics.register(context.metrics());
    this.writer = new RowWriter(table, owner, metrics);
    this.purger = new Purger(context, table, owner, metrics);
    this.reconciler = new MySqlReconciler(context, table, writer, owner, batchSize, reconciliation, metrics);
    requested = new RequestedPasses(scheduler, clusters -> reconciliation.runSafely(() -> reconciler.reconcile(clusters)));
    // A new term's pass after the term's first write (the takeover's fresh changes), or a second.
    afterFirstWrite = new PassAfterFirstWrite(scheduler, cluster -> requested.request(Set.of(cluster)));
  }

  @Override
  public int maxBatchSize() {
    return batchSize;
  }

  @Override
  public void start() {
    try {
      table.ensureSchema();
    } catch (SinkException e) {
      log.log(Level.WARNING, "database not reachable at start, schema migration will be retried: sink={0} error={1}",
          context.name(), e.getMessage());
    }
    if (!context.dryRun()) {
      long purgeEvery = config.getDuration("purgeEvery").toMillis();
      long reconcileEvery = config.getDuration("reconcileEvery").toMillis();
      scheduler.scheduleWithFixedDelay(purger::purgeSafely, purgeEvery, purgeEvery, TimeUnit.MILLISECONDS);
      // The first pass comes with the initial list (podsSynced), not at a guess after start.
      scheduler.scheduleWithFixedDelay(() -> {
        if (context.pods().synced()) {
          reconciliation.runSafely(reconciler::reconcile);
        }
      }, reconcileEvery, reconcileEvery, TimeUnit.MILLISECONDS);
    }
  }

  @Override
  public void podsSynced() {
    if (!context.dryRun()) {
      Set<String> clusters = context.clusters();
      log.log(Level.INFO, "pods synced, reconcile pass requested: sink={0} clusters={1}", context.name(), clusters);
      requested.request(clusters);
      if (clusters.isEmpty()) {
        scheduler.execute(this::warmUpWhileStandingBy);
        return;
      }
    }
    warmedUp.complete(false);
  }

  /** Completes once podsSynced decided: true when a standby ran the write path without writing; for tests. */
  final java.util.concurrent.CompletableFuture<Boolean> warmedUp = new java.util.concurrent.CompletableFuture<>();

  /** A standby (it leads no cluster at its initial list) runs the write path for a cached pod, writing nothing. */
  private void warmUpWhileStandingBy() {
    java.util.Iterator<io.k8ssync.sink.PodState> pods = context.pods().pods().iterator();
    if (!pods.hasNext()) {
      warmedUp.complete(false);
      return;
    }
    try {
      table.ensureSchema();
      writer.warmUp(pods.next());
      warmedUp.complete(true);
    } catch (SinkException | RuntimeException e) {
      log.log(Level.DEBUG, "standby warm-up of the write path failed; the first write pays for it: sink={0} error={1}",
          context.name(), e.getMessage());
      warmedUp.complete(false);
    }
  }

  @Override
  public void leadershipChanged(String cluster, long term, boolean leading) {
    if (context.dryRun()) {
      return;
    }
    if (!leading) {
      // Its rows are the new leader's to reconcile; a pass already running checks leads() before each deletion.
      afterFirstWrite.termEnded(cluster);
      requested.cancel(cluster);
    } else if (context.pods().synced()) {
      // What changed while another replica led it (or none did) is repaired now, not a period later:
      // once the term's first write (the takeover's fresh changes) is done, or a second has passed.
      log.log(Level.INFO, "leading cluster, reconcile pass requested after the first write: sink={0} cluster={1} term={2}",
          context.name(), cluster, term);
      afterFirstWrite.termStarted(cluster);
    } // else the pass podsSynced() requests covers it
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    try {
      table.ensureSchema();
      writer.apply(batch);
    } finally {
      afterFirstWrite.written(); // a new term's first write is done (or failed): its pass may start
    }
  }

  /** A reconcile pass now, over the clusters this replica leads. */
  void reconcile() throws SinkException {
    reconciler.reconcile();
  }

  /** Purges the rows past the retention now; returns how many. */
  int purge() throws SinkException {
    return purger.purge();
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    return batch.stream().map(c -> (c.after() == null ? "mark deleted " : "upsert ") + c.latest().uid()
        + " (" + c.key() + ", resourceVersion " + c.latest().resourceVersion() + ")").toList();
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    table.close();
  }
}

package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * After an offline, polls the drain URL until the instance reports no traffic or {@code maxWait}
 * passes; the outcome is a metric and a log line. Sent without the target's credentials: the URL
 * may go to the pod itself. A check belongs to the leadership term of the offline: once that ends,
 * it stops ({@code disowned}).
 *
 * <p>When it ends, drained or at {@code maxWait} (the sink stops waiting then, which bounds how long a
 * pod drains), the pod is reported offline, under its lock, unless something of it is registered again.
 */
final class DrainChecker implements FollowUps.Owner {

  private final SinkContext context;
  private final System.Logger log;
  private final HttpTarget target;
  private final LongSupplier nanoTime;
  private final Request drain;
  private final Pattern expect;
  private final Duration interval;
  private final Duration maxWait;
  private final Leadership leadership;
  private final FollowUps followUps;
  private final SinkMetrics.Counter drains;
  private final SinkMetrics.Histogram drainSeconds;
  private final PodLocks locks;
  private final PodReports reports;

  /** How soon an offline report waits again for a pod whose change is being applied. */
  private static final Duration BUSY_AGAIN = Duration.ofMillis(20);

  DrainChecker(SinkContext context, HttpTarget target, LongSupplier nanoTime, Leadership leadership, FollowUps followUps,
               PodLocks locks, PodReports reports) {
    this.context = context;
    this.log = context.logger();
    this.target = target;
    this.nanoTime = nanoTime;
    this.leadership = leadership;
    this.followUps = followUps;
    this.locks = locks;
    this.reports = reports;
    Config d = context.config().getSection("drain");
    this.drain = d.getString("url") == null ? null : Request.get("drain", d.getString("method"), d.getString("url"));
    this.expect = Pattern.compile(d.getString("expect"));
    this.interval = d.getDuration("interval");
    this.maxWait = d.getDuration("maxWait");
    SinkMetrics m = context.metrics();
    drains = m.counter("http_drains_total", "Drain checks after offline, by outcome (drained, timeout, error, disowned, dropped)", "outcome");
    drainSeconds = m.histogram("http_drain_seconds", "Time from offline until the drain check ended");
  }

  /** The drain check request, or null when none is configured. */
  Request request() {
    return drain;
  }

  /**
   * Starts the drain check of {@code pod}, just taken offline; nothing when none is configured.
   * {@code report}: report the pod offline when the check ends (it leaves this sink).
   */
  void start(PodState pod, boolean report) {
    if (drain == null) {
      return;
    }
    long start = nanoTime.getAsLong();
    Leadership.Term term = leadership.current(pod.cluster());
    String what = pod.namespace() + "/" + pod.name() + " " + pod.address();
    Runnable poll = new Runnable() {
      @Override
      public void run() {
        try {
          HttpTarget.Outcome o = target.sendWithoutAuth(drain.render(pod));
          long elapsed = nanoTime.getAsLong() - start;
          boolean drained = o.verdict() == HttpTarget.Verdict.OK && o.body() != null && expect.matcher(o.body()).find();
          if (drained || elapsed >= maxWait.toNanos()) {
            String outcome = drained ? "drained" : "timeout";
            drains.inc(outcome);
            drainSeconds.observeSeconds(elapsed / 1e9);
            log.log(drained ? Level.INFO : Level.WARNING, "drain check {0}: sink={1} pod={2}/{3} address={4} ms={5}",
                outcome, context.name(), pod.namespace(), pod.name(), pod.address(), elapsed / 1_000_000);
            if (report) {
              ended(pod, term, what);
            }
            return;
          }
          followUps.schedule(DrainChecker.this, term, what, this, interval);
        } catch (RuntimeException e) {
          log.log(Level.WARNING, "drain check failed, giving up: sink=" + context.name() + " pod=" + pod.name(), e);
          drains.inc("error");
          if (report) {
            ended(pod, term, what);
          }
        }
      }
    };
    followUps.schedule(this, term, what, poll, Duration.ZERO);
  }

  /** The check is over: offline, under the pod's lock (a timer never waits for it: it comes back). */
  private void ended(PodState pod, Leadership.Term term, String what) {
    try (PodLocks.Held held = locks.tryLock(pod.key())) {
      if (held == null) {
        followUps.schedule(this, term, what, () -> ended(pod, term, what), BUSY_AGAIN);
        return;
      }
      reports.offlineUnlessRegistered(pod);
    }
  }

  @Override
  public void dropped(String outcome, String reason, List<String> what) {
    drains.inc(what.size(), outcome);
    log.log(Level.WARNING, "{0} drain checks {1}, not finished: sink={2} reason={3} pods={4}",
        what.size(), outcome, context.name(), reason, what);
  }
}

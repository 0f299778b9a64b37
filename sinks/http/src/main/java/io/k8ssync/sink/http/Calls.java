package io.k8ssync.sink.http;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.template.Template;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * One call to the target for one pod: admitted, rendered, sent, timed, counted by kind and outcome,
 * logged, and sorted into accepted, rejected offline (done) or a {@link SinkException}. Holds no
 * state but its metrics; safe on any thread.
 *
 * <p>Admission is checked at the moment of each call, not once per change or pass: this replica must
 * lead the pod's cluster ({@link SinkContext#leads}), and the call's timeout must fit in the write
 * budget ({@link SinkContext#writeBudget}), so no call of ours is in flight once another replica may
 * hold the Lease. A call not admitted is not started: a retriable failure.
 */
final class Calls {

  private final SinkContext context;
  private final HttpTarget target;
  private final LongSupplier nanoTime;
  private final System.Logger log;
  private final int bodyLogLimit;
  private final SinkMetrics.Counter calls;
  private final SinkMetrics.Histogram callSeconds;
  private final SinkMetrics.Counter rejected;

  Calls(SinkContext context, HttpTarget target, LongSupplier nanoTime) {
    this.context = context;
    this.target = target;
    this.nanoTime = nanoTime;
    this.log = context.logger();
    this.bodyLogLimit = context.config().getInt("responseBodyLogLimit");
    SinkMetrics m = context.metrics();
    calls = m.counter("http_calls_total", "Calls to an http target, by kind (online, offline, reassert, offline_repeat) and outcome (ok, retry, rejected, skipped, redirect_refused, not_leader, no_budget, ...)", "kind", "outcome");
    callSeconds = m.histogram("http_call_seconds", "Latency of calls to an http target, by kind", "kind");
    rejected = m.counter("http_pods_rejected_total", "Calls not sent because a pod value cannot go into the request "
        + "(e.g. a URL path segment it would make empty, . or ..), by kind and template field", "kind", "field");
  }

  /**
   * True, counted and logged once, when a value of {@code pod} cannot go into one of {@code requests}
   * (null ones are skipped): the pod is rejected for this call of {@code kind}, which is not sent.
   * A pod value is untrusted; sending it elsewhere than the template says is worse than not sending.
   */
  boolean refuses(String kind, PodState pod, String key, Request... requests) {
    return refusal(kind, pod, key, requests) != null;
  }

  /**
   * As {@link #refuses}: why the pod is rejected for this call, for people (names the field and the
   * request, never the value), or null when every request can be built.
   */
  String refusal(String kind, PodState pod, String key, Request... requests) {
    for (Request r : requests) {
      if (r == null) {
        continue;
      }
      try {
        r.render(pod);
      } catch (Template.RefusedValue e) {
        refused(kind, key, r, e);
        return kind + " not sent: the pod's " + e.field() + " cannot go into the " + r.kind() + " request";
      }
    }
    return null;
  }

  private void refused(String kind, String key, Request r, Template.RefusedValue e) {
    rejected.inc(kind, e.field());
    // The message names the field, never the value (nor the rendered URL, which holds it).
    log.log(Level.WARNING, "{0} not sent, the pod is rejected for this sink: sink={1} pod={2} request={3} field={4} reason={5}",
        kind, context.name(), key, r.kind(), e.field(), e.getMessage());
  }

  /** Counts what happened to a call of {@code kind} that was not sent (skipped, postponed, dropped...). */
  void count(String kind, String outcome) {
    calls.inc(kind, outcome);
  }

  void count(long n, String kind, String outcome) {
    calls.inc(n, kind, outcome);
  }

  /**
   * Throws, counted and logged, when a call of {@code kind} for {@code pod} may not start now: this
   * replica does not lead its cluster, or the call's timeout does not fit in the write budget.
   */
  void admit(String kind, PodState pod, String key) throws SinkException {
    String cluster = pod.cluster();
    if (!context.leads(cluster)) {
      calls.inc(kind, "not_leader");
      log.log(Level.WARNING, "{0} not started, retried later: sink={1} pod={2} address={3} reason=this replica does not "
          + "lead cluster {4} now", kind, context.name(), key, pod.address(), cluster);
      throw SinkException.retriable(kind + " for " + key + " not started: this replica does not lead cluster " + cluster, null);
    }
    Duration budget = context.writeBudget(cluster);
    Duration timeout = target.timeout();
    if (budget.compareTo(timeout) < 0) {
      calls.inc(kind, "no_budget");
      log.log(Level.WARNING, "{0} not started, retried later: sink={1} pod={2} address={3} reason=its timeout of {4} ms "
          + "does not fit in the write budget of {5} ms left before another replica may hold the Lease of cluster {6}",
          kind, context.name(), key, pod.address(), timeout.toMillis(), budget.toMillis(), cluster);
      throw SinkException.retriable(kind + " for " + key + " not started: its timeout " + timeout.toMillis()
          + " ms does not fit in the write budget " + budget.toMillis() + " ms", null);
    }
  }

  /**
   * Sends one call, if admitted now. True when the target accepted it; false when it rejected an
   * offline, which is then done (retrying cannot help and the next online must not wait). Throws on
   * anything else.
   */
  boolean send(Request request, PodState pod, String key, String kind) throws SinkException {
    admit(kind, pod, key);
    Request.Rendered r;
    try {
      r = request.render(pod);
    } catch (Template.RefusedValue e) {
      refused(kind, key, request, e);
      if (request.kind().equals("offline")) {
        return false; // nothing sent, nothing to undo: as a rejected offline, done
      }
      throw SinkException.fatal(kind + " for " + key + " not sent: " + e.getMessage(), null);
    } catch (IllegalArgumentException e) {
      calls.inc(kind, "rejected");
      // URI.create names the URL after its reason: only the reason, as the URL may hold credentials.
      String why = String.valueOf(e.getMessage());
      throw SinkException.fatal(kind + " request for " + key + " cannot be built: "
          + (why.contains(": ") ? why.substring(0, why.indexOf(": ")) : "an invalid URL"), null);
    }
    // Who was called, by origin only: a URL's user info, path or query may hold what no log or pod condition may show.
    String call = kind + " " + r.method() + " " + HttpTarget.origin(r.uri());
    long t0 = nanoTime.getAsLong();
    HttpTarget.Outcome o = target.send(r);
    double seconds = (nanoTime.getAsLong() - t0) / 1e9;
    callSeconds.observeSeconds(seconds, kind);
    switch (o.verdict()) {
      case OK:
        calls.inc(kind, "ok");
        log.log(Level.INFO, "{0}: sink={1} pod={2} address={3} status={4} ms={5}",
            kind, context.name(), key, pod.address(), o.status(), Math.round(seconds * 1000));
        return true;
      case RETRY:
        if (o.error() instanceof HttpTarget.RedirectRefused) {
          calls.inc(kind, "redirect_refused");
          log.log(Level.WARNING, "{0} not done, retried: sink={1} pod={2} address={3} reason={4}",
              kind, context.name(), key, pod.address(), o.error().getMessage());
          throw SinkException.retriable(call + " failed: " + o.error().getMessage(), o.error());
        }
        calls.inc(kind, "retry");
        throw SinkException.retriable(call + " failed: "
            + (o.error() != null ? o.error().getClass().getSimpleName() + " " + o.error().getMessage() : "status " + o.status()),
            o.error());
      default:
        calls.inc(kind, "rejected");
        log.log(Level.WARNING, "{0} rejected, not retried: sink={1} pod={2} address={3} status={4} body={5}",
            kind, context.name(), key, pod.address(), o.status(), truncate(o.body()));
        if (request.kind().equals("offline")) {
          // E.g. 404: the target holds no such instance, so nothing is left to undo.
          return false;
        }
        // A rejected online or re-assertion keeps its registration, so the pod's offline still goes out.
        throw SinkException.fatal(call + " rejected with status " + o.status(), null);
    }
  }

  private String truncate(String body) {
    if (body == null) {
      return "";
    }
    String oneLine = body.replaceAll("[\\r\\n\\t]+", " ");
    return oneLine.length() <= bodyLogLimit ? oneLine : oneLine.substring(0, bodyLogLimit) + "...(" + body.length() + " chars)";
  }
}

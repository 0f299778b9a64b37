package io.k8ssync.sink.nginx;

import io.k8ssync.sink.SinkMetrics;

/** The nginx sink's series (prefix {@code k8s_sync_nginx_}, label {@code sink}); the alert rules read them. */
final class NginxMetrics {

  final SinkMetrics.Counter renders;
  final SinkMetrics.Counter unchanged;
  final SinkMetrics.Counter reloads;
  final SinkMetrics.Counter retries;
  final SinkMetrics.Counter emptied;
  final SinkMetrics.Counter skipped;
  final SinkMetrics.Gauge lastSuccess;
  final SinkMetrics.Gauge pendingSince;
  final SinkMetrics.Gauge holding;
  final SinkMetrics.Gauge withoutLiveServer;
  final SinkMetrics.Gauge workers;
  final SinkMetrics.Gauge shutdownTimeoutSet;
  final SinkMetrics.Histogram changeToReload;
  final SinkMetrics.Histogram reloadDuration;

  NginxMetrics(SinkMetrics m) {
    renders = m.counter("nginx_renders_total", "Renders of the upstream files from the pods (after the debounce)");
    unchanged = m.counter("nginx_renders_unchanged_total", "Renders whose output equalled the live files: nothing written, no reload");
    reloads = m.counter("nginx_reloads_total", "Attempts to apply a render, by result: ok, test_failed (nginx -t refused; nothing"
        + " reloaded), reload_failed, timeout (no new workers in time), not_running, write_failed, foreign_file", "result");
    retries = m.counter("nginx_retries_total", "Renders run again after a failed attempt (the live files were kept meanwhile)");
    emptied = m.counter("nginx_upstreams_emptied_total",
        "Times an upstream lost its last live server and kept the last servers written down, or got the fallback server");
    skipped = m.counter("nginx_pods_skipped_total", "Ready pods not written, by reason (address: not an IP; upstream_name: the"
        + " template gave an invalid name)", "reason");
    lastSuccess = m.gauge("nginx_last_reload_success_timestamp_seconds", "Unix time of the last confirmed reload");
    pendingSince = m.gauge("nginx_pending_since_timestamp_seconds",
        "Unix time of the oldest pod change not yet in the running nginx; 0 when nginx is up to date");
    holding = m.gauge("nginx_holding", "1 while the last attempt failed and the sink holds the live files and retries");
    withoutLiveServer = m.gauge("nginx_upstreams_without_live_server",
        "Upstreams written without a live server (no ready pod): kept servers written down, or the fallback server");
    workers = m.gauge("nginx_worker_processes", "Child processes of the nginx master after the last reload (old generations included)");
    shutdownTimeoutSet = m.gauge("nginx_worker_shutdown_timeout_set",
        "1 when nginx's config sets worker_shutdown_timeout; without it old workers live as long as their slowest connection");
    changeToReload = m.histogram("nginx_change_to_reload_seconds", "From the first pod change of a render to its confirmed reload");
    reloadDuration = m.histogram("nginx_reload_duration_seconds", "nginx -t, the reload and its confirmation");
  }
}

package io.k8ssync.daemon.status;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.k8ssync.daemon.metrics.HealthServer;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The status page at {@code /}: one server-rendered HTML page, no script and no build step. The
 * sinks' health and lag on top, a search form (service, pod name or IP; state; sink), and one page
 * of pods with their state in each sink, coloured (failing red, pending amber), paged with the
 * API's continue tokens, so it stays as fast at 10,000 pods as at 10. Every value from a pod is
 * HTML-escaped.
 */
public final class StatusPage implements HttpHandler {

  private static final Logger LOG = LoggerFactory.getLogger(StatusPage.class);

  static final int DEFAULT_LIMIT = 50;

  private static final String STYLE = String.join("\n",
      "body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.2em;color:#1d2125}",
      "h1{font-size:1.3em;margin:0 0 .4em}h2{font-size:1.05em;margin:1.2em 0 .4em}",
      "table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:left;vertical-align:top}",
      "th{background:#f3f5f7}td.n{text-align:right}small{color:#57606a}",
      ".online{background:#d1e7dd}.pending{background:#fff3cd}.failing{background:#f8d7da}",
      ".draining{background:#cfe2ff}.offline{background:#f1f3f5;color:#57606a}.standby{background:#e9ecef;color:#57606a}",
      ".bad{background:#f8d7da}.ok{background:#d1e7dd}.banner{padding:.5em .8em;margin:.5em 0;border:1px solid #e0c36c;background:#fff3cd}",
      ".error{padding:.5em .8em;margin:.5em 0;border:1px solid #e4a0a6;background:#f8d7da}",
      "form{margin:.6em 0}input[type=search]{width:22em;padding:3px}.err{color:#842029;font-size:.9em}",
      "nav a{margin-right:1em}");

  private final PodStatuses statuses;
  private final boolean localhostOnly;

  public StatusPage(PodStatuses statuses, boolean localhostOnly) {
    this.statuses = statuses;
    this.localhostOnly = localhostOnly;
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    try {
      if (!ex.getRequestURI().getPath().equals("/")) {
        Exchanges.error(ex, 404, "not found: the status page is /, the API /v1/pods, /v1/services and /v1/sinks", false);
        return;
      }
      if (!Exchanges.admit(ex, localhostOnly, false)) {
        return;
      }
      String raw = ex.getRequestURI().getRawQuery();
      PodQuery q;
      String problem = null;
      try {
        q = PodQuery.parse(raw, statuses.sinkNames(), DEFAULT_LIMIT);
      } catch (PodQuery.BadQuery e) {
        problem = e.getMessage();
        q = PodQuery.all(DEFAULT_LIMIT);
      }
      StringBuilder html = new StringBuilder(32 * 1024);
      render(html, q, problem);
      HealthServer.respond(ex, problem == null ? 200 : 400, html.toString(), "text/html");
    } catch (RuntimeException e) {
      LOG.error("status page failed", e);
      Exchanges.error(ex, 500, "internal error: " + e.getClass().getSimpleName() + " (see the daemon's log)", false);
    } finally {
      ex.close();
    }
  }

  private void render(StringBuilder h, PodQuery q, String problem) {
    PodStatuses.ReplicaView replica = statuses.replica();
    List<PodStatuses.SinkHealth> sinks = statuses.sinkHealth();
    Map<String, Map<String, Integer>> counts = statuses.counts().bySink();
    h.append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .append("<title>k8s-sync status</title><style>").append(STYLE).append("</style></head><body>");
    h.append("<h1>k8s-sync status</h1><p id=\"replica\" data-role=\"").append(esc(replica.role())).append("\">")
        .append("Replica: <b>").append(esc(replica.role())).append("</b>");
    if (replica.identity() != null) {
      h.append(" &middot; identity <code>").append(esc(replica.identity())).append("</code>");
    }
    replica.leaders().forEach((c, id) -> h.append(" &middot; cluster <code>").append(esc(c)).append("</code> led by <code>")
        .append(esc(id)).append("</code>"));
    h.append("</p>");
    if (replica.note() != null) {
      h.append("<div class=\"banner\" id=\"note\">").append(esc(replica.note())).append("</div>");
    }

    h.append("<h2>Sinks</h2><table id=\"sinks\"><thead><tr><th>Sink</th><th>Type</th><th>Health</th>")
        .append("<th>Failures in a row</th><th>Queue</th><th>Lag</th><th>Pods by state</th></tr></thead><tbody>");
    for (PodStatuses.SinkHealth s : sinks) {
      h.append("<tr data-sink=\"").append(esc(s.name())).append("\" data-healthy=\"").append(s.healthy()).append("\">")
          .append("<td>").append(esc(s.name())).append("</td><td>").append(esc(s.type())).append("</td>")
          .append("<td class=\"").append(s.healthy() ? "ok" : "bad").append("\">").append(s.healthy() ? "healthy" : "failing").append("</td>")
          .append("<td class=\"n\">").append(s.consecutiveFailures()).append("</td>")
          .append("<td class=\"n\">").append(s.queueDepth()).append(" / ").append(s.queueCapacity()).append("</td>")
          .append("<td class=\"n\">").append(String.format(java.util.Locale.ROOT, "%.1f s", s.lagSeconds())).append("</td><td>");
      counts.getOrDefault(s.name(), Map.of()).forEach((state, n) -> h.append("<span class=\"").append(state).append("\">&nbsp;")
          .append(state).append(' ').append(n).append("&nbsp;</span> "));
      h.append("</td></tr>");
    }
    h.append("</tbody></table>");

    Map<String, String> f = q.filters();
    h.append("<h2>Pods</h2><form id=\"search\" method=\"get\" action=\"/\">")
        .append("<input type=\"search\" name=\"q\" id=\"q\" placeholder=\"service, pod name or IP\" value=\"")
        .append(esc(f.getOrDefault("q", ""))).append("\"> ");
    h.append("<select name=\"state\" id=\"state\"><option value=\"\">any state</option>");
    for (SinkPodState s : SinkPodState.values()) {
      h.append("<option value=\"").append(s.label()).append('"').append(s.label().equals(f.get("state")) ? " selected" : "")
          .append('>').append(s.label()).append("</option>");
    }
    h.append("</select> <select name=\"sink\" id=\"sink\"><option value=\"\">any sink</option>");
    for (PodStatuses.SinkHealth s : sinks) {
      h.append("<option value=\"").append(esc(s.name())).append('"').append(s.name().equals(f.get("sink")) ? " selected" : "")
          .append('>').append(esc(s.name())).append("</option>");
    }
    h.append("</select> <button type=\"submit\" id=\"go\">Search</button> <a href=\"/\">clear</a></form>");
    if (problem != null) {
      h.append("<div class=\"error\" id=\"problem\">").append(esc(problem)).append("</div>");
    }

    PodStatuses.Page page = statuses.pods(q);
    h.append("<p id=\"matched\" data-matched=\"").append(page.matched()).append("\">").append(page.matched())
        .append(page.matched() == 1 ? " pod matches" : " pods match").append(", showing ").append(page.pods().size())
        .append(".</p>");
    h.append("<table id=\"pods\"><thead><tr><th>Pod</th><th>Service</th><th>IP</th><th>Node</th><th>Phase</th>");
    for (PodStatuses.SinkHealth s : sinks) {
      h.append("<th>").append(esc(s.name())).append("</th>");
    }
    h.append("</tr></thead><tbody>");
    for (PodView p : page.pods()) {
      row(h, p, sinks);
    }
    h.append("</tbody></table><nav>");
    if (q.after != null) {
      h.append("<a id=\"first\" href=\"/").append(link(f, null, q.limit())).append("\">&laquo; first page</a>");
    }
    if (page.continueToken() != null) {
      h.append("<a id=\"next\" href=\"/").append(link(f, page.continueToken(), q.limit())).append("\">next page &raquo;</a>");
    }
    h.append("</nav><p><small>This page and the API under /v1 show pod names, IPs and nodes, as"
        + " <code>kubectl get pods -o wide</code> does. Turn them off with <code>status.enabled: false</code>, or"
        + " answer only on this host with <code>status.localhostOnly: true</code>. JSON of this view: <a href=\"/v1/pods")
        .append(link(f, null, q.limit())).append("\">/v1/pods</a>.</small></p>");
    h.append("</body></html>\n");
  }

  private static void row(StringBuilder h, PodView p, List<PodStatuses.SinkHealth> sinks) {
    h.append("<tr data-pod=\"").append(esc(p.namespace() + "/" + p.name())).append("\"><td>").append(esc(p.namespace()))
        .append('/').append(esc(p.name()));
    if (p.gone()) {
      h.append(" <small>(deleted)</small>");
    } else if (p.terminating()) {
      h.append(" <small>(terminating)</small>");
    }
    if (p.rejection() != null) {
      h.append("<div class=\"err\">rejected: ").append(esc(p.rejection().field())).append(' ')
          .append(esc(p.rejection().reason())).append("</div>");
    }
    h.append("</td><td>").append(esc(p.service() == null ? "" : p.service())).append("</td><td>")
        .append(esc(p.ip() == null ? "" : p.ip())).append("</td><td>").append(esc(p.node() == null ? "" : p.node()))
        .append("</td><td>").append(esc(p.phase().toLowerCase(java.util.Locale.ROOT))).append(p.ready() ? ", ready" : "")
        .append("</td>");
    for (PodStatuses.SinkHealth s : sinks) {
      PodView.InSink in = p.sinks().get(s.name());
      if (in == null) {
        h.append("<td></td>");
        continue;
      }
      String title = "wants it " + in.want() + (in.since() == null ? "" : "; reported " + in.reported() + " since " + in.since())
          + (Boolean.TRUE.equals(in.queued()) ? "; a change waits in the queue" : "");
      h.append("<td class=\"").append(in.state()).append("\" data-sink=\"").append(esc(s.name())).append("\" data-state=\"")
          .append(in.state()).append("\" title=\"").append(esc(title)).append("\">").append(in.state());
      if (in.state().equals("pending")) {
        h.append(" <small>").append(in.want()).append("</small>");
      }
      if (!in.selected() && in.state().equals("offline")) {
        h.append(" <small>(not selected)</small>");
      }
      if (in.lastError() != null) {
        h.append("<div class=\"err\">").append(in.attempts() == null ? "" : in.attempts() + "&times;: ")
            .append(esc(in.lastError())).append("</div>");
      }
      h.append("</td>");
    }
    h.append("</tr>");
  }

  /** {@code ?k=v&...} of the filters, the page size and a continue token (escaped for an attribute). */
  private static String link(Map<String, String> filters, String token, int limit) {
    StringBuilder b = new StringBuilder();
    filters.forEach((k, v) -> b.append(b.length() == 0 ? '?' : '&').append(k).append('=').append(enc(v)));
    if (limit != DEFAULT_LIMIT) {
      b.append(b.length() == 0 ? '?' : '&').append("limit=").append(limit);
    }
    if (token != null) {
      b.append(b.length() == 0 ? '?' : '&').append("continue=").append(enc(token));
    }
    return esc(b.toString());
  }

  private static String enc(String v) {
    return URLEncoder.encode(v, StandardCharsets.UTF_8);
  }

  static String esc(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> b.append("&lt;");
        case '>' -> b.append("&gt;");
        case '&' -> b.append("&amp;");
        case '"' -> b.append("&quot;");
        case '\'' -> b.append("&#39;");
        default -> b.append(c);
      }
    }
    return b.toString();
  }
}

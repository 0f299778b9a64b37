package io.k8ssync.daemon.status;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.k8ssync.daemon.metrics.HealthServer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read-only status API under {@code /v1}, answered from memory:
 * <ul>
 *   <li>{@code /v1/pods?service=&namespace=&name=&ip=&cluster=&q=&state=&sink=&limit=&continue=}:
 *       pods with their cache state, rejection and per-sink state, one page at a time;</li>
 *   <li>{@code /v1/services?q=&limit=&continue=}: services with their pods counted per sink and state;</li>
 *   <li>{@code /v1/sinks}: every sink's health, queue depth and lag, and its pods counted per state.</li>
 * </ul>
 * Every answer starts with this replica's role (a standby says so, and who leads). Bad parameters
 * get 400 with a message naming the parameter. No sink config, label, annotation or secret is shown.
 */
public final class StatusApi implements HttpHandler {

  private static final Logger LOG = LoggerFactory.getLogger(StatusApi.class);

  static final ObjectMapper JSON = new ObjectMapper().setSerializationInclusion(JsonInclude.Include.NON_NULL);
  static final int DEFAULT_LIMIT = 100;

  private final PodStatuses statuses;
  private final boolean localhostOnly;

  public StatusApi(PodStatuses statuses, boolean localhostOnly) {
    this.statuses = statuses;
    this.localhostOnly = localhostOnly;
  }

  @Override
  public void handle(HttpExchange ex) throws IOException {
    try {
      if (!Exchanges.admit(ex, localhostOnly, true)) {
        return;
      }
      String path = ex.getRequestURI().getPath();
      String query = ex.getRequestURI().getRawQuery();
      ObjectNode body;
      try {
        body = switch (path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path) {
          case "/v1/pods" -> pods(query);
          case "/v1/services" -> services(query);
          case "/v1/sinks" -> sinks(query);
          default -> null;
        };
      } catch (PodQuery.BadQuery e) {
        Exchanges.error(ex, 400, e.getMessage(), true);
        return;
      }
      if (body == null) {
        Exchanges.error(ex, 404, "no such path; the status API has /v1/pods, /v1/services and /v1/sinks", true);
        return;
      }
      HealthServer.respond(ex, 200, JSON.writeValueAsString(body) + "\n", "application/json");
    } catch (RuntimeException e) {
      LOG.error("status API failed to answer {}", ex.getRequestURI().getPath(), e);
      Exchanges.error(ex, 500, "internal error: " + e.getClass().getSimpleName() + " (see the daemon's log)", true);
    } finally {
      ex.close();
    }
  }

  ObjectNode pods(String query) throws PodQuery.BadQuery {
    PodQuery q = PodQuery.parse(query, statuses.sinkNames(), DEFAULT_LIMIT);
    PodStatuses.Page page = statuses.pods(q);
    ObjectNode body = head();
    body.set("sinks", JSON.valueToTree(statuses.sinkHealth()));
    body.put("matched", page.matched());
    body.set("pods", JSON.valueToTree(page.pods()));
    if (page.continueToken() != null) {
      body.put("continue", page.continueToken());
    }
    return body;
  }

  ObjectNode services(String query) throws PodQuery.BadQuery {
    Map<String, String> p = PodQuery.params(query, List.of("q", "limit", "continue"));
    String q = p.get("q");
    if (q != null && (q.length() > 253 || !q.chars().allMatch(c -> c > 0x20 && c < 0x7f))) {
      throw PodQuery.bad("q", q, "part of a service name (printable ASCII without spaces, at most 253)");
    }
    int limit = PodQuery.limit(p.get("limit"), DEFAULT_LIMIT);
    String fingerprint = PodQuery.digest("services " + q);
    String after = p.get("continue") == null ? null : PodQuery.resume(p.get("continue"), fingerprint);
    PodStatuses.ServicePage page = statuses.services(q, limit, after, last -> PodQuery.token(fingerprint, last));
    ObjectNode body = head();
    body.put("matched", page.matched());
    body.set("services", JSON.valueToTree(page.services()));
    if (page.continueToken() != null) {
      body.put("continue", page.continueToken());
    }
    return body;
  }

  ObjectNode sinks(String query) throws PodQuery.BadQuery {
    PodQuery.params(query, List.of());
    ObjectNode body = head();
    body.set("sinks", JSON.valueToTree(statuses.sinkHealth()));
    body.set("pods", JSON.valueToTree(statuses.counts().bySink()));
    return body;
  }

  private ObjectNode head() {
    ObjectNode body = JSON.createObjectNode();
    body.set("replica", JSON.valueToTree(statuses.replica()));
    return body;
  }
}

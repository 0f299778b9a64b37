package io.k8ssync.daemon.status;

import com.sun.net.httpserver.HttpExchange;
import io.k8ssync.daemon.metrics.HealthServer;
import java.io.IOException;
import java.net.InetAddress;

/** What the status API and page share in answering: who may ask, which methods, and the headers. */
final class Exchanges {

  private Exchanges() {}

  /**
   * Answers 403 or 405 and returns false when {@code ex} may not be served: a client not on a
   * loopback address while {@code localhostOnly}, or a method other than GET and HEAD.
   */
  static boolean admit(HttpExchange ex, boolean localhostOnly, boolean json) throws IOException {
    InetAddress from = ex.getRemoteAddress().getAddress();
    if (localhostOnly && (from == null || !from.isLoopbackAddress())) {
      error(ex, 403, "the status API and page answer only clients on this host (status.localhostOnly);"
          + " use kubectl port-forward or curl from the daemon's host", json);
      return false;
    }
    String m = ex.getRequestMethod();
    if (!m.equals("GET") && !m.equals("HEAD")) {
      ex.getResponseHeaders().set("Allow", "GET, HEAD");
      error(ex, 405, "method " + m + " not allowed: the status API is read-only (GET)", json);
      return false;
    }
    ex.getResponseHeaders().set("Cache-Control", "no-store");
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    return true;
  }

  static void error(HttpExchange ex, int status, String message, boolean json) throws IOException {
    if (json) {
      HealthServer.respond(ex, status, StatusApi.JSON.createObjectNode().put("status", status).put("error", message)
          + "\n", "application/json");
    } else {
      HealthServer.respond(ex, status, message + "\n", "text/plain");
    }
  }
}

package io.k8ssync.sink.http;

import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.Secret;
import io.k8ssync.sink.config.Tls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * The connection to one target: a JDK {@link HttpClient} with the configured timeout, CA and
 * credentials, and the rule that sorts responses into success, retry and reject.
 *
 * <p>Redirects ({@code followRedirects}) are followed here, not by the client, and only within the
 * origin (scheme, host and port) of the request: the JDK client would send our custom headers and
 * {@code Authorization} to wherever a 3xx points. A redirect to another origin is not followed; the
 * call is retried (an offline bounced elsewhere is not done) and reported as {@link RedirectRefused}.
 */
final class HttpTarget {

  /** How a call ended. */
  enum Verdict { OK, RETRY, REJECTED }

  /** What came back; {@code status} is 0 when no response arrived. */
  record Outcome(Verdict verdict, int status, String body, Exception error) {}

  /** A redirect not followed: to another origin (named without path or query), or one hop too many. */
  static final class RedirectRefused extends IOException {
    RedirectRefused(String message) {
      super(message);
    }
  }

  /** As the JDK client's default (jdk.httpclient.redirects.retrylimit). */
  private static final int MAX_REDIRECTS = 5;

  private final HttpClient client;
  private final Duration timeout;
  private final List<String> successCodes;
  private final String authorization;
  private final boolean followRedirects;

  HttpTarget(HttpClient client, Duration timeout, List<String> successCodes, String authorization, boolean followRedirects) {
    this.client = client;
    this.timeout = timeout;
    this.successCodes = successCodes;
    this.authorization = authorization;
    this.followRedirects = followRedirects;
  }

  static HttpTarget from(SinkContext context) {
    Config c = context.config();
    Duration timeout = c.getDuration("timeout");
    // Never the client's: it would take our headers and credentials to another host (see send).
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER);
    String caFile = c.getSection("tls").getString("caFile");
    if (caFile != null) {
      b.sslContext(Tls.trusting(Path.of(caFile)));
    }
    Config auth = c.getSection("auth");
    String authorization = null;
    Secret token = auth.getSecret("bearerToken");
    if (token != null) {
      authorization = "Bearer " + token.reveal();
    } else if (auth.getString("username") != null) {
      Secret password = auth.getSecret("password");
      String pair = auth.getString("username") + ":" + (password == null ? "" : password.reveal());
      authorization = "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }
    return new HttpTarget(b.build(), timeout, c.getList("successCodes"), authorization, c.getBoolean("followRedirects"));
  }

  /** How long one call may take, redirects included. */
  Duration timeout() {
    return timeout;
  }

  Outcome send(Request.Rendered r) {
    return send(r, true);
  }

  /** For drain checks, which may go to the pod itself: the target's credentials stay with the target. */
  Outcome sendWithoutAuth(Request.Rendered r) {
    return send(r, false);
  }

  private Outcome send(Request.Rendered r, boolean withAuth) {
    URI uri = r.uri();
    String method = r.method();
    String body = r.body();
    long deadline = System.nanoTime() + timeout.toNanos(); // one timeout for the call, whatever its hops
    try {
      for (int hop = 0; ; hop++) {
        Duration left = Duration.ofNanos(deadline - System.nanoTime());
        if (hop > 0 && left.compareTo(Duration.ofMillis(1)) < 0) {
          throw new java.net.http.HttpTimeoutException("request timed out after " + hop + " redirects");
        }
        HttpResponse<String> resp = client.send(request(uri, method, body, r, withAuth, hop == 0 ? timeout : left),
            HttpResponse.BodyHandlers.ofString());
        int status = resp.statusCode();
        String location = resp.headers().firstValue("Location").orElse(null);
        if (!followRedirects || !isRedirect(status) || location == null) {
          return new Outcome(classify(status), status, resp.body(), null);
        }
        URI next;
        try {
          next = uri.resolve(location);
        } catch (IllegalArgumentException e) {
          return new Outcome(Verdict.RETRY, status, null, new RedirectRefused("redirect " + status + " with an invalid Location"));
        }
        if (!sameOrigin(uri, next)) {
          return new Outcome(Verdict.RETRY, status, null, new RedirectRefused("redirect " + status + " to another origin, "
              + origin(next) + ", not followed: headers and credentials stay with " + origin(uri)));
        }
        if (hop == MAX_REDIRECTS) {
          return new Outcome(Verdict.RETRY, status, null, new RedirectRefused("more than " + MAX_REDIRECTS + " redirects"));
        }
        // As browsers and the JDK client: 303, and 301/302 of a POST, go on as a GET without a body.
        if (status == 303 || ((status == 301 || status == 302) && method.equals("POST"))) {
          method = "GET";
          body = null;
        }
        uri = next;
      }
    } catch (IOException e) {
      return new Outcome(Verdict.RETRY, 0, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(Verdict.RETRY, 0, null, e);
    }
  }

  private HttpRequest request(URI uri, String method, String body, Request.Rendered r, boolean withAuth, Duration timeout) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout);
    r.headers().forEach(b::header);
    if (withAuth && authorization != null) {
      b.header("Authorization", authorization);
    }
    if (body != null) {
      b.header("Content-Type", "application/json");
      b.method(method, HttpRequest.BodyPublishers.ofString(body));
    } else {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    }
    return b.build();
  }

  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  private static boolean sameOrigin(URI a, URI b) {
    return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme())
        && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost()) && port(a) == port(b);
  }

  private static int port(URI u) {
    return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }

  /** Scheme, host and port only: a redirect's path or query may carry what the log must not show. */
  static String origin(URI u) {
    return u.getScheme() + "://" + u.getHost() + ":" + port(u);
  }

  Verdict classify(int status) {
    String s = Integer.toString(status);
    for (String code : successCodes) {
      if (code.equals(s) || (code.endsWith("xx") && code.charAt(0) == s.charAt(0))) {
        return Verdict.OK;
      }
    }
    if (status >= 500 || status == 408 || status == 429) {
      return Verdict.RETRY;
    }
    return Verdict.REJECTED;
  }

  /**
   * Runs the client once against a socket of this process on the loopback interface, answered
   * here: the first call to the target (a standby's first write after a takeover above all) then
   * does not also pay for loading and starting the client's code, measured at 0.7 s for that first
   * call at a takeover under load against 10-100 ms for the next ones. Nothing leaves this process
   * and the target sees nothing. True when the answer came back.
   */
  boolean warmUp() {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    try (ServerSocket server = new ServerSocket(0, 1, loopback)) {
      int millis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis()));
      server.setSoTimeout(millis);
      Thread answer = new Thread(() -> answerOnce(server, millis), "http-warmup");
      answer.setDaemon(true);
      answer.start();
      String host = loopback instanceof java.net.Inet6Address ? "[" + loopback.getHostAddress() + "]" : loopback.getHostAddress();
      HttpRequest r = HttpRequest.newBuilder(URI.create("http://" + host + ":" + server.getLocalPort() + "/warm-up"))
          .timeout(timeout).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{}")).build();
      return client.send(r, HttpResponse.BodyHandlers.ofString()).statusCode() == 204;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Reads one request (headers, then a body of its Content-Length) and answers 204, closing the connection. */
  private static void answerOnce(ServerSocket server, int millis) {
    try (Socket s = server.accept()) {
      s.setSoTimeout(millis);
      java.io.InputStream in = s.getInputStream();
      StringBuilder head = new StringBuilder();
      int b;
      while (head.indexOf("\r\n\r\n") < 0 && (b = in.read()) >= 0) {
        head.append((char) b);
      }
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)").matcher(head);
      long body = m.find() ? Long.parseLong(m.group(1)) : 0;
      while (body > 0 && in.read() >= 0) {
        body--;
      }
      s.getOutputStream().write("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
    } catch (IOException | NumberFormatException e) {
      // the warm-up's send fails, and says so
    }
  }

  void close() {
    // HttpClient has no close() before Java 21; its threads are daemons and end with it.
  }
}

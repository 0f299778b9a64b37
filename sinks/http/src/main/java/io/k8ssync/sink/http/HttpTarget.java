package io.k8ssync.sink.http;

import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.Secret;
import io.k8ssync.sink.config.Tls;
import java.io.IOException;
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
 */
final class HttpTarget {

  /** How a call ended. */
  enum Verdict { OK, RETRY, REJECTED }

  /** What came back; {@code status} is 0 when no response arrived. */
  record Outcome(Verdict verdict, int status, String body, Exception error) {}

  private final HttpClient client;
  private final Duration timeout;
  private final List<String> successCodes;
  private final String authorization;

  HttpTarget(HttpClient client, Duration timeout, List<String> successCodes, String authorization) {
    this.client = client;
    this.timeout = timeout;
    this.successCodes = successCodes;
    this.authorization = authorization;
  }

  static HttpTarget from(SinkContext context) {
    Config c = context.config();
    Duration timeout = c.getDuration("timeout");
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout)
        .followRedirects(c.getBoolean("followRedirects") ? HttpClient.Redirect.NORMAL : HttpClient.Redirect.NEVER);
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
    return new HttpTarget(b.build(), timeout, c.getList("successCodes"), authorization);
  }

  Outcome send(Request.Rendered r) {
    return send(r, true);
  }

  /** For drain checks, which may go to the pod itself: the target's credentials stay with the target. */
  Outcome sendWithoutAuth(Request.Rendered r) {
    return send(r, false);
  }

  private Outcome send(Request.Rendered r, boolean withAuth) {
    HttpRequest.Builder b = HttpRequest.newBuilder(r.uri()).timeout(timeout);
    r.headers().forEach(b::header);
    if (withAuth && authorization != null) {
      b.header("Authorization", authorization);
    }
    if (r.body() != null) {
      b.header("Content-Type", "application/json");
      b.method(r.method(), HttpRequest.BodyPublishers.ofString(r.body()));
    } else {
      b.method(r.method(), HttpRequest.BodyPublishers.noBody());
    }
    try {
      HttpResponse<String> resp = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Outcome(classify(resp.statusCode()), resp.statusCode(), resp.body(), null);
    } catch (IOException e) {
      return new Outcome(Verdict.RETRY, 0, null, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(Verdict.RETRY, 0, null, e);
    }
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

  void close() {
    // HttpClient has no close() before Java 21; its threads are daemons and end with it.
  }
}

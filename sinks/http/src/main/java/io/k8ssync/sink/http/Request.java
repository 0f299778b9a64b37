package io.k8ssync.sink.http;

import io.k8ssync.sink.template.Template;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.config.Config;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

/** One configured call (online, offline or drain check): method, URL, headers and body templates. */
final class Request {

  /** A call rendered for one pod, ready to send. */
  record Rendered(String kind, String method, URI uri, Map<String, String> headers, String body) {
    @Override
    public String toString() {
      return kind + " " + method + " " + uri;
    }
  }

  private final String kind;
  private final String method;
  private final Template url;
  private final Map<String, Template> headers;
  private final JsonBody body;

  Request(String kind, String method, Template url, Map<String, Template> headers, JsonBody body) {
    this.kind = kind;
    this.method = method;
    this.url = url;
    this.headers = headers;
    this.body = body;
  }

  static Request from(String kind, Config c) {
    Map<String, Template> headers = new LinkedHashMap<>();
    c.getMap("headers").forEach((k, v) -> headers.put(k, Template.parse(v)));
    Object body = c.getRaw("body");
    return new Request(kind, c.getString("method"), Template.parse(c.getString("url")), headers,
        body == null ? null : JsonBody.parse(body));
  }

  static Request get(String kind, String method, String url) {
    return new Request(kind, method, Template.parse(url), Map.of(), null);
  }

  String kind() {
    return kind;
  }

  /** Throws {@link Template.RefusedValue} when a value of {@code pod} cannot go where the template puts it. */
  Rendered render(PodState pod) {
    Map<String, String> h = new LinkedHashMap<>();
    headers.forEach((k, t) -> h.put(k, t.render(pod, Template::headerEscape)));
    return new Rendered(kind, method, URI.create(url.renderUrl(pod)), h,
        body == null ? null : body.render(pod));
  }
}

package io.k8ssync.sink.consul;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * A recursive read of a KV prefix ({@code GET /v1/kv/<prefix>?recurse}) handed over one key at a time
 * as Consul's answer is parsed, never held whole (issue 19, target 6): the Consul client's
 * {@code getValues} decodes the whole answer into a list of its {@code Value} objects first, ~30 MB at
 * 100,000 keys beside the maps a listing builds from them, and that peak sized the heap. The request is
 * the client's: the same URL, TLS trust, timeouts and connection pool, the ACL token in the
 * {@code X-Consul-Token} header only. A listing that fails part way throws after some keys were handed
 * over, so a caller applies what it gathered only once the listing returned.
 */
final class ConsulListing {

  /** One key of the listing: its full name, flags (Consul's uint64, as a long), ModifyIndex and value as UTF-8 text. */
  interface Key {
    void seen(String key, long flags, long modifyIndex, String value);
  }

  /** How a registry reads a prefix recursively; {@link ConsulListing#each} is the streaming one. */
  interface Lister {
    void each(String keyPrefix, Key key) throws SinkException;
  }

  private static final JsonFactory JSON = new JsonFactory();

  private final OkHttpClient http;
  private final HttpUrl base;
  private final SinkMetrics.Counter refused;

  /** @param http a client with the Consul client's TLS, timeouts, pool and token header */
  ConsulListing(OkHttpClient http, HttpUrl base, SinkMetrics.Counter refused) {
    this.http = http;
    this.base = base;
    this.refused = refused;
  }

  /** An interceptor that sends {@code token} as the X-Consul-Token header (never in the URL, where proxies log it). */
  static okhttp3.Interceptor tokenHeader(String token) {
    return chain -> chain.proceed(chain.request().newBuilder().header("X-Consul-Token", token).build());
  }

  /** Every key under {@code keyPrefix} (a prefix, not a folder: pass the trailing '/'), in Consul's order; none on 404. */
  void each(String keyPrefix, Key key) throws SinkException {
    HttpUrl url = base.newBuilder().addPathSegments("v1/kv/" + keyPrefix).addQueryParameter("recurse", "true").build();
    Request request = new Request.Builder().url(url).get().build();
    String what = "list " + keyPrefix;
    try (Response response = http.newCall(request).execute()) {
      int code = response.code();
      if (code == 404) {
        return; // nothing under the prefix
      }
      if (code == 401 || code == 403) {
        // An operator can fix the token or its policy; as the Consul client's calls, retried.
        refused.inc("acl_denied");
        throw SinkException.retriable(what + ": not allowed by the ACL token (" + code + "); retried until an operator"
            + " fixes the token or its policy", null);
      }
      if (code != 200) {
        throw SinkException.retriable(what + " failed: HTTP " + code, null);
      }
      try (InputStream in = response.body().byteStream(); JsonParser p = JSON.createParser(in)) {
        parse(p, key);
      }
    } catch (IOException | RuntimeException e) {
      throw SinkException.retriable(what + " failed: " + e.getClass().getSimpleName() + " " + e.getMessage(), e);
    }
  }

  /** Consul's answer: an array of {@code {"Key", "Flags", "Value" (base64 or null), "ModifyIndex", ...}}. */
  static void parse(JsonParser p, Key key) throws IOException {
    if (p.nextToken() != JsonToken.START_ARRAY) {
      throw new IOException("not a KV listing: " + p.currentToken());
    }
    while (p.nextToken() == JsonToken.START_OBJECT) {
      String name = null;
      long flags = 0;
      long index = 0;
      String value = "";
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken t = p.nextToken();
        switch (field) {
          case "Key" -> name = p.getText();
          // uint64: one above Long.MAX_VALUE reads as negative, never one of the 63-bit ownership marks.
          case "Flags" -> flags = p.getNumberType() == JsonParser.NumberType.BIG_INTEGER
              ? p.getBigIntegerValue().longValue() : p.getLongValue();
          case "ModifyIndex" -> index = p.getLongValue();
          case "Value" -> value = t == JsonToken.VALUE_NULL ? "" : new String(p.getBinaryValue(), StandardCharsets.UTF_8);
          default -> p.skipChildren();
        }
      }
      if (name == null) {
        throw new IOException("a KV entry without a Key");
      }
      key.seen(name, flags, index, value);
    }
    if (p.currentToken() != JsonToken.END_ARRAY) {
      throw new IOException("a KV listing cut short: " + p.currentToken());
    }
  }
}

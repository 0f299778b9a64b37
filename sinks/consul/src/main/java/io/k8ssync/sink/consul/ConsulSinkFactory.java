package io.k8ssync.sink.consul;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Secret;
import io.k8ssync.sink.config.Tls;
import io.k8ssync.sink.config.Validator;
import io.k8ssync.sink.upstream.UpstreamConfig;
import io.k8ssync.sink.upstream.UpstreamSink;
import java.nio.file.Path;
import java.time.Duration;
import org.kiwiproject.consul.Consul;

/**
 * The {@code consul} sink: nginx upstreams in Consul KV, exactly as nginx-upsync polls them
 * ({@code GET /v1/kv/<prefix>/<upstream>?recurse&index=N}).
 */
public final class ConsulSinkFactory implements SinkFactory {

  static final ConfigDef CONFIG = UpstreamConfig.define(new ConfigDef()
      .required("url", ConfigDef.Type.STRING, Validator.matches("https?://[A-Za-z0-9.\\[\\]:-]+/?", "an http(s)://host:port URL"),
          "Consul HTTP API, e.g. https://consul.internal:8501")
      .define("prefix", ConfigDef.Type.STRING, "upstreams", Validator.cleanPath("[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", "a KV path without leading or trailing '/'"),
          "KV prefix nginx-upsync reads: point upsync at /v1/kv/<prefix>/<upstream>/ with the trailing slash (without it, upstream web also reads webx)")
      .define("aclToken", ConfigDef.Type.SECRET, null, "ACL token with key write on the prefix")
      .define("caFile", ConfigDef.Type.STRING, null, Validator.pemCertificates(), "PEM CA certificates to trust for https")
      .define("timeout", ConfigDef.Type.DURATION, Duration.ofSeconds(5), Validator.durationAtLeast(Duration.ofMillis(100)),
          "connect and read timeout of each call"));

  @Override
  public String type() {
    return "consul";
  }

  @Override
  public String callTimeoutKey() {
    return "timeout";
  }

  /** True: nginx-upsync reads the upstreams from Consul and sends traffic where they say; the sink reports each pod's progress itself. */
  @Override
  public boolean routesTraffic() {
    return true;
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    Config c = context.config();
    long timeout = c.getDuration("timeout").toMillis();
    // One connection pool for the client and the streamed listings (ConsulListing), which take the same settings.
    okhttp3.ConnectionPool pool = new okhttp3.ConnectionPool();
    Consul.Builder b = Consul.builder().withUrl(c.getString("url")).withPing(false).withConnectionPool(pool)
        .withConnectTimeoutMillis(timeout).withReadTimeoutMillis(timeout).withWriteTimeoutMillis(timeout);
    okhttp3.OkHttpClient.Builder listing = new okhttp3.OkHttpClient.Builder().connectionPool(pool)
        .connectTimeout(java.time.Duration.ofMillis(timeout)).readTimeout(java.time.Duration.ofMillis(timeout))
        .writeTimeout(java.time.Duration.ofMillis(timeout));
    Secret token = c.getSecret("aclToken");
    if (token != null) {
      // As the X-Consul-Token header: withAclToken would append ?token= to every URL, into proxy and access logs.
      b.withTokenAuth(token.reveal());
      listing.addInterceptor(ConsulListing.tokenHeader(token.reveal()));
    }
    javax.net.ssl.X509TrustManager trust = null;
    if (c.getString("caFile") != null) {
      trust = Tls.trustManager(Path.of(c.getString("caFile")));
    } else if (c.getString("url").regionMatches(true, 0, "http:", 0, 5)) {
      // Plain HTTP: without a trust manager of their own, both OkHttp clients would load the JDK's CA store.
      trust = Tls.trustingNothing();
    }
    if (trust != null) {
      javax.net.ssl.SSLContext ssl = Tls.context(trust);
      b.withSslContext(ssl).withTrustManager(trust);
      listing.sslSocketFactory(ssl.getSocketFactory(), trust);
    }
    Consul consul = b.build();
    UpstreamConfig upstream = UpstreamConfig.from(c);
    okhttp3.HttpUrl base = okhttp3.HttpUrl.get(c.getString("url"));
    okhttp3.OkHttpClient listingClient = listing.build();
    return new UpstreamSink(context, new ConsulRegistry(consul.keyValueClient(), c.getString("prefix"), c.getDuration("timeout"),
        consul::destroy, context.metrics(), upstream.owner(), refused -> new ConsulListing(listingClient, base, refused)), upstream);
  }
}

package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.config.Secret;
import io.k8ssync.sink.config.Tls;
import io.k8ssync.sink.config.Validator;
import io.k8ssync.sink.upstream.UpstreamConfig;
import io.k8ssync.sink.upstream.UpstreamSink;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.ClientCnxnSocketNetty;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * The {@code zookeeper} sink: nginx upstreams as persistent znodes {@code <root>/<upstream>/<ip>:<port>}
 * holding nginx-upsync's JSON, for nginx builds of the module that read ZooKeeper.
 */
public final class ZooKeeperSinkFactory implements SinkFactory {

  static final String PATH = "(/[A-Za-z0-9._-]+)+";

  static final ConfigDef AUTH = new ConfigDef()
      .define("username", ConfigDef.Type.STRING, null, "digest auth user; created nodes get ALL for it and READ for everyone")
      .define("password", ConfigDef.Type.SECRET, null, "digest auth password");

  static final ConfigDef TLS = new ConfigDef()
      .define("enabled", ConfigDef.Type.BOOLEAN, false,
          "connect over TLS, to the servers' secureClientPort: without it the digest password and the data travel in clear")
      .define("caFile", ConfigDef.Type.STRING, null, ZooKeeperSinkFactory::pemCertificates,
          "PEM CA certificates that signed the servers' certificates; required when enabled")
      .define("certFile", ConfigDef.Type.STRING, null, ZooKeeperSinkFactory::readable,
          "PEM file with this client's private key (PKCS#8) and certificate chain, for servers that require client"
              + " certificates (ZooKeeper's default ssl.clientAuth=need)")
      .define("keyPassword", ConfigDef.Type.SECRET, null, "password of an encrypted private key in certFile")
      .check(ZooKeeperSinkFactory::checkTls);

  /** The TLS keys go together: caFile (and certFile) only with enabled, enabled only with caFile. */
  static void checkTls(Config tls) throws ConfigException {
    String caFile = tls.getString("caFile");
    String certFile = tls.getString("certFile");
    if (!tls.getBoolean("enabled")) {
      if (caFile != null || certFile != null) {
        throw new ConfigException(tls.keyPath("enabled"), "found false beside " + (caFile != null ? "caFile" : "certFile")
            + "; expected true, or no TLS keys (a connection in clear is not what a CA file asks for)");
      }
    } else if (caFile == null) {
      throw new ConfigException(tls.keyPath("caFile"), "missing; expected a PEM file of CA certificates when tls.enabled is true");
    }
  }

  static final ConfigDef CONFIG = UpstreamConfig.define(new ConfigDef()
      .required("connect", ConfigDef.Type.STRING, Validator.matches("[A-Za-z0-9._:,\\[\\]-]+(/[A-Za-z0-9._/-]*)?", "a host:port list, e.g. zk1:2181,zk2:2181"),
          "ZooKeeper connect string")
      .define("root", ConfigDef.Type.STRING, "/nginx/upstreams", ZooKeeperSinkFactory::znodePath, "where upstreams live")
      .define("ownerRoot", ConfigDef.Type.STRING, "/k8s-sync/owners", ZooKeeperSinkFactory::znodePath,
          "where this daemon marks the entries it owns: <ownerRoot>/<cluster>/<upstream>/<ip>:<port>, outside what nginx reads")
      .define("sessionTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ofSeconds(1)), "session timeout")
      .define("connectionTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(5), Validator.durationAtLeast(Duration.ofMillis(100)),
          "how long one operation waits for a connection before it fails (and is retried)")
      .section("auth", AUTH, "digest authentication")
      .section("tls", TLS, "TLS to ZooKeeper"));

  @Override
  public String type() {
    return "zookeeper";
  }

  @Override
  public String callTimeoutKey() {
    return "connectionTimeout";
  }

  /** True: nginx-upsync reads the upstreams from ZooKeeper and sends traffic where they say; the sink reports each pod's progress itself. */
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
    if (c.getSection("auth").getString("username") != null && !c.getSection("tls").getBoolean("enabled")) {
      context.logger().log(System.Logger.Level.WARNING, "sink {0}: digest auth without TLS, the password travels in clear;"
          + " set tls.enabled and tls.caFile", context.name());
    }
    UpstreamConfig upstream = UpstreamConfig.from(c);
    CuratorFramework client = clientBuilder(c).build();
    client.getConnectionStateListenable().addListener(new ConnectionStates(context, c.getString("connect")));
    ZooKeeperRegistry registry = new ZooKeeperRegistry(client, c.getString("root"), c.getString("ownerRoot"),
        context.metrics(), upstream.owner());
    return new UpstreamSink(context, registry, upstream);
  }

  /** A Curator client for this config: connection, TLS, digest auth and the ACLs of created nodes. */
  static CuratorFrameworkFactory.Builder clientBuilder(Config c) {
    CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
        .connectString(c.getString("connect"))
        .sessionTimeoutMs((int) c.getDuration("sessionTimeout").toMillis())
        .connectionTimeoutMs((int) c.getDuration("connectionTimeout").toMillis())
        // One quick retry inside Curator; the daemon's queue owns the real backoff.
        .retryPolicy(new RetryNTimes(1, 100));
    Config auth = c.getSection("auth");
    String username = auth.getString("username");
    if (username != null) {
      Secret password = auth.getSecret("password");
      String digest = username + ":" + (password == null ? "" : password.reveal());
      b.authorization("digest", digest.getBytes(StandardCharsets.UTF_8)).aclProvider(acls(digest, username));
    }
    ZKClientConfig tls = tlsConfig(c.getSection("tls"));
    if (tls != null) {
      b.zkClientConfig(tls);
    }
    return b;
  }

  /**
   * ZooKeeper's client TLS (Netty socket, PEM trust and key stores), or null when off. Every store
   * setting is set here, so none is taken from JVM system properties meant for something else.
   */
  static ZKClientConfig tlsConfig(Config tls) {
    try {
      checkTls(tls); // checked at parse already; a config built by hand gets the same answer
    } catch (ConfigException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    String caFile = tls.getString("caFile");
    String certFile = tls.getString("certFile");
    if (!tls.getBoolean("enabled")) {
      return null;
    }
    ZKClientConfig z = new ZKClientConfig();
    z.setProperty(ZKClientConfig.SECURE_CLIENT, "true");
    z.setProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET, ClientCnxnSocketNetty.class.getName());
    try (ClientX509Util x509 = new ClientX509Util()) {
      z.setProperty(x509.getSslTruststoreLocationProperty(), caFile);
      z.setProperty(x509.getSslTruststoreTypeProperty(), "PEM");
      z.setProperty(x509.getSslTruststorePasswdProperty(), "");
      z.setProperty(x509.getSslKeystoreLocationProperty(), certFile == null ? "" : certFile);
      z.setProperty(x509.getSslKeystoreTypeProperty(), "PEM");
      // Set even when empty: a password left over from a system property would make ZooKeeper decrypt a plain key.
      Secret keyPassword = tls.getSecret("keyPassword");
      z.setProperty(x509.getSslKeystorePasswdProperty(), keyPassword == null ? "" : keyPassword.reveal());
    }
    return z;
  }

  /** A config error found after parsing, when two keys disagree; the daemon refuses to start with it. */

  /** ZooKeeper refuses . and .. segments, and keeps /zookeeper for itself: every write there would fail. */
  private static String znodePath(Object v) {
    String s = String.valueOf(v);
    String clean = Validator.cleanPath(PATH, "an absolute znode path").expected(s);
    if (clean != null) {
      return clean;
    }
    return s.equals("/zookeeper") || s.startsWith("/zookeeper/") ? "a znode path outside ZooKeeper's reserved /zookeeper tree" : null;
  }

  private static String readable(Object v) {
    return Files.isReadable(Path.of(String.valueOf(v))) ? null : "a readable file";
  }

  private static String pemCertificates(Object v) {
    if (readable(v) != null) {
      return "a readable PEM file of CA certificates";
    }
    try {
      Tls.trustManager(Path.of(String.valueOf(v)));
      return null;
    } catch (IllegalArgumentException e) {
      return "a PEM file holding at least one CA certificate";
    }
  }

  /** The writer gets ALL, everyone else READ: nginx reads anonymously, nobody else can change our nodes. */
  private static ACLProvider acls(String digest, String username) {
    List<ACL> list;
    try {
      // A mutable list: Curator and ZooKeeper look up nulls in it, which immutable lists refuse.
      list = new ArrayList<>(List.of(
          new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest(digest))),
          new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("digest auth for " + username + " is not available", e);
    }
    return new ACLProvider() {
      @Override
      public List<ACL> getDefaultAcl() {
        return list;
      }

      @Override
      public List<ACL> getAclForPath(String path) {
        return list;
      }
    };
  }
}

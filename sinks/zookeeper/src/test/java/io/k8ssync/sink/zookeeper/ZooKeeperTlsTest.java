package io.k8ssync.sink.zookeeper;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.upstream.UpsyncEntry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zookeeper sink against a real ZooKeeper that listens only on TLS and requires client
 * certificates (its default). Key material is made at test time with the JDK's keytool, in a temp dir.
 */
class ZooKeeperTlsTest {

  private static final String NODE = "/nginx/upstreams/web/10.0.0.1:8080";

  @TempDir
  static Path dir;
  private static TlsZooKeeperServer zk;
  private final List<Sink> sinks = new ArrayList<>();
  private final List<CuratorFramework> readers = new ArrayList<>();

  @BeforeAll
  static void startServerWithTls() throws Exception {
    keyPair("server");
    keyPair("client");
    writeClientKeyAndCertificate();
    zk = new TlsZooKeeperServer(Files.createDirectory(dir.resolve("data")), Map.of(
        "ssl.keyStore.location", dir.resolve("server.p12").toString(),
        "ssl.keyStore.password", "changeit",
        "ssl.keyStore.type", "PKCS12",
        "ssl.trustStore.location", dir.resolve("client-cert.pem").toString(),
        "ssl.trustStore.type", "PEM"));
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (zk != null) {
      zk.close();
    }
  }

  @AfterEach
  void close() {
    sinks.forEach(Sink::close);
    readers.forEach(CuratorFramework::close);
  }

  /** A self-signed EC key pair for 127.0.0.1 in {@code <name>.p12}, its certificate in {@code <name>-cert.pem}. */
  private static void keyPair(String name) throws Exception {
    keytool("-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12",
        "-keystore", name + ".p12", "-storepass", "changeit", "-keypass", "changeit");
    keytool("-exportcert", "-rfc", "-alias", name, "-keystore", name + ".p12", "-storepass", "changeit",
        "-file", name + "-cert.pem");
  }

  private static void keytool(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + "\n" + out);
  }

  /** keytool cannot write a private key as PEM: the client's PKCS#8 key and certificate, in one file as ZooKeeper reads it. */
  private static void writeClientKeyAndCertificate() throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(dir.resolve("client.p12"))) {
      ks.load(in, "changeit".toCharArray());
    }
    PrivateKey key = (PrivateKey) ks.getKey("client", "changeit".toCharArray());
    String pem = "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(key.getEncoded()) + "\n-----END PRIVATE KEY-----\n" + Files.readString(dir.resolve("client-cert.pem"));
    Files.writeString(dir.resolve("client.pem"), pem);
  }

  private static Map<String, Object> tls(String caFile) {
    return Map.of("enabled", true, "caFile", dir.resolve(caFile).toString(), "certFile", dir.resolve("client.pem").toString());
  }

  private TestSinkContext context(Map<String, Object> extra) throws ConfigException {
    Map<String, Object> c = new HashMap<>(Map.of("connect", zk.connectString(), "connectionTimeout", "1s", "reconcileEvery", "0"));
    c.putAll(extra);
    return new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(), c, Selector.ALL);
  }

  private Sink sink(Map<String, Object> extra) throws Exception {
    Sink s = new ZooKeeperSinkFactory().create(context(extra));
    sinks.add(s);
    s.start();
    return s;
  }

  /** A client that does speak TLS to the server, to look at what the sink wrote. */
  private CuratorFramework reader() throws Exception {
    CuratorFramework r = ZooKeeperSinkFactory.clientBuilder(context(Map.of("tls", tls("server-cert.pem"))).config()).build();
    readers.add(r);
    r.start();
    assertTrue(r.blockUntilConnected(20, TimeUnit.SECONDS), "the TLS reader connects");
    return r;
  }

  private static void apply(Sink s, PodState pod) throws SinkException {
    s.apply(List.of(PodChange.of(pod.key(), null, pod)));
  }

  @Test
  void writesGoOverTlsWithAClientCertificateAndDigestAuthInside() throws Exception {
    Path pw = Files.writeString(dir.resolve("zk.pw"), "s3cret");
    Sink s = sink(Map.of("tls", tls("server-cert.pem"),
        "auth", Map.of("username", "k8s-sync", "password", "${file:" + pw + "}")));
    apply(s, ready("web-1", "10.0.0.1"));

    CuratorFramework r = reader();
    assertEquals(new UpsyncEntry(1, 2, 10, false, false),
        UpsyncEntry.parse(new String(r.getData().forPath(NODE), StandardCharsets.UTF_8)));
    List<ACL> acl = r.getACL().forPath(NODE);
    assertTrue(acl.stream().anyMatch(a -> a.getId().getScheme().equals("digest") && a.getPerms() == ZooDefs.Perms.ALL), acl.toString());
  }

  @Test
  void aClientWithoutTlsCannotTalkToTheSecurePort() throws Exception {
    Sink plain = sink(Map.of());
    SinkException e = assertThrows(SinkException.class, () -> apply(plain, ready("web-2", "10.0.0.2")));
    assertTrue(e.retriable(), "a connection that cannot be made is retried: " + e.getMessage());
    assertNull(reader().checkExists().forPath("/nginx/upstreams/web/10.0.0.2:8080"));
  }

  @Test
  void aServerWhoseCertificateTheCaFileDoesNotVouchForIsRefused() throws Exception {
    Sink untrusting = sink(Map.of("tls", tls("client-cert.pem")));
    SinkException e = assertThrows(SinkException.class, () -> apply(untrusting, ready("web-3", "10.0.0.3")));
    assertTrue(e.retriable(), e.getMessage());
    assertNull(reader().checkExists().forPath("/nginx/upstreams/web/10.0.0.3:8080"));
  }

  @Test
  void aClientWithoutACertificateIsRefusedByAServerThatNeedsOne() throws Exception {
    Sink anonymous = sink(Map.of("tls", Map.of("enabled", true, "caFile", dir.resolve("server-cert.pem").toString())));
    SinkException e = assertThrows(SinkException.class, () -> apply(anonymous, ready("web-4", "10.0.0.4")));
    assertTrue(e.retriable(), e.getMessage());
    assertNull(reader().checkExists().forPath("/nginx/upstreams/web/10.0.0.4:8080"));
  }

  @Test
  void tlsKeysThatCannotWorkAreConfigErrorsNamingTheKey() throws Exception {
    // Keys that only fail together are caught when the config is read, so validate finds them too.
    ConfigException noCa = assertThrows(ConfigException.class, () -> context(Map.of("tls", Map.of("enabled", true))));
    assertEquals("sinks[0].config.tls.caFile", noCa.path());
    assertTrue(noCa.getMessage().contains("missing"), noCa.getMessage());

    ConfigException missingFile = assertThrows(ConfigException.class,
        () -> context(Map.of("tls", Map.of("enabled", true, "caFile", dir.resolve("nope.pem").toString()))));
    assertEquals("sinks[0].config.tls.caFile", missingFile.path());

    ConfigException notPem = assertThrows(ConfigException.class,
        () -> context(Map.of("tls", Map.of("enabled", true, "caFile", dir.resolve("client.p12").toString()))));
    assertEquals("sinks[0].config.tls.caFile", notPem.path());

    ConfigException caWithoutTls = assertThrows(ConfigException.class,
        () -> context(Map.of("tls", Map.of("caFile", dir.resolve("server-cert.pem").toString()))));
    assertEquals("sinks[0].config.tls.enabled", caWithoutTls.path());
    assertFalse(caWithoutTls.getMessage().contains("changeit"));
  }
}

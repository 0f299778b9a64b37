package io.k8ssync.sink.http;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A target behind TLS with its own CA: trusted through tls.caFile, refused without it. */
class HttpSinkTlsTest {

  @Test
  void trustsTheConfiguredCaOnly(@TempDir Path dir) throws Exception {
    Path ks = dir.resolve("server.p12");
    Path pem = dir.resolve("ca.pem");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    run(keytool, "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
        "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(),
        "-storepass", "changeit", "-keypass", "changeit");
    run(keytool, "-exportcert", "-rfc", "-alias", "server", "-keystore", ks.toString(), "-storepass", "changeit",
        "-file", pem.toString());

    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ks)) {
      store.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, "changeit".toCharArray());
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(kmf.getKeyManagers(), null, null);

    try (RecordingTarget target = new RecordingTarget(tls)) {
      PodState p = ready("web-1", "10.0.0.1");
      HttpSink trusting = sink(target, Map.of("tls", Map.of("caFile", pem.toString())));
      trusting.apply(List.of(PodChange.of(p.key(), null, p)));
      assertEquals(1, target.calls.size());
      trusting.close();

      HttpSink untrusting = sink(target, Map.of());
      SinkException e = assertThrows(SinkException.class, () -> untrusting.apply(List.of(PodChange.of(p.key(), null, p))));
      assertTrue(e.retriable());
      assertTrue(e.getMessage().contains("SSLHandshakeException"), e.getMessage());
      assertEquals(1, target.calls.size(), "nothing reached the target over an untrusted connection");
      untrusting.close();
    }
  }

  private static HttpSink sink(RecordingTarget target, Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of(
        "online", Map.of("url", target.url() + "/online/{service}"),
        "offline", Map.of("url", target.url() + "/offline/{service}")));
    c.putAll(extra);
    TestSinkContext ctx = new TestSinkContext("gw", new HttpSinkFactory().configDef(), c, Selector.ALL);
    HttpSink sink = new HttpSink(ctx, HttpTarget.from(ctx), System::nanoTime);
    sink.leadershipChanged("c1", 0, true);
    sink.podsSynced();
    return sink;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + "\n" + out);
  }
}

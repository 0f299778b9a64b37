package io.k8ssync.daemon;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.http.TlsVersion;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;

/**
 * The API client's TLS cipher order when the JVM compiles with C1 only (the shipped
 * {@code -XX:TieredStopAtLevel=1}): ChaCha20-Poly1305 first. AES-GCM is fast through intrinsics that
 * only C2 has; under C1 the JDK's pure-Java AES-GCM decrypts the initial pod list at about half the
 * speed of its ChaCha20-Poly1305 (4 MiB: 0.41 against 0.18 CPU-s), and a Go API server takes the
 * client's preference between the two. Nothing is added or removed, only the order changes, and only
 * for the Kubernetes client; with C2, or with {@code jdk.tls.client.cipherSuites} set, the JDK's order stays.
 * docs/BENCHMARKS.md, "Footprint beside a Go peer".
 */
final class ChaChaFirst {

  private ChaChaFirst() {}

  /** C1 only: HotSpot says "emulated-client" in java.vm.info then (TieredStopAtLevel=1 or CompilationMode=quick-only). */
  static boolean c1Only() {
    return System.getProperty("java.vm.info", "").contains("emulated-client");
  }

  /** The client's parameters with ChaCha20 first, or null to leave the client's as they are. */
  static SSLParameters forApiClient(Config config) {
    return !c1Only() || System.getProperty("jdk.tls.client.cipherSuites") != null ? null : parameters(config);
  }

  /** The JDK's default suites of a client in {@link #order}, and the config's TLS versions (null: the JDK's). */
  static SSLParameters parameters(Config config) {
    String[] suites;
    try {
      // Without trust or key managers of its own: the JDK's CA store is not read for a list of names.
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[0], new TrustManager[0], null);
      suites = context.getDefaultSSLParameters().getCipherSuites();
    } catch (GeneralSecurityException e) {
      return null;
    }
    String[] protocols = config.getTlsVersions() == null || config.getTlsVersions().length == 0 ? null
        : Arrays.stream(config.getTlsVersions()).map(TlsVersion::javaName).toArray(String[]::new);
    return new SSLParameters(order(suites), protocols);
  }

  /**
   * {@code suites} with each ChaCha20-Poly1305 suite moved before the first suite of its key exchange
   * (TLS 1.3's suites are one group), everything else in its order: an ECDHE server is never offered
   * DHE earlier than before.
   */
  static String[] order(String[] suites) {
    List<String> out = new ArrayList<>(List.of(suites));
    for (String suite : suites) {
      if (suite.contains("_CHACHA20_")) {
        out.remove(suite);
        int first = 0;
        while (first < out.size() && !keyExchange(out.get(first)).equals(keyExchange(suite))) {
          first++;
        }
        out.add(first, suite);
      }
    }
    return out.toArray(String[]::new);
  }

  private static String keyExchange(String suite) {
    int with = suite.indexOf("_WITH_");
    return with < 0 ? "" : suite.substring(0, with);
  }
}

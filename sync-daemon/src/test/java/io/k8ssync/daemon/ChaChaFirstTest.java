package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.fabric8.kubernetes.client.ConfigBuilder;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChaChaFirstTest {

  @Test
  void movesEachChaChaSuiteBeforeTheOthersOfItsKeyExchangeOnly() {
    String[] jdk17 = {"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"};
    assertEquals(List.of("TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
        List.of(ChaChaFirst.order(jdk17)));
  }

  @Test
  void keepsAListWithoutChaChaAsItIs() {
    String[] suites = {"TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
    assertArrayEquals(suites, ChaChaFirst.order(suites.clone()));
  }

  /** The tests' JVM compiles with C2 too: the JDK's order, where AES-GCM has its intrinsics. */
  @Test
  void leavesTheClientAloneWithC2() {
    assertEquals(false, ChaChaFirst.c1Only(), System.getProperty("java.vm.info"));
    assertNull(ChaChaFirst.forApiClient(new ConfigBuilder().build()));
  }

  @Test
  void offersTheJdksSuitesInC1OrderAndTheConfigsProtocols() throws Exception {
    javax.net.ssl.SSLContext c = javax.net.ssl.SSLContext.getInstance("TLS");
    c.init(new javax.net.ssl.KeyManager[0], new javax.net.ssl.TrustManager[0], null);
    String[] jdk = c.getDefaultSSLParameters().getCipherSuites();
    javax.net.ssl.SSLParameters p = ChaChaFirst.parameters(new ConfigBuilder()
        .withTlsVersions(io.fabric8.kubernetes.client.http.TlsVersion.TLS_1_3, io.fabric8.kubernetes.client.http.TlsVersion.TLS_1_2).build());
    assertEquals("TLS_CHACHA20_POLY1305_SHA256", p.getCipherSuites()[0]);
    String[] a = jdk.clone();
    String[] b = p.getCipherSuites().clone();
    Arrays.sort(a);
    Arrays.sort(b);
    assertArrayEquals(a, b, "the same suites, none added or removed");
    assertArrayEquals(new String[] {"TLSv1.3", "TLSv1.2"}, p.getProtocols());
  }
}

package io.k8ssync.sink.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/** TLS trust from a PEM file of CA certificates, for sinks that talk to servers with a private CA. */
public final class Tls {

  private Tls() {}

  /** A trust manager that trusts exactly the certificates in {@code caFile}. */
  public static X509TrustManager trustManager(Path caFile) {
    try (InputStream in = Files.newInputStream(caFile)) {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      int i = 0;
      for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca-" + i++, cert);
      }
      if (i == 0) {
        throw new IllegalArgumentException("CA file " + caFile + " holds no certificate");
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(ks);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager x) {
          return x;
        }
      }
      throw new IllegalStateException("no X509 trust manager");
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("CA file " + caFile + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** An SSLContext trusting exactly the certificates in {@code caFile}. */
  public static SSLContext trusting(Path caFile) {
    try {
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, new TrustManager[] {trustManager(caFile)}, null);
      return ssl;
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("CA file " + caFile + " cannot be used: " + e.getMessage(), e);
    }
  }
}

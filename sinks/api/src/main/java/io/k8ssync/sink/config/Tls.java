package io.k8ssync.sink.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
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

  /**
   * A trust manager that trusts no certificate, for a client of a plain {@code http://} server: OkHttp
   * otherwise loads the JDK's whole CA store (cacerts) when a client is built, even for a URL it will never
   * open with TLS (~0.1 CPU-s of a daemon's start, docs/BENCHMARKS.md "Footprint beside a Go peer"). A TLS
   * connection such a client was led to anyway (a redirect to https) fails its handshake.
   */
  public static X509TrustManager trustingNothing() {
    return new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this client speaks plain HTTP only: no certificate is trusted");
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("this client speaks plain HTTP only: no certificate is trusted");
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
  }

  /** An SSLContext over {@code trustManager}. */
  public static SSLContext context(X509TrustManager trustManager) {
    try {
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, new TrustManager[] {trustManager}, null);
      return ssl;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("no TLS context: " + e.getMessage(), e);
    }
  }

  /** An SSLContext trusting exactly the certificates in {@code caFile}. */
  public static SSLContext trusting(Path caFile) {
    return context(trustManager(caFile));
  }
}

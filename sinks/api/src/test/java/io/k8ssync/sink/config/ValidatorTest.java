package io.k8ssync.sink.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidatorTest {

  /** A self-signed test CA (EC P-256), valid for a century: only parsed, never trusted for anything. */
  static final String CA_PEM = String.join("\n",
      "-----BEGIN CERTIFICATE-----",
      "MIIBTzCB9aADAgECAghQVeCKQGspnzAKBggqhkjOPQQDAjAbMRkwFwYDVQQDExBr",
      "OHMtc3luYyB0ZXN0IENBMCAXDTI2MTIwNDE3MDkxMloYDzIxMjYxMTEwMTcwOTEy",
      "WjAbMRkwFwYDVQQDExBrOHMtc3luYyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZI",
      "zj0DAQcDQgAE1Rkx+AUg9yhBn6wbcAMmwRkR/q8bHlQFXccMx4UTHxpLLqhLqLTx",
      "goNN4+YYGk8/mLPQsJ1GCCx64UmZvQ7lBKMhMB8wHQYDVR0OBBYEFKkbMqpr9H+w",
      "q54OX5hDJf1RwVldMAoGCCqGSM49BAMCA0kAMEYCIQDtTG0LEg2LHJgKVkKfje3B",
      "AlA6Hxmfmy7aOY4yhRVdGQIhAPnZ0aQEJ2COC282RikhpUoi5ty+MuLhJZyWVB+B",
      "nFuF",
      "-----END CERTIFICATE-----", "");

  @Test
  void readableFile(@TempDir Path dir) throws Exception {
    Path f = Files.writeString(dir.resolve("f"), "x");
    assertNull(Validator.readableFile().expected(f.toString()));
    assertEquals("a readable file (no such file)", Validator.readableFile().expected(dir.resolve("nope").toString()));
    assertEquals("a readable file (a directory)", Validator.readableFile().expected(dir.toString()));
  }

  @Test
  void pemCertificates(@TempDir Path dir) throws Exception {
    Path ca = Files.writeString(dir.resolve("ca.pem"), CA_PEM);
    assertNull(Validator.pemCertificates().expected(ca.toString()));
    Path text = Files.writeString(dir.resolve("ca.txt"), "not a certificate\n");
    assertEquals("a PEM file holding at least one certificate", Validator.pemCertificates().expected(text.toString()));
    Path empty = Files.write(dir.resolve("empty.pem"), new byte[0]);
    assertEquals("a PEM file holding at least one certificate", Validator.pemCertificates().expected(empty.toString()));
    assertEquals("a readable PEM file of certificates (no such file)",
        Validator.pemCertificates().expected(dir.resolve("nope.pem").toString()));
    Files.write(dir.resolve("bin.pem"), new byte[] {(byte) 0xff, 0, 1});
    assertEquals("a PEM file holding at least one certificate", Validator.pemCertificates().expected(dir.resolve("bin.pem").toString()));
  }

  @Test
  void cleanPathRefusesDotSegments() {
    Validator v = Validator.cleanPath("(/[A-Za-z0-9._-]+)+", "an absolute znode path");
    assertNull(v.expected("/nginx/upstreams"));
    assertNull(v.expected("/nginx/.hidden/a..b"));
    String expected = "an absolute znode path without . or .. segments";
    assertEquals(expected, v.expected("/nginx/../zookeeper"));
    assertEquals(expected, v.expected("/nginx/."));
    assertEquals(expected, v.expected("/.."));
    assertEquals(expected, v.expected("nginx"), "the pattern still applies");
    Validator relative = Validator.cleanPath("[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*", "a KV path");
    assertNull(relative.expected("upstreams"));
    assertEquals("a KV path without . or .. segments", relative.expected("../../etc"));
    assertEquals("a KV path without . or .. segments", relative.expected("a/./b"));
  }
}

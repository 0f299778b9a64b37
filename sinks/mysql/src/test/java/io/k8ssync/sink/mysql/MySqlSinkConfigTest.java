package io.k8ssync.sink.mysql;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The mysql sink's config, parsed as the daemon parses it: no database needed. */
class MySqlSinkConfigTest {

  private static final String SECRET = "s3cr3t-Pa55";

  private static void parse(String jdbcUrl) throws Exception {
    Path password = Files.createTempFile("db", ".pw");
    Files.writeString(password, "the-right-place");
    new MySqlSinkFactory().configDef().parse("sinks[0].config",
        Map.of("jdbcUrl", jdbcUrl, "username", "k8s_sync", "password", "${file:" + password + "}"), ConfigDef.SecretReader.DEFAULT);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:mariadb://db.internal:3306/platform?password=" + SECRET,
      "jdbc:mariadb://db.internal:3306/platform?sslMode=verify-full&PassWord=" + SECRET + "&user=k8s_sync",
      "jdbc:mysql://db.internal/platform?user=k8s_sync&password=" + SECRET,
      "jdbc:mariadb://db.internal/platform?trustStorePassword=" + SECRET,
      "jdbc:mariadb://db.internal/platform?user=k8s_sync;password=" + SECRET,
      "jdbc:mysql://address=(host=db.internal)(port=3306)(password=" + SECRET + ")/platform",
      "jdbc:mariadb://k8s_sync:" + SECRET + "@db.internal:3306/platform",
      "jdbc:mariadb://k8s_sync:" + SECRET + "@db1.internal,db2.internal/platform?sslMode=verify-full",
      "jdbc:mariadb://k8s_sync:" + SECRET + "@" + SECRET + "@db.internal/platform",
      // A URL that fails for another reason as well is not echoed with its password either.
      "mysql://k8s_sync:" + SECRET + "@db.internal/platform",
  })
  void aPasswordInTheUrlIsRefusedAtItsKeyWithoutEchoingIt(String url) {
    ConfigException e = assertThrows(ConfigException.class, () -> parse(url));
    assertEquals("sinks[0].config.jdbcUrl", e.path());
    assertTrue(e.getMessage().contains("sinks[0].config.jdbcUrl"), e.getMessage());
    assertFalse(e.getMessage().contains(SECRET), "the password is never echoed: " + e.getMessage());
    assertFalse(e.getMessage().contains(SECRET.substring(0, 4)), "not even a part of it: " + e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:mariadb://db.internal:3306/platform?password=" + SECRET,
      "jdbc:mariadb://k8s_sync:" + SECRET + "@db.internal:3306/platform",
  })
  void theRefusalSaysWhereThePasswordGoes(String url) {
    ConfigException e = assertThrows(ConfigException.class, () -> parse(url));
    assertTrue(e.getMessage().contains("password key"), e.getMessage());
    assertTrue(e.getMessage().contains("${env:NAME}") && e.getMessage().contains("${file:/path}"), e.getMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:mariadb://db.internal:3306/platform",
      "jdbc:mariadb://db.internal:3306/platform?user=k8s_sync&sslMode=verify-full&serverSslCert=/etc/k8s-sync/db-ca.pem",
      "jdbc:mysql://db.internal/platform?connectTimeout=5000",
  })
  void aUrlWithoutCredentialsIsAccepted(String url) {
    assertDoesNotThrow(() -> parse(url));
  }
}

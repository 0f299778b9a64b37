package io.k8ssync.sink.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigDefTest {

  private final ConfigDef def = new ConfigDef()
      .required("url", ConfigDef.Type.STRING, Validator.matches("https?://.+", "an http(s) URL"), "where to call")
      .define("timeout", ConfigDef.Type.DURATION, Duration.ofSeconds(5), "how long to wait")
      .define("retries", ConfigDef.Type.INT, 3, Validator.between(0, 10), "attempts")
      .define("token", ConfigDef.Type.SECRET, null, "bearer token")
      .define("tags", ConfigDef.Type.STRING_LIST, List.of(), "tags");

  private static final ConfigDef.SecretReader ENV = (path, kind, ref) -> {
    if (kind.equals("env") && ref.equals("TOKEN")) {
      return Secret.of("env:TOKEN", "s3cret");
    }
    return ConfigDef.SecretReader.DEFAULT.read(path, kind, ref);
  };

  private String error(Object raw) {
    return assertThrows(ConfigException.class, () -> def.parse("sinks[0].config", raw, ENV)).getMessage();
  }

  @Test
  void appliesDefaultsAndTypes() throws Exception {
    Config c = def.parse("x", Map.of("url", "http://gw", "timeout", "250ms", "tags", List.of("a")), ENV);
    assertEquals("http://gw", c.getString("url"));
    assertEquals(Duration.ofMillis(250), c.getDuration("timeout"));
    assertEquals(3, c.getInt("retries"));
    assertEquals(List.of("a"), c.getList("tags"));
    assertFalse(c.isSet("token"));
  }

  @Test
  void unknownKeyNamesPathAndTheKeysExpected() {
    assertEquals("config error at sinks[0].config.timout: unknown key; expected one of: url, timeout, retries, token, tags",
        error(Map.of("url", "http://gw", "timout", "1s")));
  }

  @Test
  void missingRequiredKey() {
    assertEquals("config error at sinks[0].config.url: missing; expected a string (where to call)", error(Map.of()));
  }

  @Test
  void wrongTypeNamesValueAndExpectation() {
    assertEquals("config error at sinks[0].config.retries: found \"three\"; expected an integer",
        error(Map.of("url", "http://gw", "retries", "three")));
    assertEquals("config error at sinks[0].config.timeout: found \"5 seconds\"; expected a duration such as 500ms, 30s, 5m or 1h",
        error(Map.of("url", "http://gw", "timeout", "5 seconds")));
  }

  @Test
  void validatorFailureNamesRange() {
    assertEquals("config error at sinks[0].config.retries: found \"11\"; expected a value between 0 and 10",
        error(Map.of("url", "http://gw", "retries", 11)));
    assertEquals("config error at sinks[0].config.url: found \"ftp://x\"; expected an http(s) URL",
        error(Map.of("url", "ftp://x")));
  }

  @Test
  void notAMapping() {
    assertEquals("config error at sinks[0].config: found \"oops\"; expected a mapping", error("oops"));
  }

  @Test
  void inlineSecretIsRefusedWithoutEchoingIt() {
    String msg = error(Map.of("url", "http://gw", "token", "hunter2"));
    assertEquals("config error at sinks[0].config.token: found an inline value; expected ${env:NAME} or ${file:/path};"
        + " secrets are never accepted inline", msg);
    assertFalse(msg.contains("hunter2"));
  }

  @Test
  void secretFromEnvAndFileNeverPrintsItsValue(@TempDir Path dir) throws Exception {
    Config c = def.parse("x", Map.of("url", "http://gw", "token", "${env:TOKEN}"), ENV);
    assertEquals("s3cret", c.getSecret("token").reveal());
    assertFalse(c.getSecret("token").toString().contains("s3cret"));
    assertFalse(c.toString().contains("s3cret"));

    Path f = dir.resolve("token");
    Files.writeString(f, "from-file\n");
    Config fromFile = def.parse("x", Map.of("url", "http://gw", "token", "${file:" + f + "}"), ENV);
    assertEquals("from-file", fromFile.getSecret("token").reveal());
  }

  @Test
  void missingSecretSourcesAreNamed(@TempDir Path dir) {
    assertEquals("config error at sinks[0].config.token: environment variable NOPE_NOT_SET is not set;"
        + " expected it to hold the secret", error(Map.of("url", "http://gw", "token", "${env:NOPE_NOT_SET}")));
    String missing = dir.resolve("absent").toString();
    assertEquals("config error at sinks[0].config.token: cannot read file " + missing
        + " (NoSuchFileException); expected a readable file holding the secret",
        error(Map.of("url", "http://gw", "token", "${file:" + missing + "}")));
  }

  @Test
  void controlCharactersInValuesAreEscapedInMessages() {
    String msg = error(Map.of("url", "ftp://\n\u001b[31mred"));
    assertTrue(msg.contains("\\u000a\\u001b[31mred"), msg);
  }

  @Test
  void parsesDurations() {
    assertEquals(Duration.ofMillis(500), ConfigDef.parseDuration("500ms"));
    assertEquals(Duration.ofMinutes(5), ConfigDef.parseDuration("5m"));
    assertEquals(Duration.ofHours(1), ConfigDef.parseDuration("1h"));
    assertEquals(Duration.ZERO, ConfigDef.parseDuration(0));
    assertEquals(null, ConfigDef.parseDuration("-1s"));
    assertEquals(null, ConfigDef.parseDuration("1.5s"));
    assertEquals(null, ConfigDef.parseDuration(30));
  }
}

package io.k8ssync.sink.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import org.junit.jupiter.api.Test;

/** A config error never echoes the user info of a URL, whoever built the message. */
class ConfigExceptionTest {

  @Test
  void showMasksUserInfo() {
    assertEquals("\"http://***@host:8500/v1\"", ConfigException.show("http://user:s3cret@host:8500/v1"));
    assertEquals("\"https://***@gw/x\"", ConfigException.show("https://token@gw/x"));
    assertEquals("\"***@broker:9092,b2:9092\"", ConfigException.show("user:s3cret@broker:9092,b2:9092"));
    assertEquals("\"a, ***@b\"", ConfigException.show("a, user:s3cret@b"));
    // A password holding '@' or '/' is masked whole.
    assertEquals("\"http://***@host\"", ConfigException.show("http://user:p@ss/w@host"));
    assertEquals("\"http://host:8500/v1\"", ConfigException.show("http://host:8500/v1"));
    assertEquals("\"ops@example.com\"", ConfigException.show("ops@example.com"), "no colon, no scheme: not user info");
  }

  @Test
  void masksBeforeItTruncates() {
    String shown = ConfigException.show("http://user:" + "s".repeat(70) + "cret@host/" + "p".repeat(100));
    assertFalse(shown.contains("sss"), shown);
  }

  @Test
  void theWholeMessageIsMasked() {
    ConfigException e = new ConfigException("sinks[0].config.url", "not valid YAML: token 'http://u:s3cret@h' unexpected");
    assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    assertEquals("config error at sinks[0].config.url: not valid YAML: token 'http://***@h' unexpected", e.getMessage());
  }
}

package io.k8ssync.sink.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue #15: a header name that is not an HTTP token was accepted, then every call threw at run time
 * and was retried forever. It is a config error at {@code validate}, as is a literal Authorization.
 */
class HttpSinkHeaderConfigTest {

  private static final String EXPECTED_TOKEN = "expected header names that are HTTP tokens: letters, digits and "
      + "!#$%&'*+-.^_`|~; ";

  private static ConfigException error(Map<String, String> onlineHeaders) {
    Map<String, Object> online = new LinkedHashMap<>();
    online.put("url", "https://gw/on/{service}");
    online.put("headers", onlineHeaders);
    Map<String, Object> config = Map.of("online", online, "offline", Map.of("url", "https://gw/off"));
    return assertThrows(ConfigException.class,
        () -> new HttpSinkFactory().configDef().parse("sinks[0].config", config, ConfigDef.SecretReader.DEFAULT),
        "accepted headers " + onlineHeaders.keySet());
  }

  @Test
  void aHeaderNameThatIsNotAnHttpTokenIsAConfigError() {
    assertEquals("config error at sinks[0].config.online.headers: found a mapping; " + EXPECTED_TOKEN + "\"X Team\" is not",
        error(Map.of("X Team", "{annotation.team}")).getMessage());
    assertEquals("config error at sinks[0].config.online.headers: found a mapping; " + EXPECTED_TOKEN + "\"X-Team:\" is not",
        error(Map.of("X-Team:", "a")).getMessage());
    assertEquals("config error at sinks[0].config.online.headers: found a mapping; " + EXPECTED_TOKEN
        + "\"X-Team\\u000d\\u000aX-Injected\" is not", error(Map.of("X-Team\r\nX-Injected", "a")).getMessage(),
        "control characters are escaped");
    for (String name : new String[] {"", "X(Team)", "X\"Team\"", "X/Team", "\u00e9quipe", "X\tTeam", "X;Team"}) {
      error(Map.of(name, "a"));
    }
  }

  @Test
  void aLiteralAuthorizationHeaderIsRefusedWithoutShowingItsValue() {
    for (String name : new String[] {"Authorization", "authorization", "AUTHORIZATION"}) {
      ConfigException e = error(Map.of("X-Ok", "1", name, "Bearer s3cr3t-t0ken"));
      assertEquals("config error at sinks[0].config.online.headers: found a mapping; expected no " + name + " header "
          + "(its value is not shown): credentials go in auth.bearerToken, or auth.username and auth.password, "
          + "from ${env:NAME} or ${file:/path} only", e.getMessage());
      assertFalse(e.getMessage().contains("s3cr3t"));
    }
  }

  @Test
  void headersTheHttpClientSetsItselfAreRefused() {
    for (String name : new String[] {"Host", "content-length", "Connection", "Expect", "Upgrade"}) {
      assertEquals("config error at sinks[0].config.online.headers: found a mapping; expected no " + name
          + " header: the HTTP client sets it itself", error(Map.of(name, "x")).getMessage());
    }
  }

  @Test
  void aHeaderTemplateWithControlCharactersIsRefusedByNameNotValue() {
    ConfigException e = error(Map.of("X-Key", "abc\r\nX-Injected: s3cr3t"));
    assertEquals("config error at sinks[0].config.online.headers: found a mapping; expected header X-Key to be "
        + "printable ASCII (its value is not shown)", e.getMessage());
  }

  @Test
  void validHeadersStillParse() throws Exception {
    Map<String, Object> online = Map.of("url", "https://gw/on", "headers",
        Map.of("X-Request-Source", "k8s-sync/{cluster}", "x_odd.but!valid~", "\"quoted\"; a=b, c: d"));
    new HttpSinkFactory().configDef().parse("sinks[0].config",
        Map.of("online", online, "offline", Map.of("url", "https://gw/off")), ConfigDef.SecretReader.DEFAULT);
  }
}

package io.k8ssync.sink.http;

import io.k8ssync.sink.template.Template;

import static io.k8ssync.sink.config.ConfigDef.Type.BOOLEAN;
import static io.k8ssync.sink.config.ConfigDef.Type.DURATION;
import static io.k8ssync.sink.config.ConfigDef.Type.INT;
import static io.k8ssync.sink.config.ConfigDef.Type.RAW_OBJECT;
import static io.k8ssync.sink.config.ConfigDef.Type.SECRET;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING_LIST;
import static io.k8ssync.sink.config.ConfigDef.Type.STRING_MAP;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.config.Validator;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The {@code http} sink: online and offline calls to one target (an API gateway, an RPC registry).
 * Configure one sink per target; each has its own queue, so a slow gateway never delays the registry.
 */
public final class HttpSinkFactory implements SinkFactory {

  static ConfigDef request(String what) {
    return new ConfigDef()
        .define("method", STRING, "POST", Validator.oneOf("GET", "POST", "PUT", "PATCH", "DELETE"), "HTTP method of the " + what + " call")
        .required("url", STRING, v -> {
          String problem = Template.problem(v);
          if (problem != null) {
            return problem;
          }
          String s = String.valueOf(v);
          return s.startsWith("http://") || s.startsWith("https://") ? null : "an http:// or https:// URL template";
        }, "URL template of the " + what + " call, e.g. https://gw/api/{service}/" + what + "?ip={ip}&port={port}")
        .define("headers", STRING_MAP, Map.of(), HttpSinkFactory::headersProblem, "header templates")
        .define("body", RAW_OBJECT, null, JsonBody::problem,
            "JSON body as a mapping of templates; {port} and {weight} alone become numbers");
  }

  /** RFC 9110 {@code tchar} besides letters and digits. */
  private static final String TOKEN_SYMBOLS = "!#$%&'*+-.^_`|~";
  /** Names the JDK client refuses to take (it sets them itself): each call would throw. */
  private static final Set<String> SET_BY_CLIENT = Set.of("connection", "content-length", "expect", "host", "upgrade");

  /**
   * What is wrong with the {@code headers} map, or null. Caught here, not at the first call: the JDK
   * client throws for each call with a bad header, and such a call is retried forever. A header's
   * value is never shown (one may hold a pasted credential); its name is safe to show, escaped.
   */
  static String headersProblem(Object headers) {
    for (Map.Entry<?, ?> e : ((Map<?, ?>) headers).entrySet()) {
      String name = String.valueOf(e.getKey());
      if (!isToken(name)) {
        return "header names that are HTTP tokens: letters, digits and " + TOKEN_SYMBOLS + "; " + ConfigException.show(name) + " is not";
      }
      if (name.equalsIgnoreCase("Authorization")) {
        return "no " + name + " header (its value is not shown): credentials go in auth.bearerToken, or auth.username and "
            + "auth.password, from ${env:NAME} or ${file:/path} only";
      }
      if (SET_BY_CLIENT.contains(name.toLowerCase(Locale.ROOT))) {
        return "no " + name + " header: the HTTP client sets it itself";
      }
      String value = String.valueOf(e.getValue());
      if (!value.chars().allMatch(c -> c >= 0x20 && c <= 0x7e)) {
        return "header " + name + " to be printable ASCII (its value is not shown)";
      }
      String problem = Template.problem(value);
      if (problem != null) {
        return problem;
      }
    }
    return null;
  }

  private static boolean isToken(String s) {
    if (s.isEmpty()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (!alnum && TOKEN_SYMBOLS.indexOf(c) < 0) {
        return false;
      }
    }
    return true;
  }

  static final ConfigDef AUTH = new ConfigDef()
      .define("bearerToken", SECRET, null, "sent as 'Authorization: Bearer ...'")
      .define("username", STRING, null, "basic auth user")
      .define("password", SECRET, null, "basic auth password");

  static final ConfigDef TLS = new ConfigDef()
      .define("caFile", STRING, null, Validator.pemCertificates(), "PEM file of the CA that signed the target's certificate; default: the JVM's trust store");

  static final ConfigDef DRAIN = new ConfigDef()
      .define("url", STRING, null, v -> Template.problem(v), "after an offline, poll this URL template until the instance reports no traffic; unset: no drain check")
      .define("method", STRING, "GET", Validator.oneOf("GET", "POST"), "method of the drain check")
      .define("expect", STRING, "^\\s*0\\s*$", v -> {
        try {
          Pattern.compile(String.valueOf(v));
          return null;
        } catch (PatternSyntaxException e) {
          return "a regular expression";
        }
      }, "a 2xx response whose body matches this regex means drained")
      .define("interval", DURATION, Duration.ofSeconds(1), Validator.durationAtLeast(Duration.ofMillis(10)), "time between polls")
      .define("maxWait", DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ofMillis(10)), "give up after this long (recorded as timeout)");

  static final ConfigDef CONFIG = new ConfigDef()
      .section("online", request("online"), "the call that puts an instance online")
      .section("offline", request("offline"), "the call that takes an instance offline")
      .define("timeout", DURATION, Duration.ofSeconds(5), Validator.durationAtLeast(Duration.ofMillis(1)), "connect and response timeout of each call")
      .define("successCodes", STRING_LIST, List.of("2xx"), Validator.matches("[1-5]([0-9][0-9]|xx)", "status codes like 200 or classes like 2xx"),
          "responses that count as success; other 5xx, 408 and 429 are retried, other 4xx are not")
      .define("warmup", DURATION, Duration.ZERO, "wait this long after a pod is ready before online (the pod annotation k8s-sync.io/warmup can ask for more);"
              + " counted from the pod's Ready condition time or from when this daemon saw it ready, whichever ends first,"
              + " so a restart or takeover does not hold pods ready for longer")
      .define("repeatOfflineAfter", DURATION, Duration.ofSeconds(30),
          "send an offline again this long after it went out when the instance's online had an unknown outcome (a timeout, a retried"
              + " or rejected call, or an online by another replica), unless the instance is wanted online again: an online landing"
              + " late at the target would otherwise leave a gone pod online; 0 is off")
      .define("reassertEvery", DURATION, Duration.ZERO, "re-send online for every pod this sink put online, this often; 0 (default) is off")
      .define("responseBodyLogLimit", INT, 512, Validator.between(0, 65536), "characters of a rejected response's body written to the log")
      .define("followRedirects", BOOLEAN, false, "follow 3xx redirects within the same origin (scheme, host, port) only; a redirect elsewhere is not followed (headers and credentials stay with the target) and the call is retried")
      .section("auth", AUTH, "credentials, from files or environment variables only")
      .section("tls", TLS, "TLS trust")
      .section("drain", DRAIN, "optional drain check after offline");

  @Override
  public String type() {
    return "http";
  }

  @Override
  public String callTimeoutKey() {
    return "timeout";
  }

  /** True: a gateway or RPC registry sends traffic to what the online call registered; the sink reports each pod's progress itself. */
  @Override
  public boolean routesTraffic() {
    return true;
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    return new HttpSink(context, HttpTarget.from(context), System::nanoTime);
  }
}

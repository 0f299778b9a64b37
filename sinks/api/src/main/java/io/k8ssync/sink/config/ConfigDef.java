package io.k8ssync.sink.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The keys of one config section, declared once with type, default, validation and documentation
 * (after Kafka's {@code ConfigDef}). {@link #parse} turns a YAML mapping into a {@link Config} or
 * fails with a {@link ConfigException} naming the key, the value and what was expected. Unknown
 * keys are errors.
 */
public final class ConfigDef {

  /** Value types a key can have. */
  public enum Type {
    STRING("a string"),
    INT("an integer"),
    LONG("an integer"),
    DOUBLE("a number"),
    BOOLEAN("true or false"),
    DURATION("a duration such as 500ms, 30s, 5m or 1h"),
    STRING_LIST("a list of strings"),
    STRING_MAP("a mapping of strings to strings"),
    SECRET("${env:NAME} or ${file:/path}; secrets are never accepted inline"),
    /** A nested section with its own ConfigDef. */
    OBJECT("a mapping"),
    /** A list of nested sections, each with the same ConfigDef. */
    OBJECT_LIST("a list of mappings"),
    /** A mapping validated later by someone else (a sink's own config, known only from its type). */
    RAW_OBJECT("a mapping");

    private final String expected;

    Type(String expected) {
      this.expected = expected;
    }

    public String expected() {
      return expected;
    }
  }

  /** One declared key. {@code defaultValue} is null for required keys and optional keys without default. */
  public record Key(String name, Type type, boolean required, Object defaultValue, Validator validator,
                    ConfigDef nested, String doc) {}

  private static final Pattern SECRET_REF = Pattern.compile("\\$\\{(env|file):([^}]+)}");
  private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

  private final Map<String, Key> keys = new LinkedHashMap<>();
  private final java.util.List<Check> checks = new java.util.ArrayList<>();

  /** A rule about several keys of one section, run after each key passed its own checks. */
  @FunctionalInterface
  public interface Check {
    /** Throws, naming the key at fault with {@link Config#keyPath}, when the keys do not go together. */
    void check(Config parsed) throws ConfigException;
  }

  /** Adds a rule about several keys, so {@code validate} catches what only their combination gets wrong. */
  public ConfigDef check(Check check) {
    checks.add(check);
    return this;
  }

  /** An optional key; {@code defaultValue} may be null when absence means "not set". */
  public ConfigDef define(String name, Type type, Object defaultValue, Validator validator, String doc) {
    return add(new Key(name, type, false, defaultValue, validator, null, doc));
  }

  public ConfigDef define(String name, Type type, Object defaultValue, String doc) {
    return define(name, type, defaultValue, null, doc);
  }

  /** A key that must be present. */
  public ConfigDef required(String name, Type type, Validator validator, String doc) {
    return add(new Key(name, type, true, null, validator, null, doc));
  }

  /** A nested section; when absent it takes the nested defaults. */
  public ConfigDef section(String name, ConfigDef nested, String doc) {
    return add(new Key(name, Type.OBJECT, false, null, null, nested, doc));
  }

  /** A list of nested sections; {@code required} lists must have at least one element. */
  public ConfigDef sectionList(String name, ConfigDef nested, boolean required, String doc) {
    return add(new Key(name, Type.OBJECT_LIST, required, null, null, nested, doc));
  }

  private ConfigDef add(Key key) {
    if (keys.putIfAbsent(key.name(), key) != null) {
      throw new IllegalArgumentException("key defined twice: " + key.name());
    }
    return this;
  }

  public Collection<Key> keys() {
    return Collections.unmodifiableCollection(keys.values());
  }

  /** Parses a section with no outer path (the root of a file). */
  public Config parse(Object raw) throws ConfigException {
    return parse("", raw, SecretReader.DEFAULT);
  }

  /**
   * Parses {@code raw} (a YAML mapping, or null for "all defaults") found at {@code path}.
   *
   * @param secrets reads {@code env:} and {@code file:} references
   */
  public Config parse(String path, Object raw, SecretReader secrets) throws ConfigException {
    Map<?, ?> map;
    if (raw == null) {
      map = Map.of();
    } else if (raw instanceof Map<?, ?> m) {
      map = m;
    } else {
      throw new ConfigException(display(path), "found " + ConfigException.show(raw) + "; expected a mapping");
    }
    for (Object k : map.keySet()) {
      if (!(k instanceof String) || !keys.containsKey(k)) {
        throw new ConfigException(join(path, String.valueOf(k)),
            "unknown key; expected one of: " + String.join(", ", keys.keySet()));
      }
    }
    Map<String, Object> values = new LinkedHashMap<>();
    for (Key key : keys.values()) {
      String keyPath = join(path, key.name());
      Object value = map.get(key.name());
      if (value == null) {
        if (key.required()) {
          throw new ConfigException(keyPath, "missing; expected " + key.type().expected()
              + (key.doc() == null ? "" : " (" + key.doc() + ")"));
        }
        values.put(key.name(), defaultOf(key, keyPath, secrets));
        continue;
      }
      Object parsed = convert(key, keyPath, value, secrets);
      if (key.validator() != null) {
        String expected = key.validator().expected(parsed);
        if (expected != null) {
          throw new ConfigException(keyPath, "found " + key.validator().shown(value) + "; expected " + expected);
        }
      }
      values.put(key.name(), parsed);
    }
    Config parsed = new Config(display(path), values);
    for (Check c : checks) {
      c.check(parsed);
    }
    return parsed;
  }

  private Object defaultOf(Key key, String keyPath, SecretReader secrets) throws ConfigException {
    switch (key.type()) {
      case OBJECT:
        return key.nested().parse(keyPath, null, secrets);
      case OBJECT_LIST:
        return List.of();
      default:
        return key.defaultValue();
    }
  }

  private Object convert(Key key, String path, Object value, SecretReader secrets) throws ConfigException {
    Function<String, ConfigException> bad = expected ->
        new ConfigException(path, "found " + ConfigException.show(value) + "; expected " + expected);
    switch (key.type()) {
      case STRING:
        if (value instanceof String s) {
          return s;
        }
        throw bad.apply(key.type().expected());
      case INT:
        if ((value instanceof Integer || value instanceof Long)
            && ((Number) value).longValue() == ((Number) value).intValue()) {
          return ((Number) value).intValue();
        }
        throw bad.apply(key.type().expected());
      case LONG:
        if (value instanceof Integer || value instanceof Long) {
          return ((Number) value).longValue();
        }
        throw bad.apply(key.type().expected());
      case DOUBLE:
        if (value instanceof Number n) {
          return n.doubleValue();
        }
        throw bad.apply(key.type().expected());
      case BOOLEAN:
        if (value instanceof Boolean b) {
          return b;
        }
        throw bad.apply(key.type().expected());
      case DURATION:
        Duration d = parseDuration(value);
        if (d == null) {
          throw bad.apply(key.type().expected());
        }
        return d;
      case STRING_LIST:
        if (value instanceof List<?> l && l.stream().allMatch(o -> o instanceof String)) {
          return List.copyOf((List<?>) l).stream().map(String.class::cast).toList();
        }
        throw bad.apply(key.type().expected());
      case STRING_MAP:
        if (value instanceof Map<?, ?> m) {
          Map<String, String> out = new LinkedHashMap<>();
          for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String)) {
              throw new ConfigException(join(path, String.valueOf(e.getKey())),
                  "found " + ConfigException.show(e.getValue()) + "; expected a string (quote numbers and booleans)");
            }
            out.put(String.valueOf(e.getKey()), (String) e.getValue());
          }
          return Collections.unmodifiableMap(out);
        }
        throw bad.apply(key.type().expected());
      case SECRET:
        if (value instanceof String s) {
          Matcher m = SECRET_REF.matcher(s);
          if (m.matches()) {
            return secrets.read(path, m.group(1), m.group(2));
          }
        }
        // Never echo what may be a pasted password.
        throw new ConfigException(path, "found an inline value; expected " + key.type().expected());
      case OBJECT:
        return key.nested().parse(path, value, secrets);
      case OBJECT_LIST:
        if (!(value instanceof List<?> list)) {
          throw bad.apply(key.type().expected());
        }
        if (key.required() && list.isEmpty()) {
          throw bad.apply("at least one entry");
        }
        List<Config> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
          out.add(key.nested().parse(path + "[" + i + "]", list.get(i), secrets));
        }
        return List.copyOf(out);
      case RAW_OBJECT:
        if (value instanceof Map<?, ?>) {
          return value;
        }
        throw bad.apply(key.type().expected());
      default:
        throw new IllegalStateException(key.type().name());
    }
  }

  /** Parses {@code 500ms}, {@code 30s}, {@code 5m}, {@code 1h}, {@code 2d}, or {@code 0}; null if malformed. */
  public static Duration parseDuration(Object value) {
    if (value instanceof Integer i && i == 0) {
      return Duration.ZERO;
    }
    if (!(value instanceof String s)) {
      return null;
    }
    if (s.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = DURATION.matcher(s.trim());
    if (!m.matches() || m.group(1).length() > 12) {
      return null;
    }
    long n = Long.parseLong(m.group(1));
    switch (m.group(2)) {
      case "ms": return Duration.ofMillis(n);
      case "s": return Duration.ofSeconds(n);
      case "m": return Duration.ofMinutes(n);
      case "h": return Duration.ofHours(n);
      default: return Duration.ofDays(n);
    }
  }

  private static String join(String path, String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  private static String display(String path) {
    return path.isEmpty() ? "(root)" : path;
  }

  /** Reads secret references; replaceable in tests. */
  @FunctionalInterface
  public interface SecretReader {
    Secret read(String path, String kind, String ref) throws ConfigException;

    SecretReader DEFAULT = (path, kind, ref) -> {
      if (kind.equals("env")) {
        String v = System.getenv(ref);
        if (v == null || v.isEmpty()) {
          throw new ConfigException(path, "environment variable " + ref + " is not set; expected it to hold the secret");
        }
        return new Secret("env:" + ref, v);
      }
      Path file = Path.of(ref);
      try {
        String v = Files.readString(file).strip();
        if (v.isEmpty()) {
          throw new ConfigException(path, "file " + ref + " is empty; expected it to hold the secret");
        }
        return new Secret("file:" + ref, v);
      } catch (java.io.IOException e) {
        throw new ConfigException(path, "cannot read file " + ref + " (" + e.getClass().getSimpleName()
            + "); expected a readable file holding the secret");
      }
    };
  }
}

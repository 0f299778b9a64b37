package io.k8ssync.sink.config;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Values parsed and validated by a {@link ConfigDef}; getters never see a wrong type. */
public final class Config {

  private final String path;
  private final Map<String, Object> values;

  Config(String path, Map<String, Object> values) {
    this.path = path;
    this.values = values;
  }

  /** Where this section is in the file, for error messages raised after parsing. */
  public String path() {
    return path;
  }

  public String keyPath(String key) {
    return path.equals("(root)") ? key : path + "." + key;
  }

  public boolean isSet(String key) {
    return get(key) != null;
  }

  public String getString(String key) {
    return (String) get(key);
  }

  public int getInt(String key) {
    return (Integer) get(key);
  }

  public long getLong(String key) {
    return (Long) get(key);
  }

  public double getDouble(String key) {
    return (Double) get(key);
  }

  public boolean getBoolean(String key) {
    return (Boolean) get(key);
  }

  public Duration getDuration(String key) {
    return (Duration) get(key);
  }

  @SuppressWarnings("unchecked")
  public List<String> getList(String key) {
    Object v = get(key);
    return v == null ? List.of() : (List<String>) v;
  }

  @SuppressWarnings("unchecked")
  public Map<String, String> getMap(String key) {
    Object v = get(key);
    return v == null ? Map.of() : (Map<String, String>) v;
  }

  public Secret getSecret(String key) {
    return (Secret) get(key);
  }

  public Config getSection(String key) {
    return (Config) get(key);
  }

  @SuppressWarnings("unchecked")
  public List<Config> getSections(String key) {
    return (List<Config>) get(key);
  }

  /** A mapping left for a later parser (see {@link ConfigDef.Type#RAW_OBJECT}). */
  public Object getRaw(String key) {
    return get(key);
  }

  private Object get(String key) {
    if (!values.containsKey(key)) {
      throw new IllegalArgumentException("no key " + key + " declared in " + path);
    }
    return values.get(key);
  }

  @Override
  public String toString() {
    return "Config" + values;
  }
}

package io.k8ssync.daemon.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks each cluster's kubeconfig when the config is read: the file can be read, is a YAML
 * kubeconfig, and has the context the cluster names (or a current one) with its cluster. fabric8
 * silently takes the current context for a context it does not find, and the daemon would then
 * sync another cluster's pods. The file's contents (tokens, keys) are never echoed.
 */
final class Kubeconfigs {

  /** fabric8's lookup: this system property, else $KUBECONFIG (a path list), else ~/.kube/config. */
  static final String PROPERTY = "kubeconfig";

  private Kubeconfigs() {}

  static void check(Config cluster) throws ConfigException {
    if (cluster.getBoolean("inCluster")) {
      return;
    }
    String kubeconfig = cluster.getString("kubeconfig");
    String context = cluster.getString("context");
    List<Map<?, ?>> files = new ArrayList<>();
    String where;
    if (kubeconfig != null) {
      files.add(read(cluster.keyPath("kubeconfig"), kubeconfig, Path.of(kubeconfig)));
      where = kubeconfig;
    } else if (context == null) {
      return; // the documented default: whatever fabric8's own lookup finds, in its current context
    } else {
      List<Path> found = defaultLookup().stream().filter(Files::exists).toList();
      if (found.isEmpty()) {
        throw new ConfigException(cluster.keyPath("context"), "found " + ConfigException.show(context)
            + "; expected a context of a kubeconfig found by the default lookup ($KUBECONFIG, else ~/.kube/config),"
            + " and there is none; set kubeconfig");
      }
      for (Path f : found) {
        files.add(read(cluster.keyPath("kubeconfig"), f.toString(), f));
      }
      where = String.join(", ", found.stream().map(Path::toString).toList());
    }
    // kubectl's merge rule: the first file that names a thing wins.
    Map<String, Object> contexts = new LinkedHashMap<>();
    Set<String> clusters = new LinkedHashSet<>();
    String current = null;
    for (Map<?, ?> f : files) {
      named(f.get("contexts")).forEach((name, body) -> contexts.putIfAbsent(name, body));
      clusters.addAll(named(f.get("clusters")).keySet());
      if (current == null && f.get("current-context") instanceof String s && !s.isEmpty()) {
        current = s;
      }
    }
    String name = context != null ? context : current;
    String have = contexts.isEmpty() ? "none" : String.join(", ", contexts.keySet());
    if (name == null) {
      throw new ConfigException(cluster.keyPath("context"), "missing, and " + where + " has no current-context;"
          + " expected the name of one of its contexts: " + have);
    }
    String at = cluster.keyPath(context != null ? "context" : "kubeconfig");
    if (!contexts.containsKey(name)) {
      throw new ConfigException(at, context != null
          ? "found " + ConfigException.show(name) + "; expected a context of " + where + ", which has: " + have
              + " (the daemon never watches a cluster other than the one named)"
          : "found " + ConfigException.show(where) + ", whose current-context " + ConfigException.show(name)
              + " is not one of its contexts; expected one of: " + have + ", or set context");
    }
    Object target = contexts.get(name) instanceof Map<?, ?> body && body.get("context") instanceof Map<?, ?> ctx
        ? ctx.get("cluster") : null;
    if (!(target instanceof String t) || !clusters.contains(t)) {
      throw new ConfigException(at, "found " + ConfigException.show(name) + ", whose cluster "
          + ConfigException.show(target) + " is not in " + where + "; expected a context naming one of its clusters: "
          + (clusters.isEmpty() ? "none" : String.join(", ", clusters)));
    }
  }

  /** The files fabric8 reads when no kubeconfig is set. */
  static List<Path> defaultLookup() {
    String list = System.getProperty(PROPERTY, System.getenv("KUBECONFIG"));
    if (list == null || list.isBlank()) {
      return List.of(Path.of(System.getProperty("user.home"), ".kube", "config"));
    }
    return java.util.Arrays.stream(list.split(File.pathSeparator)).filter(s -> !s.isBlank()).map(Path::of).toList();
  }

  private static Map<?, ?> read(String keyPath, String shown, Path file) throws ConfigException {
    String found = "found " + ConfigException.show(shown) + "; expected ";
    if (!Files.exists(file)) {
      throw new ConfigException(keyPath, found + "a readable kubeconfig file (no such file)");
    }
    if (Files.isDirectory(file)) {
      throw new ConfigException(keyPath, found + "a readable kubeconfig file (a directory)");
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new ConfigException(keyPath, found + "a readable kubeconfig file (" + e.getClass().getSimpleName() + ")");
    }
    int badLine = ConfigLoader.firstLineNotUtf8(bytes);
    if (badLine > 0) {
      throw new ConfigException(keyPath, found + "UTF-8 text (line " + badLine + " holds a byte that is not UTF-8)");
    }
    Object yaml;
    try {
      yaml = new ObjectMapper(new YAMLFactory()).readValue(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), Object.class);
    } catch (JsonProcessingException e) {
      // The parser's message may quote the file (a token): only where it failed is shown.
      String line = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
      throw new ConfigException(keyPath, found + "a YAML kubeconfig (not valid YAML" + line + ")");
    }
    if (!(yaml instanceof Map<?, ?> map)) {
      throw new ConfigException(keyPath, found + "a kubeconfig: a YAML mapping with clusters, users and contexts");
    }
    return map;
  }

  /** {@code [{name: x, ...}, ...]} as name → entry; anything else as nothing. */
  private static Map<String, Object> named(Object list) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (list instanceof List<?> l) {
      for (Object o : l) {
        if (o instanceof Map<?, ?> m && m.get("name") instanceof String n) {
          out.putIfAbsent(n, m);
        }
      }
    }
    return out;
  }
}

package io.k8ssync.daemon.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Reads and validates the config file: YAML syntax, every key against {@link DaemonConfig#ROOT},
 * each sink's {@code config:} against its factory's definition, and the rules that span keys
 * (unique names, known sink types). Any failure is one {@link ConfigException} naming the path.
 */
public final class ConfigLoader {

  private final SinkTypes sinkTypes;
  private final ConfigDef.SecretReader secrets;

  public ConfigLoader(SinkTypes sinkTypes, ConfigDef.SecretReader secrets) {
    this.sinkTypes = sinkTypes;
    this.secrets = secrets;
  }

  public ConfigLoader(SinkTypes sinkTypes) {
    this(sinkTypes, ConfigDef.SecretReader.DEFAULT);
  }

  public DaemonConfig load(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file.toString(), "file not found; expected a readable YAML config file");
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read (" + e.getClass().getSimpleName() + ")");
    }
    return parse(file.toString(), text);
  }

  public DaemonConfig parse(String source, String yaml) throws ConfigException {
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    mapper.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    Object raw;
    try {
      raw = mapper.readValue(yaml, Object.class);
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
          + ", column " + e.getLocation().getColumnNr();
      throw new ConfigException(source, "not valid YAML" + where + ": " + e.getOriginalMessage());
    }
    if (raw == null) {
      throw new ConfigException(source, "file is empty; expected at least 'clusters' and 'sinks'");
    }
    return parse(raw);
  }

  public DaemonConfig parse(Object raw) throws ConfigException {
    Config root = DaemonConfig.ROOT.parse("", raw, secrets);
    unique(root.getSections("clusters"), "clusters");
    unique(root.getSections("sinks"), "sinks");
    for (Config c : root.getSections("clusters")) {
      if (c.getBoolean("inCluster") && (c.isSet("kubeconfig") || c.isSet("context"))) {
        throw new ConfigException(c.keyPath("inCluster"),
            "found true together with kubeconfig/context; expected one way to reach the cluster");
      }
    }
    List<Config> inCluster = root.getSections("clusters").stream().filter(c -> c.getBoolean("inCluster")).toList();
    if (inCluster.size() > 1) {
      throw new ConfigException(inCluster.get(1).keyPath("inCluster"),
          "found true on a second cluster; expected at most one cluster reached through the pod's service account");
    }
    if (!inCluster.isEmpty()) {
      for (Config c : root.getSections("clusters")) {
        if (!c.getBoolean("inCluster") && !c.isSet("kubeconfig")) {
          throw new ConfigException(c.keyPath("kubeconfig"), "found no value beside an inCluster cluster;"
              + " expected the path of this cluster's kubeconfig (the default lookup is off in-cluster)");
        }
      }
    }
    Config retry = root.getSection("dispatch").getSection("retry");
    if (retry.getDuration("maxDelay").compareTo(retry.getDuration("baseDelay")) < 0) {
      throw new ConfigException(retry.keyPath("maxDelay"), "found " + retry.getDuration("maxDelay").toMillis()
          + "ms; expected at least baseDelay (" + retry.getDuration("baseDelay").toMillis() + "ms)");
    }
    leaderElection(root);
    List<DaemonConfig.SinkSpec> sinks = new ArrayList<>();
    for (Config s : root.getSections("sinks")) {
      String type = s.getString("type");
      SinkFactory factory = sinkTypes.get(type);
      if (factory == null) {
        throw new ConfigException(s.keyPath("type"), "found " + ConfigException.show(type)
            + "; expected one of the sink types on the class path: " + String.join(", ", sinkTypes.all().keySet()));
      }
      Config sinkConfig = factory.configDef().parse(s.keyPath("config"), s.getRaw("config"), secrets);
      Config sel = s.getSection("selector");
      Selector selector = new Selector(Set.copyOf(sel.getList("namespaces")), Set.copyOf(sel.getList("services")),
          sel.getMap("labels"));
      Integer workers = s.isSet("workers") ? s.getInt("workers") : null;
      Integer queueCapacity = s.isSet("queueCapacity") ? s.getInt("queueCapacity") : null;
      sinks.add(new DaemonConfig.SinkSpec(s.getString("name"), type, selector, workers, queueCapacity, sinkConfig));
    }
    return new DaemonConfig(root, List.copyOf(sinks));
  }

  /** client-go's rules: leaseDuration > renewDeadline > retryPeriod. */
  private static void leaderElection(Config root) throws ConfigException {
    Config le = root.getSection("leaderElection");
    if (!le.getBoolean("enabled")) {
      return;
    }
    if (le.getDuration("renewDeadline").compareTo(le.getDuration("leaseDuration")) >= 0) {
      throw new ConfigException(le.keyPath("renewDeadline"), "found " + le.getDuration("renewDeadline").toMillis()
          + "ms; expected less than leaseDuration (" + le.getDuration("leaseDuration").toMillis() + "ms)");
    }
    if (le.getDuration("retryPeriod").compareTo(le.getDuration("renewDeadline")) >= 0) {
      throw new ConfigException(le.keyPath("retryPeriod"), "found " + le.getDuration("retryPeriod").toMillis()
          + "ms; expected less than renewDeadline (" + le.getDuration("renewDeadline").toMillis() + "ms)");
    }
  }

  private static void unique(List<Config> sections, String what) throws ConfigException {
    Set<String> seen = new HashSet<>();
    for (Config c : sections) {
      String name = c.getString("name");
      if (!seen.add(name)) {
        throw new ConfigException(c.keyPath("name"), "found " + ConfigException.show(name)
            + " a second time; expected each of " + what + " to have a unique name");
      }
    }
  }
}

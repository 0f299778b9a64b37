package io.k8ssync.daemon.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.k8ssync.daemon.informer.PodRules;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and validates the config file: one UTF-8 YAML document, every key against
 * {@link DaemonConfig#ROOT}, each cluster's kubeconfig and context, each sink's {@code config:}
 * against its factory's definition, and the rules that span keys (unique names, known sink types,
 * no credentials in plain values, template fields the pods section keeps). Any failure is one
 * {@link ConfigException} naming the path, so that {@code validate} finds what {@code run} would.
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
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(file.toString(), "file not found; expected a readable YAML config file");
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read (" + e.getClass().getSimpleName() + ")");
    }
    int badLine = firstLineNotUtf8(bytes);
    if (badLine > 0) {
      throw new ConfigException(file.toString(), "found a byte that is not UTF-8 on line " + badLine + "; expected UTF-8 text");
    }
    return parse(file.toString(), new String(bytes, StandardCharsets.UTF_8));
  }

  /**
   * The parser's message without the lines it quotes from the file (indented, or naming the
   * reader): one line, and no echo of a value that may be a pasted secret.
   */
  private static String oneLine(String message) {
    return String.join("; ", message.lines().filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0))).toList());
  }

  /** The line (from 1) of the first byte sequence that is not UTF-8, or 0 when all of it is. */
  static int firstLineNotUtf8(byte[] bytes) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CoderResult result = decoder.decode(in, CharBuffer.allocate(bytes.length + 1), true);
    if (!result.isError()) {
      return 0;
    }
    int line = 1;
    for (int i = 0; i < in.position(); i++) {
      if (bytes[i] == '\n') {
        line++;
      }
    }
    return line;
  }

  public DaemonConfig parse(String source, String yaml) throws ConfigException {
    ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
    mapper.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    Object raw;
    try (JsonParser parser = mapper.createParser(yaml)) {
      raw = mapper.readValue(parser, Object.class);
      JsonToken next = parser.nextToken();
      // An empty document after "---" leaves nothing out; any other is what the daemon would ignore.
      if (next == JsonToken.VALUE_NULL) {
        next = parser.nextToken();
      }
      if (next != null) {
        throw new ConfigException(source, "found a second YAML document at line " + parser.currentTokenLocation().getLineNr()
            + "; expected one YAML document (the daemon would ignore everything after the first)");
      }
    } catch (JsonProcessingException e) {
      String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()
          + ", column " + e.getLocation().getColumnNr();
      throw new ConfigException(source, "not valid YAML" + where + ": " + oneLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new ConfigException(source, "cannot read (" + e.getClass().getSimpleName() + ")");
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
    for (Config c : root.getSections("clusters")) {
      Kubeconfigs.check(c);
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
      InlineCredentials.check(s.keyPath("config"), s.getRaw("config"), factory.configDef());
      Config sinkConfig = factory.configDef().parse(s.keyPath("config"), s.getRaw("config"), secrets);
      Config sel = s.getSection("selector");
      Selector selector = new Selector(Set.copyOf(sel.getList("namespaces")), Set.copyOf(sel.getList("services")),
          sel.getMap("labels"));
      Integer workers = s.isSet("workers") ? s.getInt("workers") : null;
      Integer queueCapacity = s.isSet("queueCapacity") ? s.getInt("queueCapacity") : null;
      sinks.add(new DaemonConfig.SinkSpec(s.getString("name"), type, selector, workers, queueCapacity, sinkConfig,
          s.getDuration("propagationDelay")));
    }
    rolloutSinks(root);
    leaseFitsCalls(root, sinks);
    DaemonConfig config = new DaemonConfig(root, List.copyOf(sinks));
    PodRules rules = config.podRules();
    for (Config s : root.getSections("sinks")) {
      KeptFields.check(s.keyPath("config"), s.getRaw("config"), rules.keepLabels(), rules.keepAnnotations());
    }
    return config;
  }

  /** Visits one string found in a raw YAML value. */
  @FunctionalInterface
  interface StringVisitor {
    void visit(String keyPath, String value) throws ConfigException;
  }

  /** Calls {@code visitor} with every string in {@code raw} (mappings and lists, at any depth) and its key path. */
  static void forEachString(String path, Object raw, StringVisitor visitor) throws ConfigException {
    if (raw instanceof String s) {
      visitor.visit(path, s);
    } else if (raw instanceof Map<?, ?> m) {
      for (Map.Entry<?, ?> e : m.entrySet()) {
        forEachString(path + "." + e.getKey(), e.getValue(), visitor);
      }
    } else if (raw instanceof List<?> l) {
      for (int i = 0; i < l.size(); i++) {
        forEachString(path + "[" + i + "]", l.get(i), visitor);
      }
    }
  }

  /**
   * With leader election a write starts only while the Lease leaves more than one call's timeout;
   * between renewals it leaves about leaseDuration − retryPeriod − the allowed clock skew. A sink
   * whose timeout does not fit would never write, so the config is refused.
   */
  private void leaseFitsCalls(Config root, List<DaemonConfig.SinkSpec> sinks) throws ConfigException {
    Config le = root.getSection("leaderElection");
    if (!le.getBoolean("enabled")) {
      return;
    }
    java.time.Duration room = le.getDuration("leaseDuration").minus(le.getDuration("retryPeriod"))
        .minus(io.k8ssync.daemon.ha.LeaderElection.CLOCK_SKEW);
    for (DaemonConfig.SinkSpec s : sinks) {
      String key = sinkTypes.get(s.type()).callTimeoutKey();
      if (key == null) {
        continue;
      }
      java.time.Duration timeout = s.config().getDuration(key);
      if (timeout.compareTo(room) >= 0) {
        throw new ConfigException(s.config().keyPath(key), "found " + timeout.toMillis() + "ms; expected less than "
            + room.toMillis() + "ms (leaderElection.leaseDuration − retryPeriod − " + io.k8ssync.daemon.ha.LeaderElection.CLOCK_SKEW.toMillis()
            + "ms of clock skew): a write starts only while the Lease leaves more than one call's timeout, so this sink would never write");
      }
    }
  }

  /** The sinks a rollout waits for must be configured sinks. */
  private static void rolloutSinks(Config root) throws ConfigException {
    Config rollout = root.getSection("rollout");
    Set<String> names = new HashSet<>();
    root.getSections("sinks").forEach(s -> names.add(s.getString("name")));
    List<String> listed = rollout.getList("sinks");
    for (int i = 0; i < listed.size(); i++) {
      if (!names.contains(listed.get(i))) {
        throw new ConfigException(rollout.keyPath("sinks") + "[" + i + "]", "found " + ConfigException.show(listed.get(i))
            + "; expected the name of a configured sink: " + String.join(", ", new java.util.TreeSet<>(names)));
      }
    }
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

package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue #15: every broken config is refused the way a user meets it, through the command line.
 * {@code validate} and {@code run} both exit 2 before touching anything, the message names the key
 * path, and nothing of a secret (URL user info, a kubeconfig token) reaches stdout or stderr.
 */
public class BrokenConfigsTest {

  /** Every secret any case holds; none may be printed. */
  static final String SECRET = "s3cr3tpw";

  public static final String CA_PEM = String.join("\n",
      "-----BEGIN CERTIFICATE-----",
      "MIIBTzCB9aADAgECAghQVeCKQGspnzAKBggqhkjOPQQDAjAbMRkwFwYDVQQDExBr",
      "OHMtc3luYyB0ZXN0IENBMCAXDTI2MTIwNDE3MDkxMloYDzIxMjYxMTEwMTcwOTEy",
      "WjAbMRkwFwYDVQQDExBrOHMtc3luYyB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZI",
      "zj0DAQcDQgAE1Rkx+AUg9yhBn6wbcAMmwRkR/q8bHlQFXccMx4UTHxpLLqhLqLTx",
      "goNN4+YYGk8/mLPQsJ1GCCx64UmZvQ7lBKMhMB8wHQYDVR0OBBYEFKkbMqpr9H+w",
      "q54OX5hDJf1RwVldMAoGCCqGSM49BAMCA0kAMEYCIQDtTG0LEg2LHJgKVkKfje3B",
      "AlA6Hxmfmy7aOY4yhRVdGQIhAPnZ0aQEJ2COC282RikhpUoi5ty+MuLhJZyWVB+B",
      "nFuF",
      "-----END CERTIFICATE-----", "");

  static final String KUBECONFIG = String.join("\n",
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- {name: a, cluster: {server: 'https://a.invalid:6443'}}",
      "- {name: b, cluster: {server: 'https://b.invalid:6443'}}",
      "users: [{name: u, user: {token: kubeconfig-token-" + SECRET + "}}]",
      "contexts:",
      "- {name: a, context: {cluster: a, user: u}}",
      "- {name: b, context: {cluster: b, user: u}}",
      "- {name: orphan, context: {cluster: gone, user: u}}",
      "current-context: a", "");

  @TempDir
  static Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeAll
  static void files() throws IOException {
    Files.writeString(dir.resolve("kubeconfig"), KUBECONFIG);
    Files.writeString(dir.resolve("kubeconfig-no-current"), KUBECONFIG.replace("current-context: a", ""));
    Files.writeString(dir.resolve("kubeconfig-not-yaml"), "{{{ token: " + SECRET + "\n");
    Files.writeString(dir.resolve("kubeconfig-text"), "just some text " + SECRET + "\n");
    Files.write(dir.resolve("kubeconfig-latin1"), KUBECONFIG.replace("name: u,", "name: \u00e9,").getBytes(StandardCharsets.ISO_8859_1));
    Files.createDirectories(dir.resolve("a-directory"));
    Files.writeString(dir.resolve("ca.pem"), CA_PEM);
    Files.writeString(dir.resolve("not-a-cert.pem"), "hello\n");
  }

  /** One broken config: the file's bytes, the key path the error must name, and a phrase it must hold. */
  record Case(String name, byte[] file, String keyPath, String phrase) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static final String HTTP_OK = "online: {url: 'https://gw/on'}, offline: {url: 'https://gw/off'}";

  /** A config with one cluster reached through the test kubeconfig's context {@code a}, and the given sinks. */
  static String config(String cluster, String sinks) {
    return "daemon: {http: {host: 127.0.0.1, port: 0}}\n"
        + "pods: {keepLabels: [version], keepAnnotations: [owner]}\n"
        + "clusters: [{name: prod, " + cluster + "}]\n"
        + "sinks: [" + sinks + "]\n";
  }

  static String withKubeconfig(String sinks) {
    return config("kubeconfig: '" + dir.resolve("kubeconfig") + "', context: a", sinks);
  }

  static String sink(String type, String cfg) {
    return "{name: out, type: " + type + ", config: {" + cfg + "}}";
  }

  static Case c(String name, String yaml, String keyPath, String phrase) {
    return new Case(name, yaml.getBytes(StandardCharsets.UTF_8), keyPath, phrase);
  }

  static Case kube(String name, String cluster, String keyPath, String phrase) {
    return c(name, config(cluster, "{name: out, type: log}"), keyPath, phrase);
  }

  static Case sinkCase(String name, String type, String cfg, String keyPath, String phrase) {
    return c(name, withKubeconfig(sink(type, cfg)), keyPath, phrase);
  }

  static Stream<Arguments> cases() {
    List<Case> all = new ArrayList<>();
    String log = "{name: out, type: log}";
    // The ones ConfigLoaderTest and MainTest prove one by one, here through the command line.
    all.add(c("bad duration", "clusters: [{name: prod, resync: soon}]\nsinks: [" + log + "]\n", "clusters[0].resync", "expected a duration"));
    // Lossless rollouts (issue 16): what the gate and the offline wait are told to wait for.
    all.add(c("rollout waits for a sink not configured", withKubeconfig(log) + "rollout: {sinks: [gateway]}\n",
        "rollout.sinks[0]", "expected the name of a configured sink: out"));
    all.add(c("readiness gate condition type not a type", withKubeconfig(log)
        + "rollout: {readinessGate: {enabled: true, conditionType: 'online now!'}}\n",
        "rollout.readinessGate.conditionType", "condition type"));
    all.add(c("offline wait advertiseUrl not http", withKubeconfig(log)
        + "rollout: {offlineWait: {advertiseUrl: 'ftp://10.0.0.5:21'}}\n", "rollout.offlineWait.advertiseUrl", "http(s) URL"));
    all.add(c("sink propagationDelay not a duration", withKubeconfig("{name: out, type: log, propagationDelay: soon}"),
        "sinks[0].propagationDelay", "expected a duration"));
    all.add(c("workers 0", "clusters: [{name: prod}]\nsinks: [{name: out, type: log, workers: 0}]\n", "sinks[0].workers", "between 1 and 256"));
    all.add(c("unknown key", withKubeconfig(log) + "sinkz: []\n", "sinkz", "unknown key"));
    all.add(c("unknown sink type", withKubeconfig("{name: out, type: kafkaa}"), "sinks[0].type", "expected one of the sink types"));
    all.add(c("duplicate sink", withKubeconfig(log + ", " + log), "sinks[1].name", "a second time"));
    all.add(c("inCluster and kubeconfig", "clusters: [{name: prod, inCluster: true, kubeconfig: /x}]\nsinks: [" + log + "]\n",
        "clusters[0].inCluster", "one way to reach the cluster"));
    all.add(c("lease timings", withKubeconfig(log) + "leaderElection: {enabled: true, renewDeadline: 15s}\n",
        "leaderElection.renewDeadline", "less than leaseDuration"));
    all.add(c("duplicate YAML key", withKubeconfig(log) + "sinks: [" + log + "]\n", "FILE", "not valid YAML"));
    all.add(c("broken YAML", "clusters: [{name: prod}\nsinks: x\n", "FILE", "not valid YAML"));

    // 2 and 3: the kubeconfig and its context.
    all.add(kube("context not in the kubeconfig", "kubeconfig: '" + dir.resolve("kubeconfig") + "', context: nope",
        "clusters[0].context", "\"nope\""));
    all.add(kube("context whose cluster is missing", "kubeconfig: '" + dir.resolve("kubeconfig") + "', context: orphan",
        "clusters[0].context", "\"gone\""));
    all.add(kube("no context and no current-context", "kubeconfig: '" + dir.resolve("kubeconfig-no-current") + "'",
        "clusters[0].context", "current-context"));
    all.add(kube("kubeconfig missing", "kubeconfig: '" + dir.resolve("nope") + "'", "clusters[0].kubeconfig", "no such file"));
    all.add(kube("kubeconfig a directory", "kubeconfig: '" + dir.resolve("a-directory") + "'", "clusters[0].kubeconfig", "a directory"));
    all.add(kube("kubeconfig not YAML", "kubeconfig: '" + dir.resolve("kubeconfig-not-yaml") + "'", "clusters[0].kubeconfig", "YAML"));
    all.add(kube("kubeconfig not a mapping", "kubeconfig: '" + dir.resolve("kubeconfig-text") + "'", "clusters[0].kubeconfig", "kubeconfig"));
    all.add(kube("kubeconfig not UTF-8", "kubeconfig: '" + dir.resolve("kubeconfig-latin1") + "'", "clusters[0].kubeconfig", "expected UTF-8"));

    // 3: CA files.
    String missing = dir.resolve("missing-ca.pem").toString();
    all.add(sinkCase("consul caFile missing", "consul", "url: 'https://consul:8501', caFile: '" + missing + "'", "sinks[0].config.caFile", "no such file"));
    all.add(sinkCase("consul caFile no certificate", "consul", "url: 'https://consul:8501', caFile: '" + dir.resolve("not-a-cert.pem") + "'",
        "sinks[0].config.caFile", "certificate"));
    all.add(sinkCase("http tls.caFile missing", "http", HTTP_OK + ", tls: {caFile: '" + missing + "'}", "sinks[0].config.tls.caFile", "no such file"));
    all.add(sinkCase("http tls.caFile a directory", "http", HTTP_OK + ", tls: {caFile: '" + dir.resolve("a-directory") + "'}",
        "sinks[0].config.tls.caFile", "a directory"));
    all.add(sinkCase("kafka caFile missing", "kafka", "bootstrapServers: 'k:9093', securityProtocol: SSL, caFile: '" + missing + "'",
        "sinks[0].config.caFile", "no such file"));

    // 4: registry paths.
    all.add(sinkCase("consul prefix ../../etc", "consul", "url: 'http://consul:8500', prefix: ../../etc", "sinks[0].config.prefix", ".."));
    all.add(sinkCase("consul prefix with .", "consul", "url: 'http://consul:8500', prefix: upstreams/./web", "sinks[0].config.prefix", ".."));
    all.add(sinkCase("zookeeper root through ..", "zookeeper", "connect: 'zk:2181', root: /nginx/../zookeeper", "sinks[0].config.root", ".."));
    all.add(sinkCase("zookeeper root reserved", "zookeeper", "connect: 'zk:2181', root: /zookeeper/upstreams", "sinks[0].config.root", "/zookeeper"));
    all.add(c("consul timeout longer than the Lease leaves", withKubeconfig("{name: nginx, type: consul, config: {url: 'http://consul:8500'}}")
        + "leaderElection: {enabled: true, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}\n",
        "sinks[0].config.timeout", "would never write"));
    all.add(sinkCase("zookeeper tls enabled without caFile", "zookeeper", "connect: 'zk:2181', tls: {enabled: true}",
        "sinks[0].config.tls.caFile", "missing"));
    all.add(sinkCase("zookeeper ownerRoot reserved", "zookeeper", "connect: 'zk:2181', ownerRoot: /zookeeper", "sinks[0].config.ownerRoot", "/zookeeper"));
    all.add(sinkCase("zookeeper ownerRoot with .", "zookeeper", "connect: 'zk:2181', ownerRoot: /k8s-sync/./owners", "sinks[0].config.ownerRoot", ".."));

    // 6: template fields of labels and annotations the pods section does not keep.
    all.add(sinkCase("http url names an annotation not kept", "http",
        "online: {url: 'https://gw/{annotation.team}/on'}, offline: {url: 'https://gw/off'}",
        "sinks[0].config.online.url", "pods.keepAnnotations"));
    all.add(sinkCase("http header names a label not kept", "http",
        "online: {url: 'https://gw/on'}, offline: {url: 'https://gw/off', headers: {X-Track: '{label.track}'}}",
        "sinks[0].config.offline.headers.X-Track", "pods.keepLabels"));
    all.add(sinkCase("http body names an annotation not kept", "http",
        "online: {url: 'https://gw/on', body: {meta: {team: 'x-{annotation.team}'}}}, offline: {url: 'https://gw/off'}",
        "sinks[0].config.online.body.meta.team", "pods.keepAnnotations"));
    all.add(sinkCase("http drain url names a label not kept", "http", HTTP_OK + ", drain: {url: 'https://gw/{label.track}/traffic'}",
        "sinks[0].config.drain.url", "pods.keepLabels"));
    all.add(sinkCase("consul upstream names a label not kept", "consul", "url: 'http://consul:8500', upstream: '{service}-{label.track}'",
        "sinks[0].config.upstream", "pods.keepLabels"));
    all.add(sinkCase("zookeeper upstream names an annotation not kept", "zookeeper", "connect: 'zk:2181', upstream: '{annotation.team}'",
        "sinks[0].config.upstream", "pods.keepAnnotations"));

    // 7 and 8: the file itself.
    all.add(c("two YAML documents", withKubeconfig(log) + "---\nclusters: [{name: other}]\n", "FILE", "one YAML document"));
    byte[] latin1 = (withKubeconfig(log) + "# caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1);
    all.add(new Case("config not UTF-8", latin1, "FILE", "expected UTF-8"));

    // 9: credentials in URLs: refused, pointed at the secret-typed key, never echoed.
    all.add(sinkCase("consul url with user info", "consul", "url: 'https://k8s:" + SECRET + "@consul:8501'", "sinks[0].config.url", "aclToken"));
    all.add(sinkCase("http url with user info", "http",
        "online: {url: 'https://gw:" + SECRET + "@gw/on'}, offline: {url: 'https://gw/off'}", "sinks[0].config.online.url", "auth."));
    all.add(sinkCase("http drain url with user info", "http", HTTP_OK + ", drain: {url: 'http://" + SECRET + "@gw/{ip}'}",
        "sinks[0].config.drain.url", "auth."));
    all.add(sinkCase("http header with a URL with user info", "http",
        "online: {url: 'https://gw/on', headers: {X-Callback: 'https://cb:" + SECRET + "@cb/'}}, offline: {url: 'https://gw/off'}",
        "sinks[0].config.online.headers.X-Callback", "auth."));
    all.add(sinkCase("kafka servers with user info", "kafka", "bootstrapServers: 'k8s:" + SECRET + "@broker:9092'",
        "sinks[0].config.bootstrapServers", "saslPassword"));
    all.add(sinkCase("mysql url with user info", "mysql", "jdbcUrl: 'jdbc:mariadb://k8s:" + SECRET + "@db:3306/sync'",
        "sinks[0].config.jdbcUrl", "password"));
    all.add(sinkCase("zookeeper connect with user info", "zookeeper", "connect: 'k8s:" + SECRET + "@zk:2181'",
        "sinks[0].config.connect", "auth.password"));
    return all.stream().map(Arguments::of);
  }

  private int run(String... args) {
    return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private Path write(Case c) throws IOException {
    Path f = dir.resolve(c.name().replaceAll("[^A-Za-z0-9]+", "-") + ".yaml");
    Files.write(f, c.file());
    return f;
  }

  private void assertRefused(Case c, Path f, int code) {
    String printed = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    assertEquals(2, code, printed);
    String keyPath = c.keyPath().equals("FILE") ? f.toString() : c.keyPath();
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("k8s-sync: config error at " + keyPath + ": "), printed);
    assertTrue(printed.contains(c.phrase()), "expected " + c.phrase() + " in: " + printed);
    assertFalse(printed.contains(SECRET), printed);
    assertFalse(printed.contains("\tat "), "no stack trace: " + printed);
    assertEquals(1, printed.strip().lines().count(), "one line: " + printed);
  }

  @ParameterizedTest(name = "validate: {0}")
  @MethodSource("cases")
  void validateExits2(Case c) throws IOException {
    Path f = write(c);
    assertRefused(c, f, run("validate", "--config", f.toString()));
  }

  @ParameterizedTest(name = "run: {0}")
  @MethodSource("cases")
  void runExits2(Case c) throws IOException {
    Path f = write(c);
    // A config wrongly accepted would start the daemon and block until a signal: fail instead.
    int code = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> run("run", "--config", f.toString()));
    assertRefused(c, f, code);
  }

  @Test
  void validateMissingFileExits2() {
    assertEquals(2, run("validate", "--config", dir.resolve("nope.yaml").toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("k8s-sync: config error at " + dir.resolve("nope.yaml") + ": file not found"));
  }

  /** The checks refuse what is wrong, not what is merely unusual: every feature above, used correctly, passes. */
  @Test
  void theSameFeaturesUsedCorrectlyPass() throws IOException {
    String ca = dir.resolve("ca.pem").toString();
    String yaml = config("kubeconfig: '" + dir.resolve("kubeconfig") + "', context: b", String.join(", ",
        "{name: gw, type: http, selector: {labels: {track: stable}}, config: {online: {url: 'https://gw/{label.track}/{annotation.owner}/on',"
            + " headers: {X-Version: '{label.version}'}, body: {owner: '{annotation.owner}', port: '{port}'}},"
            + " offline: {url: 'https://gw/off?mail=ops@example.com'}, tls: {caFile: '" + ca + "'}, drain: {url: 'https://gw/{ip}'},"
            + " auth: {username: k8s}}}",
        "{name: kv, type: consul, config: {url: 'https://consul:8501', prefix: nginx/upstreams, caFile: '" + ca + "',"
            + " upstream: '{service}-{label.version}'}}",
        "{name: zk, type: zookeeper, config: {connect: 'zk:2181', root: /nginx/.upstreams, ownerRoot: /zookeeper-owners/k8s-sync}}",
        "{name: events, type: kafka, config: {bootstrapServers: 'k:9093', securityProtocol: SSL, caFile: '" + ca + "'}}"));
    Path f = Files.writeString(dir.resolve("good.yaml"), "---\n" + yaml + "...\n");
    assertEquals(0, run("validate", "--config", f.toString()), err.toString(StandardCharsets.UTF_8));
  }
}

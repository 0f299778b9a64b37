package io.k8ssync.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void validateAcceptsTheExampleConfig() {
    assertEquals(0, run("validate", "--config", "../config/k8s-sync.yaml"));
    assertEquals("config OK: ../config/k8s-sync.yaml (1 cluster(s), 1 sink(s))\n", out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void validateRejectsABadFileWithExitCode2AndThePath(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("bad.yaml");
    Files.writeString(f, "clusters: [{name: prod, resync: soon}]\nsinks: [{name: out, type: log}]\n");
    assertEquals(2, run("validate", "--config", f.toString()));
    assertEquals("k8s-sync: config error at clusters[0].resync: found \"soon\"; expected a duration such as 500ms, 30s, 5m or 1h\n",
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void runWithBadConfigExitsWith2BeforeConnectingAnywhere(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("bad.yaml");
    Files.writeString(f, "clusters: [{name: prod}]\nsinks: [{name: out, type: log, workers: 0}]\n");
    assertEquals(2, run("run", "--config", f.toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("sinks[0].workers: found \"0\"; expected a value between 1 and 256"));
  }

  @Test
  void missingConfigFlag() {
    assertEquals(2, run("validate"));
    assertEquals("k8s-sync: config error at --config: missing; expected the path of a YAML config file\n",
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void unknownCommandAndOption() {
    assertEquals(2, run("frobnicate"));
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("k8s-sync: unknown command \"frobnicate\""));
    err.reset();
    assertEquals(2, run("demo", "--pods", "lots"));
    assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("k8s-sync: --pods \"lots\": expected an integer from 1 to 10000"));
  }

  @Test
  void configReferenceListsEveryKey() {
    assertEquals(0, run("config-reference"));
    String ref = out.toString(StandardCharsets.UTF_8);
    assertTrue(ref.contains("| `daemon.http.port` | int | `9464` |"), ref);
    assertTrue(ref.contains("| `clusters[].resync` | duration | 0 |"), ref);
    assertTrue(ref.contains("### Sink type `log`"), ref);
  }

  /** A config problem found only while starting (a sink's own cross-check, a client) still exits 2, in one line. */
  @Test
  void aConfigProblemMetAtStartExits2WithoutAStackTrace() throws Exception {
    var loader = new io.k8ssync.daemon.config.ConfigLoader(io.k8ssync.daemon.config.SinkTypes.discover());
    var config = loader.parse("test.yaml", "daemon: {http: {host: 127.0.0.1, port: 0}}\nclusters: [{name: prod}]\n"
        + "sinks: [{name: out, type: log}]\n");
    Daemon daemon = new Daemon(config, io.k8ssync.daemon.config.SinkTypes.discover(), spec -> {
      throw new IllegalStateException("wrapped", new io.k8ssync.sink.config.ConfigException("clusters[0].context", "found \"x\"; expected y"));
    }, false);
    assertEquals(2, Main.runUntilSignalled(daemon, new PrintStream(err, true, StandardCharsets.UTF_8)));
    assertEquals("k8s-sync: config error at clusters[0].context: found \"x\"; expected y\n", err.toString(StandardCharsets.UTF_8));
  }
}

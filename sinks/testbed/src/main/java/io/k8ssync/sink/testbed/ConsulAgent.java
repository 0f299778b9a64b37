package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Consul agent in dev mode on loopback with free ports, built by
 * scripts/testbed/build-consul.sh. {@link #stop()} and {@link #start()} can be called again to
 * simulate an outage; in dev mode its data does not survive a restart.
 */
public final class ConsulAgent implements AutoCloseable {

  private final Path binary = TestBed.binary(TestBed.cache().resolve("bin/consul"), "build-consul.sh");
  /** http, grpc, serf lan, serf wan, server. */
  private int[] ports = TestBed.freePorts(5);
  private final int httpPort = ports[0];
  private final List<String> extraArgs;
  private Process process;
  private Path log;

  public ConsulAgent(String... extraArgs) {
    this.extraArgs = List.of(extraArgs);
  }

  public static ConsulAgent started(String... extraArgs) {
    ConsulAgent a = new ConsulAgent(extraArgs);
    a.start();
    return a;
  }

  /**
   * A started agent that enforces ACLs: default policy deny, {@code managementToken} as the initial
   * management token (a UUID). Requests without a token act as the anonymous token, which may do nothing.
   */
  public static ConsulAgent startedWithAcls(String managementToken, String... extraArgs) {
    List<String> args = new ArrayList<>(List.of("-hcl", "acl { enabled = true default_policy = \"deny\""
        + " tokens { initial_management = \"" + managementToken + "\" } }"));
    args.addAll(List.of(extraArgs));
    return started(args.toArray(String[]::new));
  }

  /**
   * Starts the agent and waits for its leader. A port taken by someone else between choosing it and
   * binding it makes consul exit at once: then it tries again with fresh ports (the HTTP port stays).
   */
  public synchronized void start() {
    for (int attempt = 1; ; attempt++) {
      try {
        startOnce();
        return;
      } catch (IllegalStateException e) {
        if (attempt == 3 || process == null || process.isAlive()) {
          throw e;
        }
        int[] fresh = TestBed.freePorts(4);
        ports = new int[] {httpPort, fresh[0], fresh[1], fresh[2], fresh[3]};
      }
    }
  }

  private void startOnce() {
    List<String> cmd = new ArrayList<>(List.of(binary.toString(), "agent", "-dev", "-bind=127.0.0.1", "-client=127.0.0.1",
        "-http-port=" + httpPort, "-grpc-port=" + ports[1], "-grpc-tls-port=-1", "-serf-lan-port=" + ports[2],
        "-serf-wan-port=" + ports[3], "-server-port=" + ports[4], "-dns-port=-1",
        "-log-level=warn", "-disable-host-node-id=true"));
    cmd.addAll(extraArgs);
    try {
      log = Files.createTempFile("consul-", ".log");
      process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start consul", e);
    }
    try {
      org.awaitility.Awaitility.await("consul leader").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
          .until(() -> {
            if (!process.isAlive()) {
              throw new IllegalStateException("consul exited:\n" + readLog());
            }
            return leaderElected();
          });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new IllegalStateException("consul did not become ready:\n" + readLog(), e);
    }
  }

  private boolean leaderElected() {
    try {
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url() + "/v1/status/leader"))
          .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 && r.body().contains(":");
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** {@code http://127.0.0.1:PORT} */
  public String url() {
    return "http://127.0.0.1:" + httpPort;
  }

  public int httpPort() {
    return httpPort;
  }

  /** CPU time the agent's process has used so far (benchmarks), or zero when unknown. */
  public synchronized java.time.Duration cpuTime() {
    return process == null ? java.time.Duration.ZERO : process.toHandle().info().totalCpuDuration().orElse(java.time.Duration.ZERO);
  }

  public synchronized void stop() {
    if (process != null) {
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }

  private String readLog() {
    try {
      return log == null ? "" : Files.readString(log);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() {
    stop();
  }
}

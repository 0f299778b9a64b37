package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A real nginx (Debian's, installed by scripts/testbed/nginx.sh) of a test's own: its own prefix
 * directory, config, PID file, error log and port on 127.0.0.1, run in the foreground as a child of
 * the test JVM, never the system service. Its main config includes {@code upstreams/*.conf} (where
 * the sink writes) and {@code conf.d/*.conf} (where a test may break something), and proxies
 * {@code /u/<upstream>/...} to that upstream with {@code proxy_next_upstream off}, so a request sent
 * to a dead backend is an error, not a silent retry.
 */
public final class Nginx implements AutoCloseable {

  private final Path binary = TestBed.binary(Path.of("/usr/sbin/nginx"), "nginx.sh");
  private final Path prefix;
  private final int port;
  private Process process;

  private Nginx(Path prefix, int port) {
    this.prefix = prefix;
    this.port = port;
  }

  /** Writes the config under {@code prefix} and starts nginx; returns once it answers on its port. */
  public static Nginx started(Path prefix) {
    Nginx n = new Nginx(prefix, TestBed.freePort());
    n.writeConfig();
    n.start();
    return n;
  }

  private void writeConfig() {
    try {
      Files.createDirectories(upstreams());
      Files.createDirectories(confD());
      Files.createDirectories(prefix.resolve("tmp"));
      // Workers run as the user that runs the test (root in the test bed's machines, which nginx would otherwise switch to nobody).
      String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
      Files.writeString(mainConfig(), user
          + "worker_processes 2;\n"
          + "daemon off;\n"
          + "pid " + pidFile() + ";\n"
          + "error_log " + errorLog() + " notice;\n"
          + "worker_shutdown_timeout 10s;\n"
          + "events { worker_connections 1024; }\n"
          + "http {\n"
          + "  access_log off;\n"
          + "  client_body_temp_path " + prefix.resolve("tmp/body") + ";\n"
          + "  proxy_temp_path " + prefix.resolve("tmp/proxy") + ";\n"
          + "  fastcgi_temp_path " + prefix.resolve("tmp/fastcgi") + ";\n"
          + "  uwsgi_temp_path " + prefix.resolve("tmp/uwsgi") + ";\n"
          + "  scgi_temp_path " + prefix.resolve("tmp/scgi") + ";\n"
          + "  include " + upstreams() + "/*.conf;\n"
          + "  include " + confD() + "/*.conf;\n"
          + "  server {\n"
          + "    listen 127.0.0.1:" + port + ";\n"
          + "    location = /healthz { return 200 \"ok\\n\"; }\n"
          + "    location ~ ^/u/(?<up>[A-Za-z0-9._-]+)/ {\n"
          + "      proxy_pass http://$up;\n"
          + "      proxy_next_upstream off;\n"
          + "      proxy_connect_timeout 2s;\n"
          + "      proxy_read_timeout 10s;\n"
          + "    }\n"
          + "  }\n"
          + "}\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public synchronized void start() {
    try {
      process = new ProcessBuilder(binary.toString(), "-p", prefix.toString(), "-c", mainConfig().toString(),
          "-e", errorLog().toString()).redirectErrorStream(true).redirectOutput(prefix.resolve("stdout.log").toFile()).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start nginx", e);
    }
    try {
      org.awaitility.Awaitility.await("nginx on port " + port).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
          .until(() -> {
            if (!process.isAlive()) {
              throw new IllegalStateException("nginx exited:\n" + readLog());
            }
            return Files.exists(pidFile()) && accepts();
          });
    } catch (org.awaitility.core.ConditionTimeoutException e) {
      throw new IllegalStateException("nginx did not start:\n" + readLog(), e);
    }
  }

  private boolean accepts() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  public Path prefix() {
    return prefix;
  }

  public Path binary() {
    return binary;
  }

  public Path mainConfig() {
    return prefix.resolve("nginx.conf");
  }

  public Path pidFile() {
    return prefix.resolve("nginx.pid");
  }

  public Path errorLog() {
    return prefix.resolve("error.log");
  }

  /** Where the sink writes: the main config includes {@code *.conf} from here. */
  /** The servers of {@code upstream}'s include file written without {@code down}: what nginx would route to after a reload. */
  public java.util.Set<String> liveServers(String upstream) throws IOException {
    Path f = upstreams().resolve(upstream + ".conf");
    java.util.Set<String> out = new java.util.TreeSet<>();
    if (!Files.exists(f)) {
      return out;
    }
    for (String line : Files.readAllLines(f)) {
      String l = line.strip();
      if (l.startsWith("server ") && !l.contains(" down")) {
        out.add(l.split("\\s+")[1]);
      }
    }
    return out;
  }

  public Path upstreams() {
    return prefix.resolve("upstreams");
  }

  /** Other includes of the main config, for a test to put a broken one. */
  public Path confD() {
    return prefix.resolve("conf.d");
  }

  public int port() {
    return port;
  }

  /** The path of a request that nginx sends to {@code upstream}. */
  public String path(String upstream) {
    return "/u/" + upstream + "/";
  }

  public boolean alive() {
    return process != null && process.isAlive();
  }

  public long masterPid() {
    return process.pid();
  }

  /** The master's children: workers of every generation still alive. */
  public Set<Long> workers() {
    return process.toHandle().children().map(ProcessHandle::pid).collect(Collectors.toSet());
  }

  /** The sink's settings that point at this nginx: binary, main config, prefix, PID file, error log. */
  public java.util.Map<String, Object> sinkConfig() {
    return new java.util.LinkedHashMap<>(java.util.Map.of("directory", upstreams().toString(), "nginx", binary.toString(),
        "mainConfig", mainConfig().toString(), "prefix", prefix.toString(), "pidFile", pidFile().toString(),
        "errorLog", errorLog().toString()));
  }

  /** The same settings as YAML flow-mapping entries, for a daemon's config. */
  public String sinkConfigYaml() {
    return sinkConfig().entrySet().stream().map(e -> e.getKey() + ": '" + e.getValue() + "'").collect(Collectors.joining(", "));
  }

  public String readLog() {
    try {
      return Files.exists(errorLog()) ? Files.readString(errorLog()) : "(no error log)";
    } catch (IOException e) {
      return "(cannot read the error log: " + e + ")";
    }
  }

  /** Fast shutdown (SIGTERM) of the master, which ends its workers. */
  public synchronized void stop() {
    if (process != null) {
      List<ProcessHandle> kids = process.toHandle().children().toList();
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      kids.forEach(ProcessHandle::destroyForcibly);
      process = null;
    }
  }

  @Override
  public void close() {
    stop();
  }
}

package io.k8ssync.demo;

import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.daemon.dispatch.SinkRunner;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.PrintStream;
import org.apache.curator.test.TestingServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The demo ({@code java -jar sync-daemon/demo/target/k8s-sync-demo.jar}): the daemon against an in-process API server (fabric8's mock server in CRUD
 * mode) while a churn generator creates, readies, flaps, rolls and deletes pods. Every embeddable
 * sink on the class path runs; the log sink prints each change, and a summary line follows every
 * few seconds. Stops after the duration or on Ctrl-C. It lives outside the production jar because it
 * needs test infrastructure (fabric8's mock API server, Curator's in-process ZooKeeper).
 */
public final class Demo {

  /** The mock server logs every request through java.util.logging; the demo shows the daemon instead. */
  private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  static final String USAGE = "usage: java -jar k8s-sync-demo.jar [--duration 60s] [--pods 12] [--http-port 9464]";

  private Demo() {}

  public static void main(String[] args) {
    Duration duration = Duration.ofSeconds(60);
    int pods = 12;
    int httpPort = 9464;
    try {
      for (int i = 0; i < args.length; i++) {
        String flag = args[i];
        String v = i + 1 < args.length ? args[++i] : null;
        switch (flag) {
          case "--duration" -> {
            duration = v == null ? null : ConfigDef.parseDuration(v);
            if (duration == null) {
              throw new IllegalArgumentException("--duration " + ConfigException.show(v) + ": expected a duration such as 90s or 5m");
            }
          }
          case "--pods" -> pods = intValue(flag, v, 1, 10_000);
          case "--http-port" -> httpPort = intValue(flag, v, 0, 65535);
          default -> throw new IllegalArgumentException("unknown option " + ConfigException.show(flag));
        }
      }
    } catch (IllegalArgumentException e) {
      System.err.println("k8s-sync demo: " + e.getMessage());
      System.err.println(USAGE);
      System.exit(2);
    }
    System.exit(run(SinkTypes.discover(), duration, pods, httpPort, System.out));
  }

  private static int intValue(String flag, String v, int min, int max) {
    try {
      int n = Integer.parseInt(String.valueOf(v));
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException(flag + " " + ConfigException.show(String.valueOf(v)) + ": expected an integer from " + min + " to " + max);
  }

  public static int run(SinkTypes types, Duration duration, int pods, int httpPort, PrintStream out) {
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
    KubernetesMockServer server = new KubernetesMockServer(new Context(Serialization.jsonMapper()), new MockWebServer(),
        new HashMap<>(), new KubernetesCrudDispatcher(), false);
    server.init();
    Daemon daemon = null;
    TestingServer zookeeper = null;
    try {
      zookeeper = new TestingServer(true);
      DaemonConfig config = new ConfigLoader(types).parse(config(types, httpPort, zookeeper.getConnectString()));
      daemon = new Daemon(config, types, spec -> server.createClient(), false);
      daemon.start();
      daemon.synced().get(30, TimeUnit.SECONDS);
      out.printf("k8s-sync demo: simulated cluster at %s, ZooKeeper at %s, metrics at http://localhost:%d/metrics,"
          + " for %ds (Ctrl-C stops)%n", server.url("/"), zookeeper.getConnectString(), daemon.httpPort(), duration.toSeconds());
      UpstreamView upstreams = new UpstreamView(zookeeper.getConnectString());

      CountDownLatch stop = new CountDownLatch(1);
      io.k8ssync.daemon.Signals.onTermination(stop::countDown);
      ChurnGenerator churn = new ChurnGenerator(server.createClient(), replicas(pods), 42);
      churn.seed();
      long end = System.nanoTime() + duration.toNanos();
      int ticks = 0;
      while (System.nanoTime() < end && !stop.await(500, TimeUnit.MILLISECONDS)) {
        churn.tick();
        if (++ticks % 10 == 0) {
          out.println(summary(daemon, ticks / 2));
          out.println(upstreams.describe());
        }
      }
      out.println(summary(daemon, ticks / 2));
      out.println(upstreams.describe());
      upstreams.close();
      return 0;
    } catch (Exception e) {
      out.println("k8s-sync demo failed: " + e);
      return 1;
    } finally {
      if (daemon != null) {
        daemon.close();
      }
      server.destroy();
      if (zookeeper != null) {
        try {
          zookeeper.close();
        } catch (java.io.IOException e) {
          out.println("closing the demo ZooKeeper failed: " + e);
        }
      }
    }
  }

  private static Map<String, Integer> replicas(int pods) {
    Map<String, Integer> r = new LinkedHashMap<>();
    int web = Math.max(1, pods / 2);
    int api = Math.max(1, pods / 3);
    r.put("web", web);
    r.put("api", api);
    r.put("rpc", Math.max(1, pods - web - api));
    return r;
  }

  /** The demo's config: one simulated cluster, every sink type that needs no outside server. */
  private static Map<String, Object> config(SinkTypes types, int httpPort, String zookeeper) {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("daemon", Map.of("http", Map.of("port", httpPort), "shutdownTimeout", "5s"));
    root.put("clusters", List.of(Map.of("name", "demo", "namespaces", List.of(ChurnGenerator.NAMESPACE))));
    root.put("pods", Map.of("keepLabels", List.of("revision")));
    List<Object> sinks = new ArrayList<>();
    sinks.add(Map.of("name", "log", "type", "log", "config", Map.of("onlyRegistrationChanges", true)));
    sinks.add(Map.of("name", "nginx-zk", "type", "zookeeper",
        "config", Map.of("connect", zookeeper, "drainDelay", "3s", "reconcileEvery", "10s")));
    root.put("sinks", sinks);
    return root;
  }

  static String summary(Daemon daemon, int seconds) {
    int online = 0;
    int rejected = 0;
    for (PodState p : daemon.cache().pods()) {
      if (Registration.desiredOnline(p)) {
        online++;
      }
      if (p.rejected()) {
        rejected++;
      }
    }
    StringBuilder s = new StringBuilder(String.format("[summary t=%ds] pods=%d online=%d rejected=%d",
        seconds, daemon.cache().size(), online, rejected));
    for (SinkRunner r : daemon.dispatcher().runners()) {
      s.append(String.format(" | sink %s: applied=%d queued=%d lag=%.2fs%s", r.name(), r.applied(),
          r.queue().depth(), r.queue().oldestPendingSeconds(), r.failing() ? " FAILING" : ""));
    }
    return s.toString();
  }
}

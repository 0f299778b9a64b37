package io.k8ssync.daemon;

import io.k8ssync.daemon.config.ConfigLoader;
import io.k8ssync.daemon.config.ConfigReference;
import io.k8ssync.daemon.config.DaemonConfig;
import io.k8ssync.daemon.config.SinkTypes;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The command line. Exit codes: 0 done, 1 failed while running, 2 bad usage or bad config.
 */
public final class Main {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int BAD_INPUT = 2;

  private static final String USAGE = String.join("\n",
      "usage: k8s-sync <command> [options]",
      "  run --config FILE [--dry-run]   watch pods and keep the configured sinks in step",
      "  validate --config FILE          check a config file and exit (0 valid, 2 invalid)",
      "  config-reference                print every config key with its type, default and meaning",
      "  status [--url URL] [--service S] [--ip IP] [--json]",
      "                                  where pods stand in each sink, asked of a running daemon (status --help)",
      "  --version                       print the version and the git commit of this build");

  /** The demo needs test infrastructure, so it is its own jar (sync-daemon/demo), not in this one. */
  private static final String DEMO_MOVED = "the demo is not part of the production jar: "
      + "run java -jar sync-daemon/demo/target/k8s-sync-demo.jar [--duration 60s] [--pods 12] [--http-port 9464]";

  private Main() {}

  public static void main(String[] args) {
    CommonPoolSize.apply();
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
      (args.length == 0 ? err : out).println(USAGE);
      return args.length == 0 ? BAD_INPUT : OK;
    }
    if (args.length == 1 && (args[0].equals("--version") || args[0].equals("version"))) {
      out.println(BuildInfo.current().line());
      return OK;
    }
    if (args[0].equals("status")) {
      return io.k8ssync.daemon.status.StatusCommand.run(List.of(args).subList(1, args.length), out, err);
    }
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      err.println("k8s-sync: " + e.getMessage());
      err.println(USAGE);
      return BAD_INPUT;
    }
    SinkTypes types = SinkTypes.discover();
    switch (o.command) {
      case "validate": {
        DaemonConfig config;
        try {
          config = new ConfigLoader(types).load(o.requireConfig());
        } catch (ConfigException e) {
          err.println("k8s-sync: " + e.getMessage());
          return BAD_INPUT;
        }
        out.println("config OK: " + o.config + " (" + config.clusters().size() + " cluster(s), "
            + config.sinks().size() + " sink(s))");
        return OK;
      }
      case "run": {
        DaemonConfig config;
        try {
          config = new ConfigLoader(types).load(o.requireConfig());
        } catch (ConfigException e) {
          err.println("k8s-sync: " + e.getMessage());
          return BAD_INPUT;
        }
        return runUntilSignalled(new Daemon(config, types, Clients::forCluster, o.dryRun), err);
      }
      case "demo":
        err.println("k8s-sync: " + DEMO_MOVED);
        return BAD_INPUT;
      case "config-reference":
        out.print(ConfigReference.markdown(types));
        return OK;
      default:
        err.println("k8s-sync: unknown command " + ConfigException.show(o.command));
        err.println(USAGE);
        return BAD_INPUT;
    }
  }

  /**
   * Runs the daemon until SIGTERM or SIGINT, then shuts it down gracefully and returns 0. A config
   * problem met while starting exits 2 with its one-line message, as {@code validate} would.
   */
  static int runUntilSignalled(Daemon daemon, PrintStream err) {
    Logger log = LoggerFactory.getLogger(Main.class);
    CountDownLatch stop = new CountDownLatch(1);
    Signals.onTermination(stop::countDown);
    try {
      daemon.start();
    } catch (Exception e) {
      daemon.close();
      ConfigException config = configProblem(e);
      if (config != null) {
        err.println("k8s-sync: " + config.getMessage());
        return BAD_INPUT;
      }
      log.error("k8s-sync failed to start: {}", String.valueOf(e), e);
      return FAILED;
    }
    try {
      stop.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log.info("termination signal received");
    daemon.close();
    return OK;
  }

  /** The config error that caused {@code e}, or null. */
  private static ConfigException configProblem(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof ConfigException c) {
        return c;
      }
    }
    return null;
  }

  /** Parsed command-line options. */
  static final class Options {
    String command;
    Path config;
    boolean dryRun;
    Duration duration = Duration.ofSeconds(60);
    int pods = 12;
    int httpPort = 9464;

    static Options parse(String[] args) {
      Options o = new Options();
      List<String> rest = new ArrayList<>(List.of(args));
      o.command = rest.remove(0);
      if (o.command.startsWith("--")) {
        rest.add(0, o.command);
        o.command = "run";
      }
      for (int i = 0; i < rest.size(); i++) {
        String a = rest.get(i);
        switch (a) {
          case "--dry-run":
            o.dryRun = true;
            break;
          case "--config":
            o.config = Path.of(value(rest, ++i, a));
            break;
          case "--duration": {
            String v = value(rest, ++i, a);
            o.duration = ConfigDef.parseDuration(v);
            if (o.duration == null) {
              throw new IllegalArgumentException("--duration " + ConfigException.show(v) + ": expected a duration such as 90s or 5m");
            }
            break;
          }
          case "--pods":
            o.pods = intValue(rest, ++i, a, 1, 10_000);
            break;
          case "--http-port":
            o.httpPort = intValue(rest, ++i, a, 0, 65535);
            break;
          default:
            throw new IllegalArgumentException("unknown option " + ConfigException.show(a));
        }
      }
      return o;
    }

    Path requireConfig() throws ConfigException {
      if (config == null) {
        throw new ConfigException("--config", "missing; expected the path of a YAML config file");
      }
      return config;
    }

    private static String value(List<String> args, int i, String flag) {
      if (i >= args.size()) {
        throw new IllegalArgumentException(flag + " needs a value");
      }
      return args.get(i);
    }

    private static int intValue(List<String> args, int i, String flag, int min, int max) {
      String v = value(args, i, flag);
      try {
        int n = Integer.parseInt(v);
        if (n >= min && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // fall through to the error below
      }
      throw new IllegalArgumentException(flag + " " + ConfigException.show(v) + ": expected an integer from " + min + " to " + max);
    }
  }
}

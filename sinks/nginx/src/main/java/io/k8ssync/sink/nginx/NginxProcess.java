package io.k8ssync.sink.nginx;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The running nginx, as the sink sees it: {@code nginx -t} and {@code nginx -T} against the real main
 * config, and a reload that is confirmed, not assumed. {@code nginx -s reload} only sends a signal;
 * a master that cannot load the new config logs an [emerg] and keeps its old workers. So a reload
 * counts only once the master has started a new generation of workers (a child process that was not
 * there before the signal) and the old workers stopped accepting, and fails at once when the error log says the master refused it.
 */
final class NginxProcess {

  /** How a reload ended. */
  enum Outcome { OK, FAILED, TIMEOUT, NOT_RUNNING }

  record Result(boolean ok, String detail) {}

  record Reload(Outcome outcome, String detail, int workers) {}

  private final NginxSinkConfig config;

  NginxProcess(NginxSinkConfig config) {
    this.config = config;
  }

  /** {@code nginx -t}: does nginx accept the config as it is on disk now? */
  Result test() throws InterruptedException {
    long offset = logSize();
    Result r = run(nginx("-t"));
    if (!r.ok() && !r.detail().contains("[emerg]")) {
      // Once the config names its error_log, nginx -t writes the [emerg] there, not to its output.
      String logged = logErrors(offset);
      if (logged != null) {
        return new Result(false, logged + "\n" + r.detail());
      }
    }
    return r;
  }

  /** {@code nginx -T}: the whole config, every include, as nginx reads it. */
  Result dump() throws InterruptedException {
    return run(nginx("-T"));
  }

  private List<String> nginx(String flag) {
    List<String> cmd = new ArrayList<>(List.of(config.nginx().toString()));
    if (config.prefix() != null) {
      cmd.addAll(List.of("-p", config.prefix().toString()));
    }
    cmd.addAll(List.of("-c", config.mainConfig().toString(), flag));
    return cmd;
  }

  /** The master's PID from the PID file, or -1 when there is no live master. */
  long master() {
    try {
      long pid = Long.parseLong(Files.readString(config.pidFile()).strip());
      return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) ? pid : -1;
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /** The master's child processes: workers (and cache processes), of every generation still alive. */
  static Set<Long> children(long master) {
    return ProcessHandle.of(master).map(h -> h.children().map(ProcessHandle::pid).collect(Collectors.toSet())).orElse(Set.of());
  }

  /** False for a worker that still accepts connections; true for one shutting down, gone, or not a worker. */
  static boolean notAccepting(long pid) {
    try {
      String title = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
      return !title.contains("worker process") || title.contains("shutting down");
    } catch (IOException e) {
      return true; // gone
    }
  }

  /** Reloads and waits for a new generation of workers, an error in the log, or the timeout. */
  Reload reload() throws InterruptedException {
    long master = master();
    if (master < 0) {
      return new Reload(Outcome.NOT_RUNNING, "no running master in pid file " + config.pidFile(), 0);
    }
    Set<Long> before = children(master);
    long logOffset = logSize();
    Result sent = config.reloadCommand().isEmpty()
        ? run(List.of("kill", "-HUP", Long.toString(master)))
        : run(config.reloadCommand());
    if (!sent.ok()) {
      return new Reload(Outcome.FAILED, "reload command failed: " + sent.detail(), before.size());
    }
    long deadline = System.nanoTime() + config.reloadTimeout().toNanos();
    long pause = 2;
    while (true) {
      long now = master();
      if (now < 0) {
        return new Reload(Outcome.NOT_RUNNING, "the master exited during the reload", 0);
      }
      Set<Long> kids = children(now);
      // Confirmed once the new generation runs and the old one stopped accepting: an old worker
      // takes the title "worker process is shutting down" as it closes its listening sockets.
      if (now != master || (kids.stream().anyMatch(k -> !before.contains(k))
          && before.stream().filter(kids::contains).allMatch(NginxProcess::notAccepting))) {
        return new Reload(Outcome.OK, "new workers started, the old ones stopped accepting", kids.size());
      }
      String refused = logErrors(logOffset);
      if (refused != null) {
        return new Reload(Outcome.FAILED, "nginx refused the new config: " + refused, kids.size());
      }
      if (System.nanoTime() > deadline) {
        return new Reload(Outcome.TIMEOUT, "no new worker processes within " + config.reloadTimeout().toMillis() + "ms", kids.size());
      }
      Thread.sleep(pause);
      pause = Math.min(pause * 2, 50);
    }
  }

  private long logSize() {
    try {
      return config.errorLog() == null ? 0 : Files.size(config.errorLog());
    } catch (IOException e) {
      return 0;
    }
  }

  /** The first [emerg] or [alert] line written to the error log after {@code offset}, or null. */
  private String logErrors(long offset) {
    if (config.errorLog() == null) {
      return null;
    }
    try (RandomAccessFile f = new RandomAccessFile(config.errorLog().toFile(), "r")) {
      long len = f.length();
      if (len <= offset) {
        return null;
      }
      f.seek(offset);
      byte[] buf = new byte[(int) Math.min(len - offset, 64 * 1024)];
      f.readFully(buf);
      for (String line : new String(buf, StandardCharsets.UTF_8).split("\n")) {
        if (line.contains("[emerg]") || line.contains("[alert]")) {
          return line.strip();
        }
      }
      return null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Runs a command with the reload timeout; its output (both streams) goes to a temp file, so a long one never blocks it. */
  Result run(List<String> cmd) throws InterruptedException {
    Path out = null;
    try {
      out = Files.createTempFile("k8s-sync-nginx-", ".out");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      boolean done;
      try {
        done = p.waitFor(config.reloadTimeout().toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        p.destroyForcibly();
        throw e;
      }
      if (!done) {
        p.destroyForcibly();
        return new Result(false, cmd.get(0) + " did not finish within " + config.reloadTimeout().toMillis() + "ms");
      }
      String text = Files.readString(out);
      return new Result(p.exitValue() == 0, text);
    } catch (IOException e) {
      return new Result(false, "cannot run " + cmd.get(0) + ": " + e.getMessage());
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException e) {
          // a temp file left in /tmp
        }
      }
    }
  }

  /** The line of nginx's output that says what is wrong ([emerg] first), for a log line. */
  static String why(String output) {
    String last = "";
    for (String line : output.split("\n")) {
      if (line.contains("[emerg]") || line.contains("[alert]")) {
        return line.strip();
      }
      if (!line.isBlank()) {
        last = line.strip();
      }
    }
    return last;
  }

  /** True when the config nginx reads sets worker_shutdown_timeout (outside comments). */
  static boolean setsWorkerShutdownTimeout(String dump) {
    for (String line : dump.split("\n")) {
      String code = line.contains("#") ? line.substring(0, line.indexOf('#')) : line;
      if (code.matches("\\s*worker_shutdown_timeout\\s+\\S+.*")) {
        return true;
      }
    }
    return false;
  }

  static Duration since(long nanos) {
    return Duration.ofNanos(System.nanoTime() - nanos);
  }
}

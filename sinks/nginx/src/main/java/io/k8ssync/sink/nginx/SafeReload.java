package io.k8ssync.sink.nginx;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts rendered files in front of nginx so that a bad one never runs: only files whose text changed
 * are replaced (atomically, with backups), {@code nginx -t} tests the whole config with them, and the
 * reload must be confirmed; when the test or the reload fails, the previous files are put back and
 * nothing else is touched. A file of the same name that this sink did not write is never replaced.
 *
 * <p>The config as it runs is tested first: when it fails for a reason outside this sink's files,
 * the sink holds and no candidate is ever put in place. Otherwise the candidate sits at the live
 * path while {@code nginx -t} runs (so nginx tests exactly what it would load), for the time of that
 * test only: a reload by someone else in that window would load it untested.
 */
final class SafeReload {

  /** How an attempt ended: {@code result} is the label of {@code k8s_sync_nginx_reloads_total}. */
  record Outcome(String result, String stage, String why, int filesChanged, int workers, double seconds) {
    boolean ok() {
      return result.equals("ok");
    }

    boolean unchanged() {
      return result.equals("unchanged");
    }
  }

  private final UpstreamFiles files;
  private final FileSwap swap;
  private final NginxProcess nginx;
  private final System.Logger log;
  private final String sink;

  SafeReload(UpstreamFiles files, FileSwap swap, NginxProcess nginx, System.Logger log, String sink) {
    this.files = files;
    this.swap = swap;
    this.nginx = nginx;
    this.log = log;
    this.sink = sink;
  }

  /** Applies {@code text} (path → content); with {@code force}, reloads even when nothing changed. */
  Outcome apply(Map<Path, String> text, boolean force) throws InterruptedException {
    Map<Path, String> before = new LinkedHashMap<>();
    Map<Path, String> changed = new LinkedHashMap<>();
    try {
      for (Map.Entry<Path, String> f : text.entrySet()) {
        String live = UpstreamFiles.read(f.getKey());
        if (live != null && !files.ours(live)) {
          return failed("foreign_file", "write", f.getKey() + " exists and was not written by this sink; it is left alone");
        }
        before.put(f.getKey(), live);
        if (!f.getValue().equals(live)) {
          changed.put(f.getKey(), f.getValue());
        }
      }
    } catch (IOException e) {
      return failed("write_failed", "read", e.toString());
    }
    if (changed.isEmpty() && !force) {
      return new Outcome("unchanged", "", "", 0, -1, 0);
    }
    // The config as it runs first: when it is broken elsewhere (an include someone else wrote), hold
    // without putting a candidate in front of nginx at all. Only a failure naming one of our own
    // files lets the candidate (which may repair it) go on to its own test.
    NginxProcess.Result live = nginx.test();
    if (!live.ok() && changed.keySet().stream().noneMatch(p -> live.detail().contains(p.toString()))) {
      return failed("test_failed", "nginx -t", NginxProcess.why(live.detail()));
    }
    long t0 = System.nanoTime();
    List<FileSwap.Change> installed;
    try {
      installed = swap.install(changed, before);
    } catch (IOException e) {
      List<FileSwap.Change> all = new ArrayList<>();
      changed.keySet().forEach(p -> all.add(new FileSwap.Change(p, before.get(p))));
      restore(all);
      return failed("write_failed", "write", e.toString());
    }
    try {
      return testAndReload(installed, changed.size(), t0);
    } catch (InterruptedException e) {
      restore(installed); // never leave an untested candidate behind
      throw e;
    }
  }

  private Outcome testAndReload(List<FileSwap.Change> installed, int changedFiles, long t0) throws InterruptedException {
    NginxProcess.Result test = nginx.test();
    if (!test.ok()) {
      restore(installed);
      return failed("test_failed", "nginx -t", NginxProcess.why(test.detail()));
    }
    NginxProcess.Reload reload = nginx.reload();
    double seconds = NginxProcess.since(t0).toNanos() / 1e9;
    if (reload.outcome() != NginxProcess.Outcome.OK) {
      restore(installed);
      String result = switch (reload.outcome()) {
        case TIMEOUT -> "timeout";
        case NOT_RUNNING -> "not_running";
        default -> "reload_failed";
      };
      return new Outcome(result, "reload", reload.detail(), changedFiles, reload.workers(), seconds);
    }
    return new Outcome("ok", "reload", reload.detail(), changedFiles, reload.workers(), seconds);
  }

  private static Outcome failed(String result, String stage, String why) {
    return new Outcome(result, stage, why, 0, -1, 0);
  }

  private void restore(List<FileSwap.Change> installed) {
    try {
      swap.restore(installed);
    } catch (IOException e) {
      log.log(Level.ERROR, "cannot restore the previous upstream files (the backups .<name>.bak are beside them): sink={0} error={1}",
          sink, e.toString());
    }
  }
}

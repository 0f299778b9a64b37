package io.k8ssync.sink.upstream;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import io.k8ssync.sink.TestSinkContext;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A {@link Progress} that records every report with what a test saw of the target system at that
 * very moment ({@code look}, run on the reporting thread before the report is recorded), so a test
 * can assert that a report came only once the registry held what it says.
 */
public final class RecordingProgress implements Progress {

  /** One report: kind (online, draining, offline, failing), the pod as reported, the error, when (nanoTime), and what was seen then. */
  public record Report(String kind, PodState pod, String error, long atNanos, Object seen) {}

  public final List<Report> reports = new CopyOnWriteArrayList<>();
  private final Function<PodState, Object> look;

  public RecordingProgress(Function<PodState, Object> look) {
    this.look = look;
  }

  @Override public void online(PodState pod) { add("online", pod, null); }
  @Override public void draining(PodState pod) { add("draining", pod, null); }
  @Override public void offline(PodState pod) { add("offline", pod, null); }
  @Override public void failing(PodState pod, String error) { add("failing", pod, error); }

  private void add(String kind, PodState pod, String error) {
    Object seen = look.apply(pod);
    reports.add(new Report(kind, pod, error, System.nanoTime(), seen));
  }

  /** The reports about the pod named {@code name}, in order. */
  public List<Report> of(String name) {
    return reports.stream().filter(r -> r.pod().name().equals(name)).toList();
  }

  /** The kinds of the reports about {@code name}, in order. */
  public List<String> kinds(String name) {
    return of(name).stream().map(Report::kind).toList();
  }

  /** The last report about {@code name}, or null. */
  public Report last(String name) {
    List<Report> of = of(name);
    return of.isEmpty() ? null : of.get(of.size() - 1);
  }

  /** {@code test} as a sink's context that reports here. */
  public io.k8ssync.sink.SinkContext context(TestSinkContext test) {
    RecordingProgress self = this;
    return new io.k8ssync.sink.SinkContext() {
      @Override public String name() { return test.name(); }
      @Override public io.k8ssync.sink.config.Config config() { return test.config(); }
      @Override public io.k8ssync.sink.Selector selector() { return test.selector(); }
      @Override public boolean dryRun() { return test.dryRun(); }
      @Override public io.k8ssync.sink.SinkMetrics metrics() { return test.metrics(); }
      @Override public io.k8ssync.sink.PodStateView pods() { return test.pods(); }
      @Override public java.time.Clock clock() { return test.clock(); }
      @Override public java.util.Set<String> clusters() { return test.clusters(); }
      @Override public long leadershipTerm(String cluster) { return test.leadershipTerm(cluster); }
      @Override public boolean leads(String cluster) { return test.leads(cluster); }
      @Override public java.time.Duration writeBudget(String cluster) { return test.writeBudget(cluster); }
      @Override public Progress progress() { return self; }
    };
  }
}

package io.k8ssync.daemon.testing;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A sink that routes traffic (type {@code routing}), for rollout tests: it keeps a set of online
 * pods as a registry would, reports each pod's progress as a real one must (online once in the set,
 * draining, then offline after {@code drain}), and can be told to fail. Every report is recorded
 * with its time. Looked up by sink name with {@link #get}.
 */
public final class RoutingSinkFactory implements SinkFactory {

  private static final Map<String, Routing> SINKS = new ConcurrentHashMap<>();

  static final ConfigDef CONFIG = new ConfigDef()
      .define("drain", ConfigDef.Type.DURATION, Duration.ZERO, "how long a pod drains before it is offline")
      .define("failPods", ConfigDef.Type.STRING, null, "a regex: applies to pods whose name matches fail (retriable)");

  /** One progress report: what, of which pod (name), when. */
  public record Report(String what, String pod, Instant at) {}

  /** The sink. */
  public static final class Routing implements Sink {
    private final SinkContext context;
    private final Duration drain;
    private final java.util.regex.Pattern failPods;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    /** Online pod names. */
    public final java.util.Set<String> online = ConcurrentHashMap.newKeySet();
    public final List<Report> reports = new CopyOnWriteArrayList<>();
    /** While set, every apply fails with a retriable error saying this. */
    public volatile String failWith;

    Routing(SinkContext context) {
      this.context = context;
      this.drain = context.config().getDuration("drain");
      String f = context.config().getString("failPods");
      this.failPods = f == null ? null : java.util.regex.Pattern.compile(f);
    }

    @Override
    public void apply(List<PodChange> batch) throws SinkException {
      String fail = failWith;
      if (fail != null) {
        throw SinkException.retriable(fail, null);
      }
      for (PodChange c : batch) {
        if (failPods != null && failPods.matcher(c.latest().name()).matches()) {
          throw SinkException.retriable("told to fail for " + c.latest().name(), null);
        }
        PodState after = c.after();
        String name = c.latest().name();
        if (after != null && Registration.desiredOnline(after, context.selector())) {
          online.add(name);
          report("online", after);
        } else if (online.remove(name)) {
          PodState gone = c.latest();
          report("draining", gone);
          timer.schedule(() -> report("offline", gone), drain.toMillis(), TimeUnit.MILLISECONDS);
        } else {
          report("offline", c.latest()); // never online here: this sink knows it
        }
      }
    }

    private void report(String what, PodState pod) {
      reports.add(new Report(what, pod.name(), Instant.now()));
      switch (what) {
        case "online" -> context.progress().online(pod);
        case "draining" -> context.progress().draining(pod);
        default -> context.progress().offline(pod);
      }
    }

    /** When {@code pod} was last reported {@code what}, or null. */
    public Instant last(String what, String pod) {
      Instant at = null;
      for (Report r : reports) {
        if (r.what().equals(what) && r.pod().equals(pod)) {
          at = r.at();
        }
      }
      return at;
    }

    @Override
    public void close() {
      timer.shutdownNow();
    }
  }

  public static Routing get(String name) {
    return SINKS.get(name);
  }

  @Override
  public String type() {
    return "routing";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public boolean routesTraffic() {
    return true;
  }

  @Override
  public Sink create(SinkContext context) {
    Routing r = new Routing(context);
    SINKS.put(context.name(), r);
    return r;
  }
}

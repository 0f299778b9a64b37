package io.k8ssync.daemon.status;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.metrics.HealthServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * "Is my pod online, and if not, why?" answered where people look: the status API and page on the
 * daemon's HTTP port, and Kubernetes Events on the pods. The daemon makes one, before its informers
 * start, registers its routes, hands it the cluster clients once made, and closes it.
 */
public final class Status implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(Status.class);

  private final StatusSettings settings;
  private final PodStatuses statuses;
  private final PodEvents events;

  /** Listens to the cache and the sinks' progress from now on: create before the informers start. */
  public Status(StatusSettings settings, StatusSource source, PrometheusRegistry registry) {
    this.settings = settings;
    this.statuses = new PodStatuses(source);
    source.cache().addListener(statuses.cacheListener());
    if (settings.events().enabled()) {
      Map<String, String> types = new LinkedHashMap<>();
      source.sinks().forEach(s -> types.put(s.name(), s.type()));
      String identity = source.replica().identity() != null ? source.replica().identity() : hostName();
      if (identity.lastIndexOf("@http") > 0) {
        identity = identity.substring(0, identity.lastIndexOf("@http")); // the leader's URL, not its name
      }
      this.events = new PodEvents(settings.events(), source.progress(), types, source.replica()::leads,
          source.replica()::leadingSinceMillis, source.cache()::get, cluster -> null, identity, registry, System::currentTimeMillis);
      source.progress().addListener(events);
      source.cache().addListener(events);
    } else {
      this.events = null;
    }
  }

  /** The status API under /v1 and the page at /, unless turned off. */
  public void routes(HealthServer server) {
    if (!settings.enabled()) {
      LOG.info("status API and page off (status.enabled: false)");
      return;
    }
    server.route("/v1/", new StatusApi(statuses, settings.localhostOnly()));
    server.route("/", new StatusPage(statuses, settings.localhostOnly()));
  }

  /** Events are written through {@code clients} (the client of each cluster) from now on. */
  public void start(Function<String, KubernetesClient> clients) {
    if (events != null) {
      events.useClients(clients);
      events.start();
    }
  }

  public PodStatuses statuses() {
    return statuses;
  }

  /** The Event recorder; null when status.events.enabled is false. */
  public PodEvents events() {
    return events;
  }

  @Override
  public void close() {
    if (events != null) {
      events.close();
    }
  }

  private static String hostName() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) {
      return pod;
    }
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return PodEvents.COMPONENT;
    }
  }
}

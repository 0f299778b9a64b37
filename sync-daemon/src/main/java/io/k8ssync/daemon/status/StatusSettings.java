package io.k8ssync.daemon.status;

import java.time.Duration;

/**
 * The {@code status} section: the status API and page (which show pod names, IPs and per-sink
 * state, as {@code kubectl get pods -o wide} would), and the Kubernetes Events recorded on pods.
 *
 * @param enabled       serve {@code /v1/...} and the page at {@code /} on the daemon's HTTP port
 * @param localhostOnly answer those only to clients on a loopback address (e.g. through kubectl port-forward)
 */
public record StatusSettings(boolean enabled, boolean localhostOnly, Events events) {

  /**
   * How Events are recorded, after client-go's EventRecorder: each pod may burst {@code perPodBurst}
   * Events then one per {@code perPodRefill}; all pods together {@code ratePerSecond} up to
   * {@code burst}; at most {@code queueCapacity} wait for the API server; a sink's failures become a
   * Warning once {@code failingAfter} attempts in a row failed.
   */
  public record Events(boolean enabled, int queueCapacity, int perPodBurst, Duration perPodRefill,
                       double ratePerSecond, int burst, int failingAfter) {

    public static final Events DEFAULTS = new Events(true, 1000, 25, Duration.ofMinutes(5), 10, 100, 3);
  }

  public static final StatusSettings DEFAULTS = new StatusSettings(true, false, Events.DEFAULTS);
}

package io.k8ssync.daemon.ha;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElector;
import io.k8ssync.daemon.config.DaemonConfig.LeaderElectionSpec;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A change made just after the old leader's last renewal (it died then) must still count as fresh
 * when a standby takes over at the latest moment fabric8's elector allows: the Lease runs
 * leaseDuration from that renewal, and the standby tries again every retryPeriod stretched by up to
 * the elector's jitter factor, its clock up to {@link LeaderElection#CLOCK_SKEW} off the old
 * leader's. TakeoverBench at 10,000 pods (lease 4 s, retry 500 ms) saw the Lease change hands 4.64 s
 * after the kill, outside a window of leaseDuration + retryPeriod (4.5 s): the pod made ready right
 * after the kill was replayed with 499 others in MySQL's first batch instead of written alone.
 */
class FreshWindowTest {

  @ParameterizedTest
  @CsvSource({"4s, 3s, 500ms", "15s, 10s, 2s", "3s, 2s, 300ms", "60s, 40s, 10s"})
  void theLatestTakeoverAfterALastRenewalIsInsideTheWindow(String lease, String deadline, String retry) throws Exception {
    LeaderElectionSpec spec = new LeaderElectionSpec("default", "k8s-sync", "me", parse(lease), parse(deadline), parse(retry),
        Duration.ofMinutes(1));
    java.lang.reflect.Field f = LeaderElector.class.getDeclaredField("JITTER_FACTOR");
    f.setAccessible(true);
    double jitter = (Double) f.get(null);
    Duration latestTakeover = spec.leaseDuration()
        .plus(Duration.ofNanos((long) (spec.retryPeriod().toNanos() * (1 + jitter))))
        .plus(LeaderElection.CLOCK_SKEW);
    Duration window = LeaderElection.freshWindow(spec);
    assertTrue(window.compareTo(latestTakeover) >= 0, "window " + window + " < latest takeover " + latestTakeover);
  }

  private static Duration parse(String s) {
    return s.endsWith("ms") ? Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)))
        : Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
  }
}

package io.k8ssync.daemon.status;

import static io.k8ssync.daemon.status.StatusFixtures.get;
import static io.k8ssync.daemon.status.StatusFixtures.namespace;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.Daemon;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.Daemons;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The status page and API can be turned off, or answer only on this host; /metrics and the probes stay as they are. */
@ExtendWith(KubeApiServerExtension.class)
class StatusAccessTest {

  private static Daemon daemon(KubeApi api, String host, String status) throws Exception {
    try (KubernetesClient client = api.client()) {
      String ns = namespace(client, "access");
      return Daemons.synced(String.join("\n",
          "daemon: {http: {host: " + host + ", port: 0}, shutdownTimeout: 1s}",
          "clusters: [{name: real, namespaces: [" + ns + "]}]",
          status,
          "sinks: [{name: out-" + ns + ", type: recording}]", ""), api::client);
    }
  }

  /** An IPv4 address of this host that is not loopback, or null. */
  private static String outsideAddress() throws Exception {
    for (NetworkInterface n : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (n.isUp() && !n.isLoopback()) {
        for (InetAddress a : Collections.list(n.getInetAddresses())) {
          if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
            return a.getHostAddress();
          }
        }
      }
    }
    return null;
  }

  @Test
  void localhostOnlyRefusesClientsFromElsewhere(KubeApi api) throws Exception {
    String outside = outsideAddress();
    Assumptions.assumeTrue(outside != null, "this host has no non-loopback IPv4 address to call from");
    Daemon d = daemon(api, "0.0.0.0", "status: {localhostOnly: true}");
    try {
      String there = "http://" + outside + ":" + d.httpPort();
      StatusFixtures.Answer refused = get(there, "/v1/pods");
      assertEquals(403, refused.status(), refused.body());
      assertTrue(refused.json().get("error").asText().contains("status.localhostOnly"), refused.body());
      assertEquals(403, get(there, "/").status());
      assertEquals(200, get(there, "/metrics").status(), "metrics stay open");
      assertEquals(200, get(d, "/v1/pods").status(), "on loopback it answers");
      assertEquals(200, get(d, "/").status());
    } finally {
      d.close();
    }
  }

  @Test
  void turnedOffThereIsNoPageAndNoApi(KubeApi api) throws Exception {
    Daemon d = daemon(api, "127.0.0.1", "status: {enabled: false}");
    try {
      assertEquals(404, get(d, "/").status());
      assertEquals(404, get(d, "/v1/pods").status());
      assertEquals(200, get(d, "/metrics").status());
      assertEquals(200, get(d, "/healthz").status());
    } finally {
      d.close();
    }
  }
}

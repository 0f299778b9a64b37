package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.Test;

/** The kafka sink over TLS to a real broker whose listener is SSL with a private CA. */
class KafkaTlsTest {

  @Test
  void trustsTheBrokerThroughCaFileOnly() throws Exception {
    Path dir = Files.createTempDirectory("kafka-tls");
    Path ks = dir.resolve("broker.p12");
    Path ca = dir.resolve("ca.pem");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    run(keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=localhost",
        "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(),
        "-storepass", "changeit", "-keypass", "changeit");
    run(keytool, "-exportcert", "-rfc", "-alias", "broker", "-keystore", ks.toString(), "-storepass", "changeit", "-file", ca.toString());

    TestKitNodes nodes = new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).build();
    String broker = nodes.brokerListenerName().value();
    String controller = nodes.controllerListenerName().value();
    KafkaClusterTestKit.Builder b = new KafkaClusterTestKit.Builder(nodes)
        .setConfigProp("listener.security.protocol.map", broker + ":SSL," + controller + ":PLAINTEXT")
        .setConfigProp("ssl.keystore.type", "PKCS12")
        .setConfigProp("ssl.keystore.location", ks.toString())
        .setConfigProp("ssl.keystore.password", "changeit")
        .setConfigProp("ssl.key.password", "changeit")
        .setConfigProp("ssl.truststore.type", "PEM")
        .setConfigProp("ssl.truststore.location", ca.toString());
    try (KafkaClusterTestKit kafka = b.build()) {
      kafka.format();
      kafka.startup();
      kafka.waitForReadyBrokers();
      PodState p = withVersion(ready("web-1", "10.0.0.1"), "5");

      Sink trusting = sink(kafka, Map.of("caFile", ca.toString()));
      trusting.apply(List.of(PodChange.of(p.key(), null, p)));
      trusting.close();

      Sink untrusting = sink(kafka, Map.of());
      SinkException e = assertThrows(SinkException.class, () -> untrusting.apply(List.of(PodChange.of(p.key(), null, p))));
      Throwable cause = e;
      while (cause != null && !(cause instanceof javax.net.ssl.SSLException)
          && !(cause instanceof org.apache.kafka.common.errors.SslAuthenticationException)) {
        cause = cause.getCause();
      }
      assertTrue(cause != null, "refused by TLS: " + e);
      untrusting.close();
    }
  }

  private static Sink sink(KafkaClusterTestKit kafka, Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("bootstrapServers", kafka.bootstrapServers(), "topic", "tls",
        "replicationFactor", 1, "partitions", 1, "securityProtocol", "SSL", "deliveryTimeout", "5s", "linger", "0",
        "createTopic", false));
    c.putAll(extra);
    TestSinkContext ctx = new TestSinkContext("events", new KafkaSinkFactory().configDef(), c, Selector.ALL);
    Sink s = new KafkaSinkFactory().create(ctx);
    s.start();
    return s;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + "\n" + out);
  }
}

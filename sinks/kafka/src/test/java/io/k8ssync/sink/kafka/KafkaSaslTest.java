package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.JaasUtils;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.Test;

/** The kafka sink authenticating with SASL/PLAIN to a real broker that requires it. */
class KafkaSaslTest {

  @Test
  void authenticatesWithAPasswordFromAFileAndAWrongOneIsNotRetried() throws Exception {
    try (KafkaClusterTestKit kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true)
        .setNumBrokerNodes(1).setNumControllerNodes(1)
        .setBrokerSecurityProtocol(SecurityProtocol.SASL_PLAINTEXT)
        .setControllerSecurityProtocol(SecurityProtocol.SASL_PLAINTEXT).build()).build()) {
      kafka.format();
      kafka.startup();
      kafka.waitForReadyBrokers();
      PodState p = withVersion(ready("web-1", "10.0.0.1"), "3");

      Sink good = sink(kafka, JaasUtils.KAFKA_PLAIN_ADMIN_PASSWORD);
      good.apply(List.of(PodChange.of(p.key(), null, p)));
      good.close();

      Sink bad = sink(kafka, "not-the-password");
      SinkException e = assertThrows(SinkException.class, () -> bad.apply(List.of(PodChange.of(p.key(), null, p))));
      assertFalse(e.retriable(), "a refused login is not retried: " + e.getMessage());
      assertFalse(e.getMessage().contains("not-the-password"), "the password is not in the message");
      bad.close();
    }
  }

  private static Sink sink(KafkaClusterTestKit kafka, String password) throws Exception {
    Path pw = Files.createTempFile("kafka", ".pw");
    Files.writeString(pw, password);
    TestSinkContext ctx = new TestSinkContext("events", new KafkaSinkFactory().configDef(), Map.of(
        "bootstrapServers", kafka.bootstrapServers(), "topic", "secured", "replicationFactor", 1, "partitions", 1,
        "securityProtocol", "SASL_PLAINTEXT", "saslMechanism", "PLAIN", "saslUsername", JaasUtils.KAFKA_PLAIN_ADMIN,
        "saslPassword", "${file:" + pw + "}", "deliveryTimeout", "5s", "linger", "0"), Selector.ALL);
    assertFalse(ctx.config().toString().contains(password));
    Sink s = new KafkaSinkFactory().create(ctx);
    s.start();
    return s;
  }

}

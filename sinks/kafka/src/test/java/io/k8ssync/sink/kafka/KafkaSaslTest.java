package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.types.Password;
import org.apache.kafka.common.security.JaasContext;
import org.apache.kafka.common.security.auth.SecurityProtocol;
import org.apache.kafka.common.test.JaasUtils;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.Test;

/** The kafka sink authenticating with SASL/PLAIN to a real broker that requires it. */
class KafkaSaslTest {

  private TestSinkContext context;

  @Test
  void authenticatesWithAPasswordFromAFileAndAWrongOneIsRetriedUntilFixed() throws Exception {
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

      PodState q = withVersion(ready("web-2", "10.0.0.2"), "4");
      List<PodChange> queued = List.of(PodChange.of(q.key(), null, q));
      Sink bad = sink(kafka, "not-the-password");
      SinkException e = assertThrows(SinkException.class, () -> bad.apply(queued));
      assertTrue(e.retriable(), "a refused login keeps the events for a retry: " + e.getMessage());
      assertFalse(e.getMessage().contains("not-the-password"), "the password is not in the message");
      assertEquals(1.0, context.metric("kafka_errors_total", "authentication"));
      bad.close();

      // The operator fixes the password: the events the queue kept go through (apply returns once acks=all).
      Sink fixed = sink(kafka, JaasUtils.KAFKA_PLAIN_ADMIN_PASSWORD);
      fixed.apply(queued);
      assertEquals(1.0, context.metric("kafka_events_total", "io.k8ssync.pod.added"));
      fixed.close();
    }
  }

  @Test
  void aPasswordWithQuotesAndBackslashesStaysOnePasswordAndAddsNoOption() throws Exception {
    String password = "p\"w\\d\" evil=\"x";
    TestSinkContext ctx = context(password, "localhost:9092");
    Properties props = KafkaSink.properties(ctx.config());
    JaasContext jaas = JaasContext.loadClientContext(
        Map.of(SaslConfigs.SASL_JAAS_CONFIG, new Password(props.getProperty(SaslConfigs.SASL_JAAS_CONFIG))));
    Map<String, ?> options = jaas.configurationEntries().get(0).getOptions();
    assertEquals(password, options.get("password"));
    assertEquals(Set.of("username", "password"), options.keySet());
  }

  private Sink sink(KafkaClusterTestKit kafka, String password) throws Exception {
    context = context(password, kafka.bootstrapServers());
    assertFalse(context.config().toString().contains(password));
    Sink s = new KafkaSinkFactory().create(context);
    s.start();
    return s;
  }

  private static TestSinkContext context(String password, String bootstrapServers) throws Exception {
    Path pw = Files.createTempFile("kafka", ".pw");
    Files.writeString(pw, password);
    return new TestSinkContext("events", new KafkaSinkFactory().configDef(), Map.of(
        "bootstrapServers", bootstrapServers, "topic", "secured", "replicationFactor", 1, "partitions", 1,
        "securityProtocol", "SASL_PLAINTEXT", "saslMechanism", "PLAIN", "saslUsername", JaasUtils.KAFKA_PLAIN_ADMIN,
        "saslPassword", "${file:" + pw + "}", "deliveryTimeout", "5s", "linger", "0"), Selector.ALL);
  }

}

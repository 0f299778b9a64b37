package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.TestSinkContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The producer's record batches are a quarter of the topic's {@code max.message.bytes}, within 16 KB
 * (the producer's default) and 256 KB, against a real KRaft broker. Larger batches cost less per event
 * (each new lz4 batch allocates two 64 KB buffers); a quarter of the limit keeps a batch of several
 * records well under it, so an event too large for the topic is still refused alone.
 */
class KafkaBatchSizeTest {

  private static KafkaClusterTestKit kafka;

  @BeforeAll
  static void startBroker() throws Exception {
    kafka = TestBroker.start();
  }

  @AfterAll
  static void stopBroker() throws Exception {
    kafka.close();
  }

  @Test
  void aTopicWithTheBrokersDefaultLimitGetsBatchesOf256KB() throws Exception {
    createTopic("pods-default", Map.of());
    double largest = largestBatch("pods-default");
    assertTrue(largest > 64 * 1024 && largest <= 256 * 1024 + 2048, "batch-size-max " + largest);
  }

  @Test
  void aTopicWithASmallerLimitGetsAQuarterOfIt() throws Exception {
    createTopic("pods-100k", Map.of("max.message.bytes", "100000"));
    double largest = largestBatch("pods-100k");
    assertTrue(largest > 16 * 1024 && largest <= 25_000 + 2048, "batch-size-max " + largest);
  }

  @Test
  void aTopicWithALimitUnder64KBKeepsTheProducersDefault() throws Exception {
    createTopic("pods-20k", Map.of("max.message.bytes", "20000"));
    double largest = largestBatch("pods-20k");
    assertTrue(largest <= 16 * 1024 + 2048, "batch-size-max " + largest);
  }

  @Test
  void theRuleItself() {
    assertEquals(16_384, KafkaSink.batchSize(1_000));
    assertEquals(16_384, KafkaSink.batchSize(65_536));
    assertEquals(25_000, KafkaSink.batchSize(100_000));
    assertEquals(262_144, KafkaSink.batchSize(1_048_588));
    assertEquals(262_144, KafkaSink.batchSize(Integer.MAX_VALUE));
  }

  private static void createTopic(String name, Map<String, String> configs) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic(name, 1, (short) 1).configs(configs))).all().get(30, TimeUnit.SECONDS);
    }
  }

  /** Sends 1,000 events (~0.7 MB, uncompressed) to the one partition of {@code topic}; the producer's largest batch. */
  private static double largestBatch(String topic) throws Exception {
    TestSinkContext ctx = new TestSinkContext("events", new KafkaSinkFactory().configDef(), Map.of("bootstrapServers",
        kafka.bootstrapServers(), "topic", topic, "createTopic", false, "compression", "none"), Selector.ALL);
    KafkaSink s = (KafkaSink) new KafkaSinkFactory().create(ctx);
    s.start();
    s.batchesSized().get(30, TimeUnit.SECONDS);
    List<PodChange> batch = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      PodState p = ready("web-" + i, "10.0." + (i / 250) + "." + (i % 250));
      batch.add(PodChange.of(p.key(), null, p));
    }
    s.apply(batch);
    assertEquals(1000.0, ctx.metric("kafka_events_total", "io.k8ssync.pod.added"));
    double largest = s.producerMetric("batch-size-max");
    s.close();
    return largest;
  }
}

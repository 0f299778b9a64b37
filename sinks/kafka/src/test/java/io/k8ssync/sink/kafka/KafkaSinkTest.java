package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withVersion;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.TestSinkContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The kafka sink against a real KRaft broker running in the test JVM. */
class KafkaSinkTest {

  private static KafkaClusterTestKit kafka;
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void startBroker() throws Exception {
    kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder().setCombined(true).setNumBrokerNodes(1)
        .setNumControllerNodes(1).build()).build();
    kafka.format();
    kafka.startup();
    kafka.waitForReadyBrokers();
  }

  @AfterAll
  static void stopBroker() throws Exception {
    kafka.close();
  }

  private static Sink sink(TestSinkContext[] ctx, String topic) throws Exception {
    return sink(ctx, topic, Map.of());
  }

  private static Sink sink(TestSinkContext[] ctx, String topic, Map<String, Object> extra) throws Exception {
    Map<String, Object> c = new HashMap<>(Map.of("bootstrapServers", kafka.bootstrapServers(), "topic", topic, "partitions", 3,
        "replicationFactor", 1));
    c.putAll(extra);
    ctx[0] = new TestSinkContext("events", new KafkaSinkFactory().configDef(), c, Selector.ALL);
    Sink s = new KafkaSinkFactory().create(ctx[0]);
    s.start();
    return s;
  }

  private static List<ConsumerRecord<String, String>> consume(String topic, int expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<ConsumerRecord<String, String>> out = new ArrayList<>();
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      // No consumer group (one broker cannot host a replicated offsets topic): read every partition from the start.
      List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor(topic).stream()
          .map(i -> new org.apache.kafka.common.TopicPartition(topic, i.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      await().atMost(Duration.ofSeconds(60)).until(() -> {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
        return out.size() >= expected;
      });
    }
    return out;
  }

  @Test
  void oneCloudEventPerTransitionKeyedByUidInOrderPerPod() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-a");
    PodState a0 = withVersion(withReady(ready("web-1", "10.0.0.1"), false), "1");
    PodState a1 = withVersion(ready("web-1", "10.0.0.1"), "2");
    PodState a2 = withVersion(withTerminating(a1), "3");
    PodState b0 = withVersion(ready("web-2", "10.0.0.2"), "4");
    // Interleaved, as the queue would hand them over, several changes of one pod in one batch.
    s.apply(List.of(PodChange.of(a0.key(), null, a0), PodChange.of(b0.key(), null, b0), PodChange.of(a0.key(), a0, a1),
        PodChange.of(a1.key(), a1, a2), PodChange.of(b0.key(), b0, null), PodChange.of(a2.key(), a2, null)));
    List<ConsumerRecord<String, String>> records = consume("pods-a", 6);
    assertEquals(6, records.size());
    List<String> aTypes = new ArrayList<>();
    List<String> bTypes = new ArrayList<>();
    for (ConsumerRecord<String, String> r : records) {
      JsonNode e = JSON.readTree(r.value());
      assertEquals("1.0", e.get("specversion").asText());
      assertEquals("/k8s-sync/c1", e.get("source").asText());
      assertTrue(e.get("id").asText().startsWith(r.key() + ":"), "id derived from uid");
      (r.key().equals("uid-web-1") ? aTypes : bTypes).add(e.get("type").asText());
    }
    assertEquals(List.of("io.k8ssync.pod.added", "io.k8ssync.pod.ready", "io.k8ssync.pod.terminating", "io.k8ssync.pod.deleted"),
        aTypes, "every transition of a pod, in order, in one partition");
    assertEquals(List.of("io.k8ssync.pod.added", "io.k8ssync.pod.deleted"), bTypes);
    JsonNode ready = records.stream().map(r -> {
      try {
        return JSON.readTree(r.value());
      } catch (Exception ex) {
        throw new IllegalStateException(ex);
      }
    }).filter(e -> e.get("type").asText().endsWith(".ready")).findFirst().orElseThrow();
    assertEquals("uid-web-1:2:ready", ready.get("id").asText());
    assertEquals(false, ready.get("data").get("before").get("ready").asBoolean());
    assertEquals(true, ready.get("data").get("after").get("ready").asBoolean());
    assertEquals(6.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.added") + ctx[0].metric("kafka_events_total", "io.k8ssync.pod.ready")
        + ctx[0].metric("kafka_events_total", "io.k8ssync.pod.terminating") + ctx[0].metric("kafka_events_total", "io.k8ssync.pod.deleted"));
    s.close();
  }

  @Test
  void nothingIsLostAcrossABrokerRestart() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-c", Map.of("deliveryTimeout", "3s", "linger", "0"));
    PodState p1 = withVersion(ready("web-1", "10.0.0.1"), "21");
    s.apply(List.of(PodChange.of(p1.key(), null, p1)));
    var broker = kafka.brokers().values().iterator().next();
    broker.shutdown();
    broker.awaitShutdown();
    PodState p2 = withVersion(withReady(p1, false), "22");
    List<PodChange> during = List.of(PodChange.of(p1.key(), p1, p2));
    io.k8ssync.sink.SinkException e = org.junit.jupiter.api.Assertions.assertThrows(io.k8ssync.sink.SinkException.class,
        () -> s.apply(during));
    assertTrue(e.retriable(), "an outage is retried, not dropped: " + e.getMessage());
    broker.startup();
    kafka.waitForReadyBrokers();
    await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
      s.apply(during); // the queue's retry
      return true;
    });
    List<String> ids = new ArrayList<>();
    for (ConsumerRecord<String, String> r : consume("pods-c", 2)) {
      String id = JSON.readTree(r.value()).get("id").asText();
      if (!ids.contains(id)) {
        ids.add(id);
      }
    }
    assertEquals(List.of("uid-web-1:21:added", "uid-web-1:22:unready"), ids, "nothing lost, order kept (duplicates share ids)");
    s.close();
  }

  @Test
  void resendingABatchGivesTheSameIds() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-b");
    PodState p = withVersion(ready("web-1", "10.0.0.1"), "9");
    List<PodChange> batch = List.of(PodChange.of(p.key(), null, p));
    s.apply(batch);
    s.apply(batch); // a retry after a lost acknowledgement
    List<ConsumerRecord<String, String>> records = consume("pods-b", 2);
    assertEquals(JSON.readTree(records.get(0).value()).get("id"), JSON.readTree(records.get(1).value()).get("id"));
    s.close();
  }
}

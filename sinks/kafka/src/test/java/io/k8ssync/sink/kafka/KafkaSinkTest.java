package io.k8ssync.sink.kafka;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withIp;
import static io.k8ssync.sink.PodStates.withLabels;
import static io.k8ssync.sink.PodStates.withReady;
import static io.k8ssync.sink.PodStates.withTerminating;
import static io.k8ssync.sink.PodStates.withUid;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The kafka sink against a real KRaft broker running in the test JVM. */
class KafkaSinkTest {

  private static KafkaClusterTestKit kafka;
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void startBroker() throws Exception {
    kafka = TestBroker.start();
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

  /**
   * A new leader's first send must not wait for the topic's metadata: the producer fetches it when the
   * pod list is complete (a standby's too). Observable: the producer's {@code metadata-wait-time-ns-total}
   * grows only when a caller waited for metadata; the first send after podsSynced adds nothing to it.
   */
  @Test
  void topicMetadataIsFetchedWhenThePodListIsCompleteNotByTheFirstSend() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    KafkaSink s = (KafkaSink) sink(ctx, "pods-warm");
    s.podsSynced();
    await().atMost(Duration.ofSeconds(30)).until(() -> s.producerMetric("metadata-wait-time-ns-total") > 0);
    double waited = s.producerMetric("metadata-wait-time-ns-total");
    PodState a = ready("web-1", "10.0.0.1");
    s.apply(List.of(PodChange.of(a.key(), null, a)));
    assertEquals(waited, s.producerMetric("metadata-wait-time-ns-total"), "the first send found the topic's metadata");
    assertEquals(1, consume("pods-warm", 1).size());
    s.close();
  }

  /**
   * A new leader's first send must not be the first run of the write path (issue 19: at a takeover the
   * event writer and the lz4 codec, its native library included, were loaded on the first send, ~1 s at
   * load). A standby renders and compresses events of its cached pods when the pod list is complete,
   * and writes nothing: the producer sent no record and the topic stays empty.
   */
  @Test
  void aStandbyRunsTheWritePathOnceWithoutWriting() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    KafkaSink s = (KafkaSink) sink(ctx, "pods-standby-warm");
    ctx[0].pods.add(ready("web-1", "10.0.0.1"));
    ctx[0].led.clear(); // a standby
    s.podsSynced();
    int rendered = s.writePathRun().get(30, TimeUnit.SECONDS);
    assertTrue(rendered > 0, "events rendered and compressed without a send: " + rendered);
    assertEquals(0.0, s.producerMetric("record-send-total"), "no record sent");
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      List<org.apache.kafka.common.TopicPartition> parts = admin.describeTopics(List.of("pods-standby-warm")).allTopicNames().get()
          .get("pods-standby-warm").partitions().stream().map(i -> new org.apache.kafka.common.TopicPartition("pods-standby-warm",
              i.partition())).toList();
      Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new HashMap<>();
      parts.forEach(tp -> latest.put(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()));
      admin.listOffsets(latest).all().get().values().forEach(o -> assertEquals(0, o.offset(), "nothing on the topic"));
    }
    s.close();
  }

  /** A replica that leads at its initial list sends from the start: no warm-up takes its sends' CPU. */
  @Test
  void aLeaderRunsNoWarmUpAtItsInitialList() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    KafkaSink s = (KafkaSink) sink(ctx, "pods-leader-no-warm");
    ctx[0].pods.add(ready("web-1", "10.0.0.1"));
    s.podsSynced();
    assertEquals(0, s.writePathRun().get(30, TimeUnit.SECONDS), "nothing rendered ahead");
    s.close();
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

  private static JsonNode event(ConsumerRecord<String, String> r) {
    try {
      return JSON.readTree(r.value());
    } catch (Exception e) {
      throw new IllegalStateException("not JSON: " + r.value(), e);
    }
  }


  @Test
  void addressChangedAndUpdatedEventsHaveTheirTypeAndDeterministicId() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-d", Map.of("includeUpdated", true));
    PodState p1 = withVersion(ready("web-1", "10.0.0.1"), "31");
    PodState moved = withVersion(withIp(p1, "10.0.0.7"), "32");
    PodState relabeled = withVersion(withLabels(moved, Map.of("version", "v2")), "33");
    PodState reborn = withVersion(withUid(relabeled, "uid-web-1b"), "34");
    List<PodChange> changes = List.of(PodChange.of(p1.key(), null, p1), PodChange.of(p1.key(), p1, moved),
        PodChange.of(p1.key(), moved, relabeled), PodChange.of(p1.key(), relabeled, reborn));
    assertEquals(List.of(io.k8ssync.sink.Transition.ADDED, io.k8ssync.sink.Transition.ADDRESS_CHANGED,
        io.k8ssync.sink.Transition.UPDATED, io.k8ssync.sink.Transition.ADDRESS_CHANGED),
        changes.stream().map(PodChange::transition).toList(), "the test's premise");
    for (PodChange c : changes) {
      s.apply(List.of(c));
    }
    Map<String, JsonNode> byId = new HashMap<>();
    Map<String, String> keyById = new HashMap<>();
    for (ConsumerRecord<String, String> r : consume("pods-d", 4)) {
      JsonNode e = event(r);
      byId.put(e.get("id").asText(), e);
      keyById.put(e.get("id").asText(), r.key());
    }
    assertEquals(java.util.Set.of("uid-web-1:31:added", "uid-web-1:32:address-changed", "uid-web-1:33:updated",
        "uid-web-1b:34:address-changed"), byId.keySet());

    JsonNode moveEvent = byId.get("uid-web-1:32:address-changed");
    assertEquals("io.k8ssync.pod.address-changed", moveEvent.get("type").asText());
    assertEquals("10.0.0.1", moveEvent.get("data").get("before").get("ip").asText());
    assertEquals("10.0.0.7", moveEvent.get("data").get("after").get("ip").asText());
    assertEquals("ns/web-1", moveEvent.get("subject").asText());

    JsonNode updated = byId.get("uid-web-1:33:updated");
    assertEquals("io.k8ssync.pod.updated", updated.get("type").asText());
    assertTrue(updated.get("data").get("before").get("labels").isEmpty());
    assertEquals("v2", updated.get("data").get("after").get("labels").get("version").asText());

    JsonNode rebornEvent = byId.get("uid-web-1b:34:address-changed");
    assertEquals("io.k8ssync.pod.address-changed", rebornEvent.get("type").asText(), "a new incarnation under the name");
    assertEquals("uid-web-1", rebornEvent.get("data").get("before").get("uid").asText());
    assertEquals("uid-web-1b", keyById.get("uid-web-1b:34:address-changed"), "keyed by the newest uid");

    assertEquals(2.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.address-changed"));
    assertEquals(1.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.updated"));
    // The dry-run plan names the same ids.
    assertEquals("send io.k8ssync.pod.updated key=uid-web-1 id=uid-web-1:33:updated to pods-d",
        s.plan(List.of(changes.get(2))).get(0));
    s.close();
  }

  @Test
  void updatedEventsAreNotSentUnlessConfigured() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-e");
    PodState p1 = withVersion(ready("web-1", "10.0.0.1"), "51");
    PodState relabeled = withVersion(withLabels(p1, Map.of("version", "v2")), "52");
    // One pod, one partition: an updated event would sit between the two.
    s.apply(List.of(PodChange.of(p1.key(), null, p1), PodChange.of(p1.key(), p1, relabeled),
        PodChange.of(p1.key(), relabeled, null)));
    List<String> ids = consume("pods-e", 2).stream().map(r -> event(r).get("id").asText()).toList();
    assertEquals(List.of("uid-web-1:51:added", "uid-web-1:52:deleted"), ids.subList(0, 2));
    assertEquals(0.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.updated"));
    assertTrue(s.plan(List.of(PodChange.of(p1.key(), p1, relabeled))).isEmpty());
    s.close();
  }

  @Test
  void eventsOfOnePodInOneBatchLandInOrderInOnePartition() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-f");
    PodState added = withVersion(withReady(ready("web-1", "10.0.0.1"), false), "61");
    PodState up = withVersion(withReady(added, true), "62");
    PodState down = withVersion(withReady(up, false), "63");
    PodState upAgain = withVersion(withReady(down, true), "64");
    PodState moved = withVersion(withIp(upAgain, "10.0.0.8"), "65");
    PodState stopping = withVersion(withTerminating(moved), "66");
    s.apply(List.of(PodChange.of(added.key(), null, added), PodChange.of(added.key(), added, up),
        PodChange.of(added.key(), up, down), PodChange.of(added.key(), down, upAgain),
        PodChange.of(added.key(), upAgain, moved), PodChange.of(added.key(), moved, stopping),
        PodChange.of(added.key(), stopping, null)));
    List<ConsumerRecord<String, String>> records = consume("pods-f", 7);
    assertEquals(7, records.size());
    assertEquals(1, records.stream().map(ConsumerRecord::partition).distinct().count(), "one partition");
    for (int i = 1; i < records.size(); i++) {
      assertTrue(records.get(i).offset() > records.get(i - 1).offset(), "read in offset order");
    }
    assertEquals(List.of("uid-web-1:61:added", "uid-web-1:62:ready", "uid-web-1:63:unready", "uid-web-1:64:ready",
        "uid-web-1:65:address-changed", "uid-web-1:66:terminating", "uid-web-1:66:deleted"),
        records.stream().map(r -> event(r).get("id").asText()).toList(), "the batch's order");
    assertTrue(records.stream().allMatch(r -> r.key().equals("uid-web-1")));
    s.close();
  }

  @Test
  void aRecordTooLargeIsDroppedAloneAndTheRestOfItsBatchIsDelivered() throws Exception {
    // The broker refuses a batch over 20 KB on this topic: above the producer's batch.size (16 KB), as in production,
    // so only a record that is alone in its batch can be refused. One partition: every record shares it with the big one.
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
      admin.createTopics(List.of(new NewTopic("pods-big", 1, (short) 1).configs(Map.of("max.message.bytes", "20000"))))
          .all().get(30, TimeUnit.SECONDS);
    }
    TestSinkContext[] ctx = new TestSinkContext[1];
    Sink s = sink(ctx, "pods-big", Map.of("compression", "none", "linger", "20ms"));
    List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger sinkLog = java.util.logging.Logger.getLogger("io.k8ssync.sink.events"); // System.Logger → JUL here
    java.util.logging.Handler capture = new java.util.logging.Handler() {
      @Override public void publish(java.util.logging.LogRecord r) {
        logged.add(new java.util.logging.SimpleFormatter().formatMessage(r));
      }
      @Override public void flush() { }
      @Override public void close() { }
    };
    sinkLog.addHandler(capture);
    PodState a0 = withVersion(withReady(ready("web-1", "10.0.0.1"), false), "81");
    PodState a1 = withVersion(withReady(a0, true), "82");
    // Refused by the broker (over the topic's 20 KB) and by the producer itself (over max.request.size, 1 MB).
    PodState big = withVersion(withLabels(ready("web-2", "10.0.0.2"), Map.of("blob", "x".repeat(30_000))), "83");
    PodState huge = withVersion(withLabels(ready("web-3", "10.0.0.3"), Map.of("blob", "y".repeat(1_100_000))), "84");
    PodState c0 = withVersion(ready("web-4", "10.0.0.4"), "85");
    s.apply(List.of(PodChange.of(a0.key(), null, a0), PodChange.of(big.key(), null, big), PodChange.of(huge.key(), null, huge),
        PodChange.of(c0.key(), null, c0), PodChange.of(a0.key(), a0, a1)));

    List<String> ids = consume("pods-big", 3).stream().map(r -> event(r).get("id").asText()).toList();
    assertEquals(List.of("uid-web-1:81:added", "uid-web-4:85:added", "uid-web-1:82:ready"), ids,
        "the others of the batch, a pod's later change included, in order");
    assertEquals(2.0, ctx[0].metric("kafka_events_dropped_total", "too_large"), "each refused record counted once");
    assertEquals(2.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.added"));
    assertEquals(1.0, ctx[0].metric("kafka_events_total", "io.k8ssync.pod.ready"));
    List<String> drops = logged.stream().filter(l -> l.contains("event dropped")).toList();
    sinkLog.removeHandler(capture);
    assertEquals(2, drops.size(), "one line per drop: " + drops);
    assertTrue(drops.stream().anyMatch(l -> l.contains("pod=c1/ns/web-2")) && drops.stream().anyMatch(l -> l.contains("pod=c1/ns/web-3")),
        "each names its pod: " + drops);
    assertTrue(drops.stream().noneMatch(l -> l.contains("xxxxxxxx") || l.contains("yyyyyyyy") || l.contains("\"data\"")),
        "never the event itself: " + drops);
    s.close();
  }

  @Test
  void aWorkerKeepsSendingWhileAnotherReplacesTheSharedProducer() throws Exception {
    TestSinkContext[] ctx = new TestSinkContext[1];
    KafkaSink s = (KafkaSink) sink(ctx, "pods-g");
    CountDownLatch reading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    PodState x = withVersion(ready("web-1", "10.0.0.1"), "71");
    PodState y = withVersion(withLabels(ready("web-2", "10.0.0.2"), labelsThatHoldTheReader(reading, release)), "72");
    CompletableFuture<Void> worker = CompletableFuture.runAsync(() -> {
      try {
        s.apply(List.of(PodChange.of(x.key(), null, x), PodChange.of(y.key(), null, y)));
      } catch (io.k8ssync.sink.SinkException e) {
        throw new CompletionException(e);
      }
    });
    assertTrue(reading.await(30, TimeUnit.SECONDS), "the worker is in the middle of its batch");
    s.replaceProducer(); // what another worker does after the broker refused its login
    release.countDown();
    worker.get(60, TimeUnit.SECONDS); // neither a retry nor an exception: nothing was wrong with this worker's batch

    PodState z = withVersion(ready("web-3", "10.0.0.3"), "73");
    s.apply(List.of(PodChange.of(z.key(), null, z))); // the next batch takes the new producer
    assertEquals(java.util.Set.of("uid-web-1:71:added", "uid-web-2:72:added", "uid-web-3:73:added"),
        java.util.Set.copyOf(consume("pods-g", 3).stream().map(r -> event(r).get("id").asText()).toList()));
    s.close();
  }

  /** Labels whose first read holds the reading thread until {@code release}: a worker stopped in the middle of its batch. */
  private static Map<String, String> labelsThatHoldTheReader(CountDownLatch reading, CountDownLatch release) {
    AtomicBoolean held = new AtomicBoolean();
    return new java.util.AbstractMap<>() {
      @Override
      public java.util.Set<Entry<String, String>> entrySet() {
        if (held.compareAndSet(false, true)) {
          reading.countDown();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return Map.of("app", "web").entrySet();
      }
    };
  }
}

package io.k8ssync.sink.kafka;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.SinkMetrics;
import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.Secret;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * One CloudEvent per pod transition on a topic, keyed by pod uid so every event of a pod lands in
 * one partition, in order. The sink's queue keeps every change (no coalescing); a pod's changes leave
 * the queue only when the broker acknowledged them (idempotent producer, acks=all), so a broker
 * outage backs up this sink's queue only and loses nothing. An event the broker can never take (too
 * large) is dropped alone, counted and logged; the rest of its batch is delivered.
 */
final class KafkaSink implements Sink {

  private final SinkContext context;
  private final String topic;
  private final boolean includeUpdated;
  private final Properties props;
  private final Config config;
  private final System.Logger log;
  private final SinkMetrics.Counter events;
  private final SinkMetrics.Counter errors;
  private final SinkMetrics.Counter dropped;
  private final SharedProducer producers;
  private final CompletableFuture<Void> batchesSized = new CompletableFuture<>();
  /** How many events the standby's run of the write path rendered; completes once it ran (see {@link #podsSynced}). */
  private final CompletableFuture<Integer> writePathRun = new CompletableFuture<>();

  KafkaSink(SinkContext context) {
    this.context = context;
    this.config = context.config();
    this.topic = config.getString("topic");
    this.includeUpdated = config.getBoolean("includeUpdated");
    this.log = context.logger();
    this.props = properties(config);
    this.events = context.metrics().counter("kafka_events_total", "Events acknowledged by the broker, by type", "type");
    this.errors = context.metrics().counter("kafka_errors_total",
        "Failures the broker's answer explains, by kind (topic_create, authentication, authorization, metadata: the topic's "
            + "metadata not fetched ahead of the first send)", "kind");
    this.dropped = context.metrics().counter("kafka_events_dropped_total",
        "Events dropped because no retry can deliver them, by reason (too_large: over max.request.size or the topic's max.message.bytes)",
        "reason");
    this.producers = new SharedProducer(() -> new KafkaProducer<>(props));
  }

  static Properties properties(Config c) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, c.getString("bootstrapServers"));
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, c.getString("compression"));
    p.put(ProducerConfig.LINGER_MS_CONFIG, Long.toString(c.getDuration("linger").toMillis()));
    long delivery = c.getDuration("deliveryTimeout").toMillis();
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(delivery));
    long linger = c.getDuration("linger").toMillis();
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.max(1, Math.min(delivery - linger, 30_000))));
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(Math.min(delivery, 10_000)));
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    // The event is rendered as UTF-8 bytes (PodEvents.Writer): the value is sent as it is.
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put("security.protocol", c.getString("securityProtocol"));
    if (c.getString("caFile") != null) {
      p.put("ssl.truststore.type", "PEM");
      p.put("ssl.truststore.location", c.getString("caFile"));
    }
    if (c.getString("securityProtocol").startsWith("SASL")) {
      Secret password = c.getSecret("saslPassword");
      String module = c.getString("saslMechanism").equals("PLAIN")
          ? "org.apache.kafka.common.security.plain.PlainLoginModule"
          : "org.apache.kafka.common.security.scram.ScramLoginModule";
      p.put("sasl.mechanism", c.getString("saslMechanism"));
      p.put("sasl.jaas.config", module + " required username=" + jaasQuoted(c.getString("saslUsername"))
          + " password=" + jaasQuoted(password == null ? "" : password.reveal()) + ";");
    }
    return p;
  }

  /**
   * The producer's {@code batch.size} for a topic that takes record batches up to {@code maxMessageBytes}:
   * a quarter of it, within the producer's default (16 KB) and 256 KB. Larger batches cost less per event
   * (each new lz4 batch allocates two 64 KB buffers: ~6% of the CPU at 16 KB, JFR); staying well under the
   * limit keeps a too-large event refused alone: a batch of several records that the broker refused would
   * be split by the producer into batches of this size again, and retried until the delivery timeout.
   */
  static int batchSize(long maxMessageBytes) {
    return (int) Math.max(DEFAULT_BATCH_BYTES, Math.min(MAX_BATCH_BYTES, maxMessageBytes / 4));
  }

  private static final int DEFAULT_BATCH_BYTES = 16_384;
  private static final int MAX_BATCH_BYTES = 262_144;

  /** A JAAS quoted string: a double quote or backslash in a password must neither end it nor add options. */
  static String jaasQuoted(String value) {
    String v = value == null ? "" : value;
    return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  @Override
  public boolean coalesce() {
    return false;
  }

  @Override
  public int maxBatchSize() {
    return 1000;
  }

  @Override
  public void start() throws SinkException {
    try {
      producers.acquire().close(); // builds the producer (no connection yet), so a bad setting fails the start
    } catch (org.apache.kafka.common.KafkaException e) {
      batchesSized.complete(null); // nothing to size; a metadata fetch must not wait for it
      throw SinkException.fatal("kafka producer settings rejected: " + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()), e);
    }
    if (config.getBoolean("createTopic") && !context.dryRun()) {
      try (Admin admin = Admin.create(props)) {
        int rf = config.getInt("replicationFactor");
        admin.createTopics(List.of(new NewTopic(topic, Optional.of(config.getInt("partitions")),
            rf < 0 ? Optional.empty() : Optional.of((short) rf)))).all().get(30, TimeUnit.SECONDS);
        log.log(Level.INFO, "created topic {0}", topic);
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof TopicExistsException)) {
          errors.inc("topic_create");
          log.log(Level.WARNING, "could not create topic " + topic + ": " + e.getCause());
        }
      } catch (Exception e) {
        errors.inc("topic_create");
        log.log(Level.WARNING, "could not create topic " + topic + ": " + e);
      }
    }
    if (context.dryRun()) {
      batchesSized.complete(null);
      return;
    }
    // On a thread of its own: with the broker unreachable, the read waits up to 10 s, and start must not.
    Thread t = new Thread(() -> {
      try {
        sizeBatchesForTopic();
      } finally {
        batchesSized.complete(null);
      }
    }, "kafka-batch-size-" + context.name());
    t.setDaemon(true);
    t.start();
  }

  /** Completes once a standby ran the write path without writing, with the number of events rendered; for tests. */
  CompletableFuture<Integer> writePathRun() {
    return writePathRun;
  }

  /** Completes once the producer's batch size was chosen for the topic (or left at the default); for tests. */
  CompletableFuture<Void> batchesSized() {
    return batchesSized;
  }

  /**
   * Reads the topic's {@code max.message.bytes} and sizes the producer's batches by it ({@link #batchSize}).
   * Unknown (no topic yet, no DescribeConfigs right, no broker): the producer's default, 16 KB, as before.
   * The current producer (start() built one for its checks) is replaced, so later leases get the new size;
   * a worker still sending on it finishes its batch there, as when a refused login replaces it.
   */
  private void sizeBatchesForTopic() {
    ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    try (Admin admin = Admin.create(props)) {
      ConfigEntry limit = admin.describeConfigs(List.of(resource)).all().get(10, TimeUnit.SECONDS).get(resource)
          .get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
      int size = batchSize(Long.parseLong(limit.value()));
      props.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(size));
      producers.retireCurrent();
      log.log(Level.INFO, "producer batches of {0} bytes: sink={1} topic={2} max.message.bytes={3}", size, context.name(), topic,
          limit.value());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.log(Level.INFO, "topic limit not read, producer batches stay at the producer default: sink={0} topic={1} error={2}",
          context.name(), topic, e.toString());
    }
  }

  /**
   * The pod list is complete (on a standby too, long before it leads): the producer fetches the
   * topic's metadata now, on a thread of its own (it may block up to {@code max.block.ms}), so a new
   * leader's first send does not wait for it. A failure is counted and logged only: the first send
   * then fetches it, as without this. Then the sink's own part of a send runs, writing nothing
   * ({@link #runWritePathWithoutWriting}).
   */
  @Override
  public void podsSynced() {
    if (context.dryRun()) {
      return;
    }
    Thread t = new Thread(() -> {
      fetchMetadata();
      runWritePathWithoutWriting();
    }, "kafka-metadata-" + context.name());
    t.setDaemon(true);
    t.start();
  }

  private void fetchMetadata() {
    batchesSized.join(); // warm the producer the sizing may replace only once it did
    long t0 = System.nanoTime();
    try (SharedProducer.Lease lease = producers.acquire()) {
      int partitions = lease.producer().partitionsFor(topic).size();
      log.log(Level.DEBUG, "topic metadata fetched ahead of the first send in {0}ms: sink={1} topic={2} partitions={3}",
          (System.nanoTime() - t0) / 1_000_000, context.name(), topic, partitions);
    } catch (IllegalStateException e) {
      log.log(Level.DEBUG, "topic metadata not fetched, the sink is closing: sink={0}", context.name());
    } catch (RuntimeException e) {
      errors.inc("metadata");
      log.log(Level.INFO, "topic metadata not fetched ahead of the first send (the first send will): sink={0} topic={1} error={2}",
          context.name(), topic, e.toString());
    }
  }

  /** How many times a standby renders each kind of event: enough for the JIT's first tier (C1) to compile the writer. */
  private static final int WARM_UP_ROUNDS = 400;

  /**
   * Runs this sink's part of a send, writing nothing, so a new leader's first send is not its first
   * run (issue 19: at a takeover the event writer and the compression codec, its native library included,
   * were loaded by the first send, ~0.5-1 s on 2 loaded CPUs). Renders the events of a cached pod, every
   * type, and compresses them with the producer's codec into a buffer that is thrown away; then runs the
   * producer's own part of a send on objects of our own ({@link ProducerPathWarmUp}). Nothing goes to
   * the producer or the broker. No cached pod: nothing to render, the first send does it.
   */
  private void runWritePathWithoutWriting() {
    if (!context.clusters().isEmpty()) {
      // It leads already: its own sends run the path from the start, and a warm-up would take their CPU.
      log.log(Level.DEBUG, "write path not run ahead: this replica leads already: sink={0}", context.name());
      writePathRun.complete(0);
      return;
    }
    long t0 = System.nanoTime();
    int rendered = 0;
    int batched = 0;
    try {
      java.util.Iterator<io.k8ssync.sink.PodState> pods = context.pods().pods().iterator();
      if (pods.hasNext()) {
        io.k8ssync.sink.PodState pod = pods.next();
        PodEvents.Writer writer = new PodEvents.Writer(Instant.now(context.clock()));
        org.apache.kafka.common.compress.Compression codec =
            org.apache.kafka.common.compress.Compression.of(config.getString("compression")).build();
        new Acknowledged(); // its class loaded; never added to, so the events metric counts nothing
        byte[] last = null;
        String lastKey = null;
        for (int round = 0; round < WARM_UP_ROUNDS; round++) {
          org.apache.kafka.common.utils.ByteBufferOutputStream buffer = new org.apache.kafka.common.utils.ByteBufferOutputStream(4096);
          // Magic 2, the record format every broker since 0.11 takes and the producer writes. A stream
          // every 50 rounds only: each allocates the codec's buffers (two of 64 KB for lz4).
          try (java.io.OutputStream compressed = round % 50 == 0 ? codec.wrapForOutput(buffer, (byte) 2) : buffer) {
            for (io.k8ssync.sink.Transition t : io.k8ssync.sink.Transition.values()) {
              String type = PodEvents.type(t, true);
              PodChange change = new PodChange(pod.key(), t == io.k8ssync.sink.Transition.ADDED ? null : pod,
                  t == io.k8ssync.sink.Transition.DELETED ? null : pod, t);
              byte[] event = writer.bytes(change, type);
              new Sent(change, type, event.length, CompletableFuture.completedFuture(null)).bytes(); // its class loaded
              compressed.write(event);
              rendered++;
              last = event;
              lastKey = writer.uid();
            }
          }
        }
        batched = runProducerPath(lastKey, last, codec);
      }
      log.log(Level.INFO, "write path run without writing in {0}ms: sink={1} events={2} producer batches={3}",
          (System.nanoTime() - t0) / 1_000_000, context.name(), rendered, batched);
    } catch (Exception | LinkageError e) {
      // A codec that cannot load here fails the first send the same way, where it is counted and retried.
      log.log(Level.INFO, "write path not run ahead of the first send: sink={0} error={1}", context.name(), e.toString());
    } finally {
      writePathRun.complete(rendered);
    }
  }

  /** {@link ProducerPathWarmUp}, with a line of its own when it fails: the events were rendered all the same. */
  private int runProducerPath(String key, byte[] event, org.apache.kafka.common.compress.Compression codec) {
    try {
      return ProducerPathWarmUp.run(topic, key, event, codec, WARM_UP_ROUNDS, 50);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 0;
    } catch (Exception | LinkageError e) {
      log.log(Level.INFO, "producer path not run ahead of the first send (the first send runs it): sink={0} error={1}",
          context.name(), e.toString());
      return 0;
    }
  }

  @Override
  public void apply(List<PodChange> batch) throws SinkException {
    PodEvents.Writer writer = new PodEvents.Writer(Instant.now(context.clock()));
    // In rounds: the n-th change of a pod is sent only once its (n-1)-th was acknowledged. After a
    // delivery timeout the producer bumps its epoch and would write a later record of the same
    // partition, so a change sent in the same round as its predecessor could overtake it.
    Map<String, List<PodChange>> byPod = new LinkedHashMap<>();
    for (PodChange c : batch) {
      byPod.computeIfAbsent(c.key(), k -> new ArrayList<>(1)).add(c);
    }
    int rounds = byPod.values().stream().mapToInt(List::size).max().orElse(0);
    // Pods with a change not acknowledged: their later changes wait for the retry, in order.
    Map<String, Throwable> unacknowledged = new LinkedHashMap<>();
    SharedProducer.Lease lease;
    try {
      lease = producers.acquire();
    } catch (org.apache.kafka.common.KafkaException | IllegalStateException e) {
      // IllegalStateException: the sink is closing; the changes stay queued.
      throw SinkException.retriable("no producer for the events: " + e, e);
    }
    try (lease) {
      for (int round = 0; round < rounds; round++) {
        List<Sent> sent = new ArrayList<>(byPod.size());
        for (List<PodChange> changes : byPod.values()) {
          if (changes.size() <= round || unacknowledged.containsKey(changes.get(0).key())) {
            continue;
          }
          PodChange c = changes.get(round);
          String type = PodEvents.type(c.transition(), includeUpdated);
          if (type == null) {
            continue;
          }
          byte[] event = writer.bytes(c, type);
          sent.add(new Sent(c, type, event.length, lease.producer().send(new ProducerRecord<>(topic, writer.uid(), event))));
        }
        lease.producer().flush();
        Acknowledged acknowledged = new Acknowledged();
        try {
          for (Sent s : sent) {
            try {
              s.ack().get();
              acknowledged.add(s.type());
            } catch (ExecutionException e) {
              Throwable cause = e.getCause();
              throwIfRefused(cause, lease);
              if (cause instanceof RecordTooLargeException) {
                dropTooLarge(s, cause);
              } else {
                unacknowledged.putIfAbsent(s.change().key(), cause);
              }
            }
          }
        } finally {
          acknowledged.flush(); // a refusal thrown mid-round must not lose the count of what was acknowledged
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw SinkException.retriable("interrupted while sending events", e);
    } catch (org.apache.kafka.common.KafkaException e) {
      throwIfRefused(e, lease);
      throw SinkException.retriable("events not sent: " + e, e);
    }
    if (!unacknowledged.isEmpty()) {
      // Timeouts, a broker down, a leader moving: retry these pods; ids let consumers drop duplicates.
      Throwable first = unacknowledged.values().iterator().next();
      String message = "events of " + unacknowledged.size() + " of " + byPod.size() + " pods not acknowledged: " + first;
      throw unacknowledged.size() == byPod.size()
          ? SinkException.retriable(message, first)
          : SinkException.partial(message, first, true, unacknowledged.keySet());
    }
  }

  /** One record handed to the producer, and what to say of it if it fails. */
  private record Sent(PodChange change, String type, int bytes, Future<RecordMetadata> ack) {}

  /**
   * Counts a round's acknowledged events by type and adds them to the metric in one call per run of a
   * type: the metric's label lookup per event was 2-3% of the sink's CPU (JFR).
   */
  private final class Acknowledged {
    private String type;
    private long count;

    void add(String t) {
      if (!t.equals(type)) {
        flush();
        type = t;
      }
      count++;
    }

    void flush() {
      if (count > 0) {
        events.inc(count, type);
      }
      count = 0;
    }
  }

  /**
   * No retry can deliver a record the producer or the broker refuses as too large: drop it alone, and
   * name the pod, never the event (labels may say more than the log should).
   */
  private void dropTooLarge(Sent s, Throwable cause) {
    dropped.inc("too_large");
    log.log(Level.WARNING, "event dropped, too large for the producer or the topic: sink={0} pod={1} type={2} id={3} bytes={4} "
            + "topic={5} error={6}", context.name(), s.change().key(), s.type(), PodEvents.id(s.change(), s.type()), s.bytes(),
        topic, cause.getMessage());
  }

  /**
   * A refused login or missing ACL is fixed by an operator, so the events stay queued and are retried (the
   * failing-sink alert pages meanwhile). The producer is replaced: an idempotent producer whose producer-id
   * request was refused stays failed for good.
   */
  private void throwIfRefused(Throwable failure, SharedProducer.Lease lease) throws SinkException {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof AuthenticationException || t instanceof AuthorizationException) {
        String kind = t instanceof AuthenticationException ? "authentication" : "authorization";
        errors.inc(kind);
        log.log(Level.WARNING, "broker refused the sink ({0}), events kept for retry, producer replaced: sink={1} user={2} topic={3} "
            + "error={4}", kind, context.name(), config.getString("saslUsername"), topic, t.getMessage());
        lease.retire();
        throw SinkException.retriable("events refused by the broker (" + kind + "): " + t.getMessage(), t);
      }
    }
  }

  /** A metric of the current producer ({@code producer-metrics} group), NaN if none; for tests. */
  double producerMetric(String name) {
    try (SharedProducer.Lease lease = producers.acquire()) {
      return lease.producer().metrics().entrySet().stream()
          .filter(e -> e.getKey().group().equals("producer-metrics") && e.getKey().name().equals(name))
          .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue()).findFirst().orElse(Double.NaN);
    }
  }

  /** Replaces the producer, as a refused login does; for tests. */
  void replaceProducer() {
    producers.retireCurrent();
  }

  @Override
  public List<String> plan(List<PodChange> batch) {
    List<String> out = new ArrayList<>();
    for (PodChange c : batch) {
      String type = PodEvents.type(c.transition(), includeUpdated);
      if (type != null) {
        out.add("send " + type + " key=" + c.latest().uid() + " id=" + PodEvents.id(c, type) + " to " + topic);
      }
    }
    return out;
  }

  @Override
  public void close() {
    producers.close(java.time.Duration.ofSeconds(10));
  }

}

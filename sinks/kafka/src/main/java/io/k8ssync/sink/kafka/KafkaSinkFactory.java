package io.k8ssync.sink.kafka;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Validator;
import java.time.Duration;

/** The {@code kafka} sink: one CloudEvents 1.0 event per pod transition, keyed by pod uid. */
public final class KafkaSinkFactory implements SinkFactory {

  static final ConfigDef CONFIG = new ConfigDef()
      .required("bootstrapServers", ConfigDef.Type.STRING, Validator.matches("[A-Za-z0-9._:,\\[\\]-]+", "a host:port list"),
          "Kafka bootstrap servers")
      .define("topic", ConfigDef.Type.STRING, "k8s-sync.pod-events", Validator.matches("[A-Za-z0-9._-]{1,249}", "a Kafka topic name"),
          "topic of the events")
      .define("createTopic", ConfigDef.Type.BOOLEAN, true, "create the topic at start when it does not exist")
      .define("partitions", ConfigDef.Type.INT, 6, Validator.between(1, 10_000), "partitions of a topic this sink creates")
      .define("replicationFactor", ConfigDef.Type.INT, -1, Validator.between(-1, 32), "replication of a topic this sink creates; -1: the broker default")
      .define("includeUpdated", ConfigDef.Type.BOOLEAN, false, "also emit io.k8ssync.pod.updated for changes that are no other transition")
      .define("compression", ConfigDef.Type.STRING, "lz4", Validator.oneOf("none", "gzip", "snappy", "lz4", "zstd"), "producer compression")
      .define("linger", ConfigDef.Type.DURATION, Duration.ofMillis(5), "how long the producer waits to fill a batch")
      .define("deliveryTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "how long one batch may take to be acknowledged before it fails (and is retried by the queue)")
      .define("securityProtocol", ConfigDef.Type.STRING, "PLAINTEXT", Validator.oneOf("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
          "security.protocol")
      .define("caFile", ConfigDef.Type.STRING, null, Validator.pemCertificates(), "PEM CA certificates to trust (SSL, SASL_SSL)")
      .define("saslMechanism", ConfigDef.Type.STRING, "SCRAM-SHA-512", Validator.oneOf("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), "SASL mechanism")
      .define("saslUsername", ConfigDef.Type.STRING, null, "SASL user")
      .define("saslPassword", ConfigDef.Type.SECRET, null, "SASL password");

  @Override
  public String type() {
    return "kafka";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public Sink create(SinkContext context) {
    return new KafkaSink(context);
  }
}

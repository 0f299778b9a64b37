package io.k8ssync.sink.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.compress.Compression;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The standby's in-memory run of the producer's send path (issue 19, target 7) goes all the way: every
 * round's batch is built with the codec, encoded in a request, answered by a decoded response and
 * completed, its callback run with the offset the answer gave. Nothing here can reach a broker: there is
 * no producer and no address.
 */
class ProducerPathWarmUpTest {

  @ParameterizedTest
  @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
  void everyRoundIsBatchedEncodedAnsweredAndCompleted(String codec) throws Exception {
    byte[] event = "{\"specversion\":\"1.0\",\"type\":\"io.k8ssync.pod.ready\"}".getBytes(StandardCharsets.UTF_8);
    Compression compression = Compression.of(codec).build();
    assertEquals(12, ProducerPathWarmUp.run("pods", "0b2c9e5e-0000-4000-8000-000000000001", event, compression, 12, 5));
  }
}

package io.k8ssync.sink.kafka;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.clients.producer.internals.FutureRecordMetadata;
import org.apache.kafka.clients.producer.internals.ProducerBatch;
import org.apache.kafka.common.TopicIdPartition;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.protocol.MessageUtil;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.AbstractRecords;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.RequestHeader;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.ProducerIdAndEpoch;

/**
 * The producer's own part of a send, run in memory so a new leader's first send is not its first run
 * (issue 19, target 7). TakeoverBench at 10,000 pods, timed inside the sink: a new leader's first
 * {@code send()} took 60–166 ms and the broker appended the record 57–105 ms after it returned, where a
 * warm producer takes about a millisecond for each; the standby had run none of that code. Here a
 * record's key is serialized and partitioned, the record appended to a batch of the producer's codec,
 * the batch closed (its checksum written), a produce request encoded as the sender encodes one, an
 * answer decoded as the sender decodes one, and the batch completed with its callback run.
 *
 * <p>Everything runs on objects of our own: no producer, no connection, nothing reaches a broker. These
 * are kafka-clients' internal classes, pinned by the parent pom's version: an upgrade that changes them
 * fails the build here, not at run time.
 */
final class ProducerPathWarmUp {

  private ProducerPathWarmUp() {}

  /** The client id the encoded request carries; it goes nowhere. */
  private static final String CLIENT_ID = "k8s-sync-warm-up";

  /**
   * Runs the path {@code rounds} times with {@code key} and {@code value} on {@code topic}, the
   * configured {@code codec} every {@code codecEvery}-th round (each allocates the codec's buffers)
   * and no compression in the others. Returns the records the runs acknowledged to themselves.
   */
  static int run(String topic, String key, byte[] value, Compression codec, int rounds, int codecEvery)
      throws InterruptedException, ExecutionException, TimeoutException {
    StringSerializer keys = new StringSerializer();
    Uuid topicId = Uuid.randomUuid();
    short version = ApiKeys.PRODUCE.latestVersion();
    Compression none = Compression.NONE;
    int acknowledged = 0;
    for (int round = 0; round < rounds; round++) {
      Compression c = round % codecEvery == 0 ? codec : none;
      long now = System.currentTimeMillis();
      byte[] k = keys.serialize(topic, key);
      TopicPartition tp = new TopicPartition(topic, BuiltInPartitioner.partitionForKey(k, 8));
      Header[] headers = new RecordHeaders().toArray();
      int size = AbstractRecords.estimateSizeInBytesUpperBound(RecordBatch.CURRENT_MAGIC_VALUE, c.type(), k, value, headers);
      MemoryRecordsBuilder builder = MemoryRecords.builder(ByteBuffer.allocate(Math.max(1024, 2 * size)),
          RecordBatch.CURRENT_MAGIC_VALUE, c, TimestampType.CREATE_TIME, 0L);
      ProducerBatch batch;
      boolean[] called = new boolean[1];
      FutureRecordMetadata future;
      try {
        batch = new ProducerBatch(tp, builder, now);
        future = batch.tryAppend(now, k, value, headers, (metadata, e) -> called[0] = e == null, now);
        batch.setProducerState(new ProducerIdAndEpoch(0L, (short) 0), round, false);
        batch.close();
      } finally {
        if (!builder.isClosed()) {
          builder.abort(); // the codec's stream closed: zstd's holds native memory
        }
      }
      MemoryRecords records = batch.records();

      ProduceRequestData data = new ProduceRequestData().setAcks((short) -1).setTimeoutMs(30_000);
      data.topicData().add(new ProduceRequestData.TopicProduceData().setName(topic).setTopicId(topicId)
          .setPartitionData(List.of(new ProduceRequestData.PartitionProduceData().setIndex(tp.partition()).setRecords(records))));
      ProduceRequest.builder(data).build(version).serializeWithHeader(new RequestHeader(ApiKeys.PRODUCE, version, CLIENT_ID, round));

      ProduceResponse answer = new ProduceResponse(Map.of(new TopicIdPartition(topicId, tp),
          new ProduceResponse.PartitionResponse(Errors.NONE, round, now, 0L)));
      ProduceResponse decoded = (ProduceResponse) AbstractResponse.parseResponse(ApiKeys.PRODUCE,
          MessageUtil.toByteBufferAccessor(answer.data(), version), version);
      for (ProduceResponseData.TopicProduceResponse t : decoded.data().responses()) {
        for (ProduceResponseData.PartitionProduceResponse p : t.partitionResponses()) {
          if (Errors.forCode(p.errorCode()) == Errors.NONE) {
            batch.complete(p.baseOffset(), p.logAppendTimeMs());
          }
        }
      }
      RecordMetadata metadata = future.get(1, TimeUnit.SECONDS);
      if (called[0] && metadata.offset() == round) {
        acknowledged++;
      }
    }
    return acknowledged;
  }
}

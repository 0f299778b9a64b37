package io.k8ssync.sink.upstream;

import io.k8ssync.sink.SinkException;
import java.util.Map;

/**
 * A key-value registry holding nginx upstreams as {@code <root>/<upstream>/<ip>:<port>} → JSON
 * (Consul KV, ZooKeeper). Every entry this daemon writes carries an ownership mark for the pod's
 * cluster; implementations never change or delete an entry without that mark.
 */
public interface UpstreamRegistry extends AutoCloseable {

  /** Entries this daemon owns for these clusters: cluster → upstream → address → entry. */
  Map<String, Map<String, Map<String, UpsyncEntry>>> listOwned(java.util.Set<String> clusters) throws SinkException;

  /** Servers in an upstream, whoever wrote them (nginx-upsync refuses to drop its last one). */
  int countServers(String upstream) throws SinkException;

  /**
   * Writes an entry marked as owned for {@code cluster}. Returns false, writing nothing, when the
   * key exists and was not written by this daemon for that cluster.
   */
  boolean put(String cluster, String upstream, String address, UpsyncEntry entry) throws SinkException;

  /** One entry to write in a batch. */
  record Write(String cluster, String upstream, String address, UpsyncEntry entry) {}

  /**
   * Writes many entries at once (reconcile repairs): registries with transactions override this.
   * Returns the writes refused because their key belongs to someone else.
   */
  default java.util.List<Write> putAll(java.util.List<Write> writes) throws SinkException {
    java.util.List<Write> refused = new java.util.ArrayList<>();
    for (Write w : writes) {
      if (!put(w.cluster(), w.upstream(), w.address(), w.entry())) {
        refused.add(w);
      }
    }
    return refused;
  }

  /** Deletes an owned entry; returns false, deleting nothing, when it is not ours or not there. */
  boolean delete(String cluster, String upstream, String address) throws SinkException;

  @Override
  void close();
}

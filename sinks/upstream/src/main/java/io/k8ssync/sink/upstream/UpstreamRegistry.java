package io.k8ssync.sink.upstream;

import io.k8ssync.sink.SinkException;
import java.util.Map;

/**
 * A key-value registry holding nginx upstreams as {@code <root>/<upstream>/<ip>:<port>} → JSON
 * (Consul KV, ZooKeeper). Every entry this daemon writes carries an ownership mark for the pod's
 * cluster and this sink's {@link Owner}; implementations never change or delete an entry without that
 * mark, except that a wanted entry with the cluster's default mark may be taken over in place (see
 * {@link #put(String, String, String, UpsyncEntry, boolean)}).
 */
public interface UpstreamRegistry extends AutoCloseable {

  /**
   * True when a key's last segment is a server to nginx-upsync ({@code IPv4:port}): only such keys
   * keep an upstream from being empty. A folder key, or any other name, upsync skips.
   */
  static boolean isServer(String segment) {
    return SERVER.matcher(segment).matches();
  }

  java.util.regex.Pattern SERVER = java.util.regex.Pattern.compile(
      "((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d):\\d{1,5}");

  /** Connects; called once by the sink's {@code start()}. */
  default void start() throws SinkException {}

  /**
   * Runs what a first write needs that can run without writing (building request codecs, loading
   * their classes), so that a standby's first write after a takeover does not: called on a standby
   * once its pods are listed. Sends nothing.
   */
  default void warmUp() {}

  /**
   * A standby, before it may write: learns, reading only, what its first writes to these upstreams
   * ({@code cluster → upstream names}) would otherwise read first (a registry that keeps an upstream in
   * a folder: which folders exist). Writes nothing; a failed read leaves the first write to read.
   */
  default void learnWhileStandingBy(java.util.Map<String, java.util.Set<String>> upstreamsByCluster) throws SinkException {}

  /**
   * The longest one call to the registry may take: the sink starts a write only while this
   * replica's Lease leaves at least this long (see {@code SinkContext.writeBudget}).
   */
  default java.time.Duration callTimeout() {
    return java.time.Duration.ofSeconds(5);
  }

  /**
   * An entry as a listing found it, with its version for a check-and-set write. {@code defaultMark}:
   * not ours but marked for the cluster's default owner while this sink has its own owner id; such
   * an entry may be taken over when a pod of ours wants it, and is never removed.
   */
  record Listed(UpsyncEntry entry, long version, boolean defaultMark) {

    public Listed(UpsyncEntry entry, long version) {
      this(entry, version, false);
    }
  }

  /**
   * Every entry this daemon owns for these clusters, and, when its owner id is not the default one,
   * every entry with the cluster's default mark, in one listing of a few reads (never one read per
   * entry): cluster → upstream → address → entry and version.
   */
  Map<String, Map<String, Map<String, Listed>>> list(java.util.Set<String> clusters) throws SinkException;

  /**
   * True when an entry is at this key now, whoever wrote it: one read, for a sink that must know a
   * pod's server is absent before it says so (a registration of an earlier run may still be there).
   * Registries override this default, which lists the cluster's entries of ours and of its default mark.
   */
  default boolean present(String cluster, String upstream, String address) throws SinkException {
    Map<String, Listed> servers = list(java.util.Set.of(cluster)).getOrDefault(cluster, Map.of()).getOrDefault(upstream, Map.of());
    return servers.containsKey(address);
  }

  /** Servers in an upstream, whoever wrote them (nginx-upsync refuses to drop its last one). */
  int countServers(String upstream) throws SinkException;

  /**
   * Writes an entry marked as owned for {@code cluster}. Returns false, writing nothing, when the
   * key exists and was not written by this daemon for that cluster. Never takes an entry over.
   */
  default boolean put(String cluster, String upstream, String address, UpsyncEntry entry) throws SinkException {
    return put(cluster, upstream, address, entry, false);
  }

  /**
   * Writes an entry marked as owned for {@code cluster}. With {@code takeOver}, for a server a pod
   * of this daemon holds now, a key with the cluster's default mark (written before this sink had
   * its own owner id) is re-marked as ours in the same check-and-set, in place, never deleted and
   * created again. Returns false, writing nothing, when the key exists and is someone else's.
   */
  boolean put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) throws SinkException;

  /** One write of {@link #putBatch}: what {@link #put(String, String, String, UpsyncEntry, boolean)} takes. */
  record Put(String cluster, String upstream, String address, UpsyncEntry entry, boolean takeOver) {}

  /**
   * What became of one {@link Put}: {@code written} (or found equal already); refused, nothing
   * written, because the key is someone else's ({@code written} false, no {@code failure}); or failed
   * with {@code failure} (nothing known to be written).
   */
  record PutResult(Put put, boolean written, SinkException failure) {

    public boolean foreign() {
      return !written && failure == null;
    }
  }

  /**
   * Writes the servers of one batch of changes, each with exactly the rules and guarantees of
   * {@link #put(String, String, String, UpsyncEntry, boolean)}; at most one Put per key. Each has its
   * own outcome, in the order given: one that fails or is refused does not stop the others.
   * Registries with transactions override this to send the batch in few requests; this default
   * writes one at a time.
   */
  default java.util.List<PutResult> putBatch(java.util.List<Put> puts) {
    java.util.List<PutResult> out = new java.util.ArrayList<>(puts.size());
    for (Put p : puts) {
      try {
        out.add(new PutResult(p, put(p.cluster(), p.upstream(), p.address(), p.entry(), p.takeOver()), null));
      } catch (SinkException e) {
        out.add(new PutResult(p, false, e));
      }
    }
    return out;
  }

  /**
   * True when {@link #putBatch(java.util.List, java.util.List)} may carry deletions of drained servers:
   * each in the same atomic request as a check that a server of its upstream stays, so that a caller
   * holding only the servers' own locks (not the whole upstream) never empties an upstream.
   */
  default boolean deletesWithPuts() {
    return false;
  }

  /**
   * True when the sink should group its batch writes ({@code GroupCommit}): a write that finds another
   * in flight waits for it and goes with the others queued meanwhile in one request. For registries
   * whose requests cost more than the wait (Consul: one transaction, one Raft entry, each).
   */
  default boolean groupsWrites() {
    return false;
  }

  /** What {@link #putBatch(java.util.List, java.util.List)} did: each Put's result, and the removals it deleted. */
  record PutsAndDeletions(java.util.List<PutResult> puts, java.util.List<Removal> deleted) {}

  /**
   * {@link #putBatch(java.util.List)}, carrying in the same request the deletions of {@code riding} that can go
   * without a read (each our entry at the version known, with a check of a server of its upstream that
   * stays); the others are left untouched, as are all of them when that request is refused (the puts
   * are then written as {@link #putBatch(java.util.List)} writes them) or fails. Only for registries whose
   * {@link #deletesWithPuts()}; this default deletes nothing.
   */
  default PutsAndDeletions putBatch(java.util.List<Put> puts, java.util.List<Removal> riding) {
    return new PutsAndDeletions(putBatch(puts), java.util.List.of());
  }

  /**
   * One entry to write in a batch, with the version of its key that a listing just found: a
   * version seen, {@link #ABSENT} when the listing found no entry of ours there (the key must not
   * exist), or {@link #UNKNOWN} to have the registry read it first. {@code defaultMark}: the listing
   * found the key with the cluster's default mark, and this write takes it over at that version.
   */
  record Write(String cluster, String upstream, String address, UpsyncEntry entry, long version, boolean defaultMark) {

    public static final long ABSENT = -1;
    public static final long UNKNOWN = -2;

    public Write(String cluster, String upstream, String address, UpsyncEntry entry, long version) {
      this(cluster, upstream, address, entry, version, false);
    }

    public Write(String cluster, String upstream, String address, UpsyncEntry entry) {
      this(cluster, upstream, address, entry, UNKNOWN, false);
    }
  }

  /**
   * Writes many entries at once (reconcile repairs), each a check-and-set on the version its Write
   * carries, so no key is read again; registries with transactions override this. A key that
   * changed since it was listed is written alone after a fresh read. Every write is of a server a
   * pod of ours wants, so each may take over the cluster's default mark. Returns the writes refused
   * because their key belongs to someone else.
   */
  default java.util.List<Write> putAll(java.util.List<Write> writes) throws SinkException {
    java.util.List<Write> refused = new java.util.ArrayList<>();
    for (Write w : writes) {
      if (!put(w.cluster(), w.upstream(), w.address(), w.entry(), true)) {
        refused.add(w);
      }
    }
    return refused;
  }

  /** What {@link #deleteUnlessLast} did. */
  enum Deletion {
    /** The entry is gone; other servers remain in the upstream. */
    DELETED,
    /** Nothing deleted: it is the last server of its upstream (nginx-upsync must never see it empty). */
    LAST_SERVER,
    /** Nothing deleted: the entry is not there, not ours, or changed meanwhile. */
    MISSED
  }

  /**
   * Deletes an owned entry unless no other server remains in its upstream, whoever wrote them.
   * Registries with transactions override this to make the count and the deletion one atomic
   * step, so two writers (two replicas leading two clusters that share an upstream) can never
   * empty it between them; this default counts, then deletes.
   */
  default Deletion deleteUnlessLast(String cluster, String upstream, String address) throws SinkException {
    if (countServers(upstream) <= 1) {
      return Deletion.LAST_SERVER;
    }
    return delete(cluster, upstream, address) ? Deletion.DELETED : Deletion.MISSED;
  }

  /** One deletion of {@link #deleteAllUnlessLast}: what {@link #deleteUnlessLast} takes. */
  record Removal(String cluster, String upstream, String address) {}

  /** What became of one {@link Removal}: its {@code deletion}, or the {@code failure} (nothing known to be deleted). */
  record RemovalResult(Removal removal, Deletion deletion, SinkException failure) {}

  /**
   * Deletes many owned entries (drained servers whose deletions fell due together), each with
   * exactly the rules and guarantees of {@link #deleteUnlessLast}: an upstream never left without a
   * server, whoever wrote them, and only our entry at the version we know. At most one Removal per
   * key; each has its own outcome, in the order given. Registries with transactions override this to
   * delete many in one request, with a check of a server that stays; this default deletes one at a time.
   */
  default java.util.List<RemovalResult> deleteAllUnlessLast(java.util.List<Removal> removals) {
    java.util.List<RemovalResult> out = new java.util.ArrayList<>(removals.size());
    for (Removal r : removals) {
      out.add(deleteOneUnlessLast(r));
    }
    return out;
  }

  /** One {@link Removal} the per-key way ({@link #deleteUnlessLast}), its failure kept in the result. */
  default RemovalResult deleteOneUnlessLast(Removal r) {
    try {
      return new RemovalResult(r, deleteUnlessLast(r.cluster(), r.upstream(), r.address()), null);
    } catch (SinkException e) {
      return new RemovalResult(r, null, e);
    }
  }

  /** Deletes an owned entry; returns false, deleting nothing, when it is not ours or not there. */
  boolean delete(String cluster, String upstream, String address) throws SinkException;

  @Override
  void close();
}

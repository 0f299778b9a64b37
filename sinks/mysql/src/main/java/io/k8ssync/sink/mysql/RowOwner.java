package io.k8ssync.sink.mysql;

/**
 * Who owns the rows a sink writes for a cluster: the sink's {@code ownerId}, or, unset, the cluster's
 * name (the default owner), which every row written before the {@code owner} column carries (migration
 * 3 sets it; a NULL, written by a replica of an earlier version during an upgrade, reads the same).
 * The same rule as the registry sinks' {@code Owner}: a sink with its own id may take over a row of its
 * cluster's default owner when its own pod (same uid) holds it, and never changes another owner's row.
 */
record RowOwner(String id) {

  /** Owner ids are names like cluster names (the registry sinks' pattern), so no owner reads as another. */
  static final String PATTERN = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

  /** The owner this sink writes in its rows of {@code cluster}. */
  String of(String cluster) {
    return id == null ? cluster : id;
  }

  /** True when this sink is the default owner of {@code cluster}. */
  boolean isDefault(String cluster) {
    return of(cluster).equals(cluster);
  }

  /** Whose a listed row is, from this sink's point of view. */
  enum Kind { OURS, DEFAULT_OWNER, OTHER }

  /** {@code rowOwner} as stored, NULL read as {@code rowCluster}. */
  Kind classify(String rowCluster, String rowOwner) {
    String owner = rowOwner == null ? rowCluster : rowOwner;
    if (owner.equals(of(rowCluster))) {
      return Kind.OURS;
    }
    return owner.equals(rowCluster) ? Kind.DEFAULT_OWNER : Kind.OTHER;
  }
}

package io.k8ssync.sink.upstream;

/**
 * Who owns the entries a sink writes for a cluster: the sink's {@code ownerId}, or, unset, the
 * cluster's name (the default). An owner id equal to the cluster's name is the default owner, and
 * its marks are exactly those written before owner ids existed, so a deployment that sets none
 * keeps owning what it wrote. A sink with another id calls the default owner's marks "default"
 * marks: entries it may take over when its own pod holds the address, and never removes.
 */
public record Owner(String id) {

  /** Owner ids are names like cluster names, so no mark of one can read as the mark of another. */
  public static final String PATTERN = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";

  /** The owner id of this sink's entries of {@code cluster}. */
  public String of(String cluster) {
    return id == null ? cluster : id;
  }

  /** True when this sink is the default owner of {@code cluster}: its marks are the cluster's default marks. */
  public boolean isDefault(String cluster) {
    return of(cluster).equals(cluster);
  }
}

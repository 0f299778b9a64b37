package io.k8ssync.sink.zookeeper;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this registry's own requests last told it about server nodes, so that a write need not read
 * first: the version of each node it wrote or listed with its own marker, the nodes it deleted
 * itself, the folders it knows exist, and per upstream a server that was there. It is a hint, never
 * proof: every write built on it is a ZooKeeper transaction that checks what it assumes (our marker
 * is there, the node is at the version known, the other server still exists, the node does not), so
 * a hint gone stale fails the transaction, which then falls back to reading.
 */
final class KnownNodes {

  /** The node is not there: this registry deleted it. */
  static final int ABSENT = -1;

  /** Node path → its version when written by us with our marker, or {@link #ABSENT}. */
  private final Map<String, Integer> versions = new ConcurrentHashMap<>();
  /** Upstream folder → servers known to be there, ours or anyone's (only their existence is relied on). */
  private final Map<String, Set<String>> servers = new ConcurrentHashMap<>();
  private final Set<String> folders = ConcurrentHashMap.newKeySet();

  /** The version of our node, {@link #ABSENT}, or null when nothing is known. */
  Integer version(String node) {
    return versions.get(node);
  }

  /** Our node is at this version now (written by us, or listed with our marker). */
  void wrote(String folder, String address, int version) {
    versions.put(folder + "/" + address, version);
    servers.computeIfAbsent(folder, f -> ConcurrentHashMap.newKeySet()).add(address);
  }

  /** A server, not necessarily ours, that a read found in the upstream. */
  void seen(String folder, String address) {
    servers.computeIfAbsent(folder, f -> ConcurrentHashMap.newKeySet()).add(address);
  }

  /** We deleted the node. Knowing the absence of every address that ever left is bounded: past a limit it is forgotten. */
  void deleted(String folder, String address) {
    if (versions.size() > LIMIT) {
      versions.values().removeIf(v -> v == ABSENT);
    }
    versions.put(folder + "/" + address, ABSENT);
    gone(folder, address);
  }

  private static final int LIMIT = 200_000;

  /** What we knew of the node proved wrong: the next write reads first. */
  void forget(String folder, String address) {
    versions.remove(folder + "/" + address);
    gone(folder, address);
  }

  /** The server is not (known to be) there any more. */
  void gone(String folder, String address) {
    Set<String> s = servers.get(folder);
    if (s != null) {
      s.remove(address);
    }
  }

  /** A server other than {@code address} believed to be in the upstream, or null. */
  String another(String folder, String address) {
    Set<String> s = servers.get(folder);
    if (s != null) {
      for (String a : s) {
        if (!a.equals(address)) {
          return a;
        }
      }
    }
    return null;
  }

  /** A server believed to be in the upstream that is none of {@code addresses}, or null. */
  String anotherThan(String folder, Set<String> addresses) {
    Set<String> s = servers.get(folder);
    if (s != null) {
      for (String a : s) {
        if (!addresses.contains(a)) {
          return a;
        }
      }
    }
    return null;
  }

  boolean folderKnown(String path) {
    return folders.contains(path);
  }

  void folderExists(String path) {
    folders.add(path);
  }

  /** A create found a parent folder missing: someone removed it. */
  void forgetFolders() {
    folders.clear();
  }
}

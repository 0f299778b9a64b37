package io.k8ssync.sink;

import java.util.Map;
import java.util.Objects;

/**
 * The only shape of a pod that any sink sees: a compact, immutable projection of a Kubernetes Pod.
 *
 * <p>{@code service} is the logical application (shared by a canary and a stable Deployment); it is
 * {@code null} when the pod carries no service identity, and {@code rejection} says why when the
 * pod carried one that failed validation. Values pod owners control (service, options, kept labels
 * and annotations) have been validated before they reach this object. Times are epoch millis, 0
 * when absent, to keep a cached pod small.
 *
 * <p>A value class with the accessors, equality and {@code toString} of the record it was: the
 * daemon caches one per pod (100,000s of them), so values with a common shape are held compactly
 * and rebuilt on demand — a lower-case UUID uid as two longs, a dotted IPv4 {@code ip} and
 * {@code hostIp} as ints, a canonical decimal {@code resourceVersion} as a long — and the pod's
 * {@link #key()} is the one per-pod string, {@link #name()} a slice of it. Anything else (an IPv6
 * address, an upper-case uid, a resourceVersion with a leading zero) is kept as given, so every
 * accessor returns exactly the value passed in. {@code ip()}, {@code hostIp()},
 * {@code resourceVersion()} and {@code name()} therefore allocate; {@code key()} does not.
 *
 * <p>{@link #uid()} and {@link #address()} are built on first use and then kept, and a new state of
 * the pod built from its prior one takes the prior's when they are the same: the sinks' progress,
 * the Events, the registry sinks and their clients all keep the pod's uid and address, and so share
 * one copy of each per pod instead of one each (issue 19: ~9 strings a pod at 100,000 pods).
 */
public final class PodState {

  private static final int READY = 1;
  private static final int TERMINATING = 1 << 1;
  private static final int IP4 = 1 << 2;
  private static final int HOST_IP4 = 1 << 3;
  private static final int UUID = 1 << 4;
  private static final int RV = 1 << 5;

  private final String key;
  private final String cluster;
  private final String namespace;
  private final String service;
  private final String node;
  private final Phase phase;
  private final Map<String, String> options;
  private final Map<String, String> labels;
  private final Map<String, String> annotations;
  private final String rejection;
  /** The values that did not fit their compact form, as given; null when all did. */
  private final Texts texts;
  private final long uidHigh;
  private final long uidLow;
  private final long resourceVersion;
  private final long createdAtMillis;
  private final long readySinceMillis;
  private final int ip;
  private final int hostIp;
  private final int port;
  private final int weight;
  private final byte flags;
  /** {@link #uid()} and {@link #address()} once built (racy but benign: Strings are immutable; null until used). */
  private String uidText;
  private String addressText;

  /** Pod phase as reported by the API server. */
  public enum Phase {
    PENDING, RUNNING, SUCCEEDED, FAILED, UNKNOWN;

    public static Phase of(String apiValue) {
      if (apiValue == null) {
        return UNKNOWN;
      }
      switch (apiValue) {
        case "Pending": return PENDING;
        case "Running": return RUNNING;
        case "Succeeded": return SUCCEEDED;
        case "Failed": return FAILED;
        default: return UNKNOWN;
      }
    }
  }

  public PodState(
      String cluster,
      String namespace,
      String name,
      String uid,
      String service,
      String ip,
      String hostIp,
      int port,
      String node,
      Phase phase,
      boolean ready,
      boolean terminating,
      int weight,
      Map<String, String> options,
      Map<String, String> labels,
      Map<String, String> annotations,
      String resourceVersion,
      long createdAtMillis,
      long readySinceMillis,
      String rejection) {
    this(null, cluster, namespace, name, uid, service, ip, hostIp, port, node, phase, ready, terminating,
        weight, options, labels, annotations, resourceVersion, createdAtMillis, readySinceMillis, rejection);
  }

  /**
   * A new state of the pod {@code prior} was a state of: when both name the same pod, this one
   * shares the prior's {@link #key()} string, so a cache keyed by it holds one copy per pod however
   * often the pod changes. {@code prior} may be null or another pod; the result is the same value.
   */
  public PodState(
      PodState prior,
      String cluster,
      String namespace,
      String name,
      String uid,
      String service,
      String ip,
      String hostIp,
      int port,
      String node,
      Phase phase,
      boolean ready,
      boolean terminating,
      int weight,
      Map<String, String> options,
      Map<String, String> labels,
      Map<String, String> annotations,
      String resourceVersion,
      long createdAtMillis,
      long readySinceMillis,
      String rejection) {
    Objects.requireNonNull(cluster, "cluster");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(uid, "uid");
    Objects.requireNonNull(phase, "phase");
    this.cluster = cluster;
    this.namespace = namespace;
    this.key = prior != null && prior.names(cluster, namespace, name) ? prior.key : key(cluster, namespace, name);
    this.service = service;
    this.node = node;
    this.phase = phase;
    this.options = options == null ? Map.of() : options;
    this.labels = labels == null ? Map.of() : labels;
    this.annotations = annotations == null ? Map.of() : annotations;
    this.rejection = rejection;
    this.port = port;
    this.weight = weight;
    this.createdAtMillis = createdAtMillis;
    this.readySinceMillis = readySinceMillis;

    int f = (ready ? READY : 0) | (terminating ? TERMINATING : 0);
    long ipBits = ipv4Bits(ip);
    long hostIpBits = ipv4Bits(hostIp);
    long rv = CompactValues.decimal(resourceVersion);
    boolean isUuid = CompactValues.isUuid(uid);
    this.ip = (int) ipBits;
    this.hostIp = (int) hostIpBits;
    this.resourceVersion = rv;
    this.uidHigh = isUuid ? CompactValues.uuidHigh(uid) : 0;
    this.uidLow = isUuid ? CompactValues.uuidLow(uid) : 0;
    f |= (ipBits >= 0 ? IP4 : 0) | (hostIpBits >= 0 ? HOST_IP4 : 0) | (rv >= 0 ? RV : 0) | (isUuid ? UUID : 0);
    this.flags = (byte) f;
    String oddUid = isUuid ? null : uid;
    String oddIp = ipBits >= 0 ? null : ip;
    String oddHostIp = hostIpBits >= 0 ? null : hostIp;
    String oddRv = rv >= 0 ? null : resourceVersion;
    this.texts = oddUid == null && oddIp == null && oddHostIp == null && oddRv == null
        ? null : new Texts(oddUid, oddIp, oddHostIp, oddRv);
    if (prior != null) {
      // The holders of the prior state's uid and address keep the copy this state returns too.
      String priorUid = prior.uidText;
      if (priorUid != null && priorUid.equals(uid)) {
        this.uidText = priorUid;
      }
      String priorAddress = prior.addressText;
      if (priorAddress != null && port == prior.port && ipBits >= 0 && prior.has(IP4) && prior.ip == this.ip) {
        this.addressText = priorAddress;
      }
    }
  }

  /** The values kept as given. */
  private record Texts(String uid, String ip, String hostIp, String resourceVersion) {}

  public String cluster() {
    return cluster;
  }

  public String namespace() {
    return namespace;
  }

  public String name() {
    return key.substring(cluster.length() + namespace.length() + 2);
  }

  public String uid() {
    String u = uidText;
    if (u == null) {
      u = has(UUID) ? CompactValues.uuid(uidHigh, uidLow) : texts.uid();
      uidText = u;
    }
    return u;
  }

  public String service() {
    return service;
  }

  public String ip() {
    return has(IP4) ? CompactValues.ipv4(ip) : texts == null ? null : texts.ip();
  }

  public String hostIp() {
    return has(HOST_IP4) ? CompactValues.ipv4(hostIp) : texts == null ? null : texts.hostIp();
  }

  public int port() {
    return port;
  }

  public String node() {
    return node;
  }

  public Phase phase() {
    return phase;
  }

  public boolean ready() {
    return has(READY);
  }

  public boolean terminating() {
    return has(TERMINATING);
  }

  public int weight() {
    return weight;
  }

  public Map<String, String> options() {
    return options;
  }

  public Map<String, String> labels() {
    return labels;
  }

  public Map<String, String> annotations() {
    return annotations;
  }

  public String resourceVersion() {
    return has(RV) ? Long.toString(resourceVersion) : texts == null ? null : texts.resourceVersion();
  }

  public long createdAtMillis() {
    return createdAtMillis;
  }

  public long readySinceMillis() {
    return readySinceMillis;
  }

  public String rejection() {
    return rejection;
  }

  /** The key that orders all changes of one pod: {@code cluster/namespace/name}. */
  public String key() {
    return key;
  }

  public static String key(String cluster, String namespace, String name) {
    return cluster + '/' + namespace + '/' + name;
  }

  /**
   * The {@link #ip()} as an unsigned 32-bit value when it is a dotted IPv4 address, else -1; for
   * indexes, without building the string.
   */
  public long ipv4Bits() {
    return has(IP4) ? ip & 0xFFFF_FFFFL : -1;
  }

  /** {@code ip} as an unsigned 32-bit value when it is a dotted IPv4 address as written by Kubernetes, else -1. */
  public static long ipv4Bits(String ip) {
    return CompactValues.ipv4Bits(ip);
  }

  /** {@code ip:port}, the address registries publish; {@code null} when either part is missing. */
  public String address() {
    String a = addressText;
    if (a != null || port <= 0) {
      return a;
    }
    if (has(IP4)) {
      a = CompactValues.ipv4(ip) + ':' + port;
    } else {
      String text = texts == null ? null : texts.ip();
      a = text == null || text.isEmpty() ? null : text + ':' + port;
    }
    addressText = a;
    return a;
  }

  public boolean rejected() {
    return rejection != null;
  }

  /**
   * True when the two states differ in nothing a sink can act on: everything but the
   * resourceVersion is equal. A relist or a status heartbeat produces such pairs.
   */
  public boolean sameAs(PodState other) {
    return other != null
        && (flags & ~RV) == (other.flags & ~RV)
        && port == other.port
        && weight == other.weight
        && createdAtMillis == other.createdAtMillis
        && readySinceMillis == other.readySinceMillis
        && phase == other.phase
        && ip == other.ip
        && hostIp == other.hostIp
        && uidHigh == other.uidHigh
        && uidLow == other.uidLow
        && key.equals(other.key)
        && cluster.equals(other.cluster)
        && namespace.equals(other.namespace)
        && Objects.equals(service, other.service)
        && Objects.equals(node, other.node)
        && Objects.equals(rejection, other.rejection)
        && sameTexts(other)
        && options.equals(other.options)
        && labels.equals(other.labels)
        && annotations.equals(other.annotations);
  }

  @Override
  public boolean equals(Object o) {
    return o == this
        || o instanceof PodState other
        && sameAs(other)
        && (flags & RV) == (other.flags & RV)
        && resourceVersion == other.resourceVersion
        && Objects.equals(texts == null ? null : texts.resourceVersion(),
            other.texts == null ? null : other.texts.resourceVersion());
  }

  @Override
  public int hashCode() {
    int h = key.hashCode();
    h = 31 * h + Long.hashCode(uidHigh ^ uidLow);
    h = 31 * h + ip;
    h = 31 * h + Long.hashCode(resourceVersion);
    h = 31 * h + flags;
    h = 31 * h + port;
    h = 31 * h + phase.hashCode();
    h = 31 * h + Objects.hashCode(texts);
    h = 31 * h + Objects.hashCode(service);
    return h;
  }

  /** As the record it was: {@code PodState[cluster=..., ..., rejection=...]}. */
  @Override
  public String toString() {
    return "PodState[cluster=" + cluster + ", namespace=" + namespace + ", name=" + name()
        + ", uid=" + uid() + ", service=" + service + ", ip=" + ip() + ", hostIp=" + hostIp()
        + ", port=" + port + ", node=" + node + ", phase=" + phase + ", ready=" + ready()
        + ", terminating=" + terminating() + ", weight=" + weight + ", options=" + options
        + ", labels=" + labels + ", annotations=" + annotations + ", resourceVersion=" + resourceVersion()
        + ", createdAtMillis=" + createdAtMillis + ", readySinceMillis=" + readySinceMillis
        + ", rejection=" + rejection + "]";
  }

  private boolean has(int flag) {
    return (flags & flag) != 0;
  }

  private boolean names(String cluster, String namespace, String name) {
    int c = cluster.length();
    int n = namespace.length();
    return key.length() == c + n + 2 + name.length()
        && key.startsWith(cluster) && key.charAt(c) == '/'
        && key.startsWith(namespace, c + 1) && key.charAt(c + n + 1) == '/'
        && key.startsWith(name, c + n + 2);
  }

  private boolean sameTexts(PodState other) {
    Texts a = texts;
    Texts b = other.texts;
    if (a == null || b == null) {
      return (a == null || a.resourceVersion() != null && a.uid() == null && a.ip() == null && a.hostIp() == null)
          && (b == null || b.resourceVersion() != null && b.uid() == null && b.ip() == null && b.hostIp() == null);
    }
    return Objects.equals(a.uid(), b.uid()) && Objects.equals(a.ip(), b.ip()) && Objects.equals(a.hostIp(), b.hostIp());
  }
}

package io.k8ssync.sink;

import java.util.Map;

/** Builds PodStates for tests: a Running, Ready pod of service "web" at 10.0.0.1:8080 unless changed. */
public final class PodStates {

  private PodStates() {}

  public static PodState ready(String name, String ip) {
    return new PodState("c1", "ns", name, "uid-" + name, "web", ip, "192.168.0.1", 8080, "node-1",
        PodState.Phase.RUNNING, true, false, 1, Map.of(), Map.of(), Map.of(), "1", 0, 0, null);
  }

  public static PodState withReady(PodState p, boolean ready) {
    return copy(p, p.ip(), ready, p.terminating(), p.uid(), p.resourceVersion());
  }

  public static PodState withTerminating(PodState p) {
    return copy(p, p.ip(), p.ready(), true, p.uid(), p.resourceVersion());
  }

  public static PodState withIp(PodState p, String ip) {
    return copy(p, ip, p.ready(), p.terminating(), p.uid(), p.resourceVersion());
  }

  public static PodState withUid(PodState p, String uid) {
    return copy(p, p.ip(), p.ready(), p.terminating(), uid, p.resourceVersion());
  }

  public static PodState withVersion(PodState p, String rv) {
    return copy(p, p.ip(), p.ready(), p.terminating(), p.uid(), rv);
  }

  public static PodState withService(PodState p, String service) {
    return withServiceAndPort(p, service, p.port());
  }

  public static PodState withServiceAndPort(PodState p, String service, int port) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), service, p.ip(), p.hostIp(), port, p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }

  public static PodState withWeight(PodState p, int weight) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), weight, p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }

  public static PodState withLabels(PodState p, Map<String, String> labels) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), labels, p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }

  public static PodState withAnnotations(PodState p, Map<String, String> annotations) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), annotations, p.resourceVersion(),
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }

  /** Ready since {@code millis} (epoch), as the Ready condition's lastTransitionTime says. */
  public static PodState withReadySince(PodState p, long millis) {
    return new PodState(p.cluster(), p.namespace(), p.name(), p.uid(), p.service(), p.ip(), p.hostIp(), p.port(), p.node(),
        p.phase(), p.ready(), p.terminating(), p.weight(), p.options(), p.labels(), p.annotations(), p.resourceVersion(),
        p.createdAtMillis(), millis, p.rejection());
  }

  private static PodState copy(PodState p, String ip, boolean ready, boolean terminating, String uid, String rv) {
    return new PodState(p.cluster(), p.namespace(), p.name(), uid, p.service(), ip, p.hostIp(), p.port(), p.node(),
        p.phase(), ready, terminating, p.weight(), p.options(), p.labels(), p.annotations(), rv,
        p.createdAtMillis(), p.readySinceMillis(), p.rejection());
  }
}

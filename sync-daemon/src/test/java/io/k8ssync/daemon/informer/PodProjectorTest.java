package io.k8ssync.daemon.informer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class PodProjectorTest {

  private final PodProjector projector = new PodProjector("c1",
      new PodRules("app", Set.of("track"), Set.of("team"), 1));

  static Pod pod(Map<String, String> labels, Map<String, String> annotations) {
    return new PodBuilder().withNewMetadata().withName("web-1").withNamespace("shop").withUid("u-1")
        .withResourceVersion("42").withCreationTimestamp("2026-01-01T00:00:00Z")
        .withLabels(labels).withAnnotations(annotations).endMetadata()
        .withNewSpec().withNodeName("node-a")
        .addNewContainer().withName("main").addNewPort().withContainerPort(8080).endPort()
        .addNewPort().withContainerPort(9090).endPort().endContainer().endSpec()
        .withNewStatus().withPhase("Running").withPodIP("10.1.2.3").withHostIP("192.168.1.1")
        .addNewCondition().withType("Ready").withStatus("True").withLastTransitionTime("2026-01-01T00:01:00Z").endCondition()
        .endStatus().build();
  }

  @Test
  void projectsIdentityAddressAndReadiness() {
    PodState s = projector.project(pod(Map.of("app", "web", "track", "canary", "other", "x"), Map.of("team", "payments")));
    assertEquals("c1/shop/web-1", s.key());
    assertEquals("web", s.service());
    assertEquals("10.1.2.3:8080", s.address(), "the first container port");
    assertEquals("node-a", s.node());
    assertEquals(PodState.Phase.RUNNING, s.phase());
    assertTrue(s.ready());
    assertFalse(s.terminating());
    assertEquals(1, s.weight());
    assertEquals(Map.of("track", "canary"), s.labels(), "only kept labels");
    assertEquals(Map.of("team", "payments"), s.annotations());
    assertEquals("42", s.resourceVersion());
    assertEquals(1767225660000L, s.readySinceMillis());
    assertNull(s.rejection());
    assertTrue(Registration.desiredOnline(s));
  }

  /** What keeps a cached pod small: one key string per pod across updates, one copy of a label set. */
  @Test
  void sharesThePriorKeyAndEqualLabelMaps() {
    PodState first = projector.project(pod(Map.of("app", "web", "track", "stable"), Map.of("team", "payments")));
    PodState next = projector.project(pod(Map.of("app", "web", "track", "stable"), Map.of("team", "payments")), first);
    assertSame(first.key(), next.key());
    assertSame(first.labels(), next.labels());
    assertSame(first.annotations(), next.annotations());
    assertEquals(first, next);
    assertEquals("web-1", next.name());
  }

  @Test
  void annotationsOverrideServicePortAndSetOptions() {
    PodState s = projector.project(pod(Map.of("app", "web-canary"), Map.of(
        "k8s-sync.io/service", "web", "k8s-sync.io/port", "9090", "k8s-sync.io/weight", "5",
        "k8s-sync.io/max-fails", "3", "k8s-sync.io/fail-timeout", "10", "k8s-sync.io/backup", "true")));
    assertEquals("web", s.service(), "canary and stable share the service");
    assertEquals(9090, s.port());
    assertEquals(5, s.weight());
    assertEquals(Map.of("max-fails", "3", "fail-timeout", "10", "backup", "1"), s.options());
  }

  @Test
  void deletionTimestampMeansTerminatingAndOffline() {
    Pod p = new PodBuilder(pod(Map.of("app", "web"), Map.of())).editMetadata()
        .withDeletionTimestamp("2026-01-01T00:02:00Z").endMetadata().build();
    PodState s = projector.project(p);
    assertTrue(s.terminating());
    assertFalse(Registration.desiredOnline(s));
  }

  @Test
  void podWithoutServiceIsIgnoredNotRejected() {
    PodState s = projector.project(pod(Map.of(), Map.of()));
    assertNull(s.service());
    assertNull(s.rejection());
    assertFalse(Registration.desiredOnline(s));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "../etc", "a/b", "..", "web..x", "/abs", "a\\b", "web\nx", "web\u0000", "web x", "wéb", "服务",
      "-web", "web-", "web%2F", "web?x=1", "web#x", "web:80", "a'b", "a\"b", "${env:HOME}",
      "a1234567890123456789012345678901234567890123456789012345678901234567890"})
  void hostileServiceNamesAreRejectedAndNeverEchoed(String hostile) {
    PodState s = projector.project(pod(Map.of(), Map.of("k8s-sync.io/service", hostile)));
    assertNull(s.service(), "a rejected service never reaches a sink");
    assertNotNull(s.rejection());
    assertTrue(s.rejection().startsWith("service "), s.rejection());
    assertFalse(s.rejection().contains(hostile), "the reason does not repeat the value");
    assertFalse(Registration.desiredOnline(s));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "65536", "-1", "80a", " 80", "080", "1e3", "99999999999", ""})
  void badPortAnnotationRejectsThePod(String port) {
    PodState s = projector.project(pod(Map.of("app", "web"), Map.of("k8s-sync.io/port", port)));
    assertTrue(s.rejection().startsWith("k8s-sync.io/port "), s.rejection());
    assertFalse(Registration.desiredOnline(s));
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "101", "-5", "ten", "1.5"})
  void badWeightRejectsThePod(String weight) {
    PodState s = projector.project(pod(Map.of("app", "web"), Map.of("k8s-sync.io/weight", weight)));
    assertTrue(s.rejection().startsWith("k8s-sync.io/weight "), s.rejection());
  }

  @Test
  void badOptionsRejectThePod() {
    assertTrue(projector.project(pod(Map.of("app", "web"), Map.of("k8s-sync.io/backup", "yes"))).rejected());
    assertTrue(projector.project(pod(Map.of("app", "web"), Map.of("k8s-sync.io/max-fails", "1001"))).rejected());
  }

  @ParameterizedTest
  @ValueSource(strings = {"line\nbreak", "quote\"", "back\\slash", "tab\t", "ünïcode", "bell\u0007"})
  void keptAnnotationsWithControlOrQuoteCharactersRejectThePod(String value) {
    PodState s = projector.project(pod(Map.of("app", "web"), Map.of("team", value)));
    assertTrue(s.rejection().startsWith("annotation team "), s.rejection());
    assertFalse(s.rejection().contains(value));
  }

  @Test
  void overlongKeptAnnotationRejectsThePod() {
    PodState s = projector.project(pod(Map.of("app", "web"), Map.of("team", "x".repeat(10_000))));
    assertTrue(s.rejection().contains("longer than 256"), s.rejection());
  }

  @Test
  void serviceWithoutAnyPortIsRejected() {
    Pod p = new PodBuilder(pod(Map.of("app", "web"), Map.of())).editSpec().editFirstContainer()
        .withPorts().endContainer().endSpec().build();
    PodState s = projector.project(p);
    assertTrue(s.rejection().startsWith("port: "), s.rejection());
  }

  @Test
  void unreadyPendingPodWithoutIpIsKeptButOffline() {
    Pod p = new PodBuilder(pod(Map.of("app", "web"), Map.of())).withNewStatus().withPhase("Pending").endStatus().build();
    PodState s = projector.project(p);
    assertEquals(PodState.Phase.PENDING, s.phase());
    assertNull(s.ip());
    assertFalse(s.ready());
    assertNull(s.rejection());
  }

  @Test
  void sharedStringsAreInterned() {
    PodState a = projector.project(pod(Map.of("app", new String("web")), Map.of()));
    PodState b = projector.project(pod(Map.of("app", new String("web")), Map.of()));
    assertTrue(a.service() == b.service());
    assertTrue(a.namespace() == b.namespace());
    assertTrue(a.node() == b.node());
  }
}

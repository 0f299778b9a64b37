package io.k8ssync.daemon.informer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.k8ssync.daemon.testing.LogCapture;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Registration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * status.hostIP is informational: a malformed one is dropped, reported to the listener and logged
 * once per pod, and the pod stays registrable.
 */
class PodProjectorHostIpTest {

  private final List<String> dropped = new CopyOnWriteArrayList<>();
  private final PodProjector projector = new PodProjector("c1", new PodRules("app", Set.of(), Set.of(), 1),
      (cluster, field) -> dropped.add(cluster + ":" + field));

  private static Pod withHostIp(String hostIp, String resourceVersion) {
    return new PodBuilder(PodProjectorTest.pod(Map.of("app", "web"), Map.of()))
        .editMetadata().withResourceVersion(resourceVersion).endMetadata()
        .editStatus().withHostIP(hostIp).endStatus().build();
  }

  private static List<String> hostIpLines(LogCapture log) {
    return log.messages(Level.WARN).stream().filter(l -> l.contains("field=status.hostIP")).toList();
  }

  @ParameterizedTest
  @ValueSource(strings = {"node-a.example", "1.2.3", "300.1.1.1", "../etc", "1.2.3.4\n", "10.0.0.1/24", "ünï", "x12345678901234567890123456789012345678901234567890"})
  void invalidHostIpIsDroppedCountedAndLoggedButThePodIsKept(String hostIp) {
    try (LogCapture log = LogCapture.of(PodProjector.class)) {
      PodState s = projector.project(withHostIp(hostIp, "1"));
      assertNull(s.hostIp());
      assertNull(s.rejection(), "hostIP is informational: the pod is not rejected");
      assertEquals("10.1.2.3:8080", s.address());
      assertTrue(Registration.desiredOnline(s), "the pod still goes online");
      assertEquals(List.of("c1:hostIP"), dropped);
      List<String> lines = hostIpLines(log);
      assertEquals(1, lines.size(), lines.toString());
      assertTrue(lines.get(0).contains("cluster=c1 pod=shop/web-1 "), lines.get(0));
      assertFalse(lines.get(0).contains(hostIp), "the line never echoes the value");
    }
  }

  @Test
  void aPodIsReportedOnceUntilItsHostIpIsValidAgain() {
    try (LogCapture log = LogCapture.of(PodProjector.class)) {
      projector.project(withHostIp("bogus", "1"));
      projector.project(withHostIp("bogus", "2"));
      projector.project(withHostIp("bogus", "3"));
      assertEquals(1, dropped.size(), "updates and relists of the same pod do not count again");
      assertEquals(1, hostIpLines(log).size());

      assertEquals("192.168.7.7", projector.project(withHostIp("192.168.7.7", "4")).hostIp());
      projector.project(withHostIp("bogus", "5"));
      assertEquals(List.of("c1:hostIP", "c1:hostIP"), dropped, "broken again after a fix: reported again");
      assertEquals(2, hostIpLines(log).size());
    }
  }

  @Test
  void validOrMissingHostIpIsKeptWithoutReport() {
    assertEquals("192.168.1.1", projector.project(withHostIp("192.168.1.1", "1")).hostIp());
    assertEquals("fd00::1", projector.project(withHostIp("fd00::1", "2")).hostIp());
    assertNull(projector.project(withHostIp(null, "3")).hostIp());
    assertNull(projector.project(withHostIp("", "4")).hostIp());
    assertTrue(dropped.isEmpty(), dropped.toString());
  }

  @Test
  void theProjectorWithoutListenerStillDropsTheValue() {
    PodState s = new PodProjector("c1", new PodRules("app", Set.of(), Set.of(), 1)).project(withHostIp("bogus", "1"));
    assertNull(s.hostIp());
    assertNull(s.rejection());
  }
}

package io.k8ssync.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

/** PodState keeps some values in a compact form; every value must come back exactly as given. */
class PodStateCompactTest {

  private static PodState state(String uid, String ip, String hostIp, String resourceVersion) {
    return new PodState("prod", "default", "web-1", uid, "web", ip, hostIp, 8080, "node-1",
        PodState.Phase.RUNNING, true, false, 1, Map.of("weight", "5"), Map.of("version", "v1"),
        Map.of(), resourceVersion, 1_700_000_000_000L, 1_700_000_001_000L, null);
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"10.1.2.3", "0.0.0.0", "255.255.255.255", "1.0.0.1", "192.168.0.10",
      "fd00::1", "2001:db8::8a2e:370:7334", "::ffff:10.1.2.3", "", "010.1.2.3", "10.1.2", "10.1.2.3.4",
      "10.1.2.256", "10..2.3", "10.1.2.3 ", "-1.2.3.4", "1.2.3.4/32", "not-an-ip", "1.2.3.00"})
  void ipAndHostIpRoundTripExactly(String ip) {
    PodState s = state("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", ip, ip, "1");
    assertEquals(ip, s.ip());
    assertEquals(ip, s.hostIp());
    assertEquals(s, state("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", ip, ip, "1"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff", "8F0E1C2D-1C2D-4E5F-8A9B-00000001EF1F", "8f0e1c2d1c2d4e5f8a9b00000001ef1f",
      "", "uid-1", "8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1", "8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1fa",
      "8f0e1c2d-1c2d-4e5f-8a9b_00000001ef1f", "gf0e1c2d-1c2d-4e5f-8a9b-00000001ef1f"})
  void uidRoundTripsExactly(String uid) {
    PodState s = state(uid, "10.0.0.1", null, "1");
    assertEquals(uid, s.uid());
    assertEquals(s, state(uid, "10.0.0.1", null, "1"));
    assertEquals(s.hashCode(), state(uid, "10.0.0.1", null, "1").hashCode());
  }

  @Test
  void upperAndLowerCaseUidsStayDifferent() {
    PodState lower = state("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", "10.0.0.1", null, "1");
    PodState upper = state("8F0E1C2D-1C2D-4E5F-8A9B-00000001EF1F", "10.0.0.1", null, "1");
    assertNotEquals(lower, upper);
    assertFalse(lower.sameAs(upper));
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(strings = {"0", "1", "123456789", "999999999999999999", "9223372036854775807",
      "99999999999999999999999", "", "007", "-1", "+1", "12a", "1 ", "abc"})
  void resourceVersionRoundTripsExactly(String rv) {
    PodState s = state("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", "10.0.0.1", null, rv);
    assertEquals(rv, s.resourceVersion());
    assertEquals(s, state("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", "10.0.0.1", null, rv));
  }

  @Test
  void resourceVersionIsNotPartOfSameAsButOfEquals() {
    PodState a = state("u", "10.0.0.1", null, "1");
    PodState b = state("u", "10.0.0.1", null, "2");
    assertTrue(a.sameAs(b));
    assertNotEquals(a, b);
    assertFalse(a.sameAs(state("u", "10.0.0.2", null, "1")));
    assertFalse(a.sameAs(state("u", "10.0.0.1", "10.9.9.9", "1")));
    assertFalse(a.sameAs(state("v", "10.0.0.1", null, "1")));
  }

  @Test
  void everyAccessorReturnsWhatWasGiven() {
    PodState s = new PodState("c", "ns", "n", "8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", "svc", "10.1.2.3",
        "192.168.1.2", 80, "node", PodState.Phase.PENDING, false, true, 7, Map.of("a", "1"),
        Map.of("l", "2"), Map.of("x", "3"), "42", 5L, 6L, "why");
    assertEquals("c", s.cluster());
    assertEquals("ns", s.namespace());
    assertEquals("n", s.name());
    assertEquals("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f", s.uid());
    assertEquals("svc", s.service());
    assertEquals("10.1.2.3", s.ip());
    assertEquals("192.168.1.2", s.hostIp());
    assertEquals(80, s.port());
    assertEquals("node", s.node());
    assertEquals(PodState.Phase.PENDING, s.phase());
    assertFalse(s.ready());
    assertTrue(s.terminating());
    assertEquals(7, s.weight());
    assertEquals(Map.of("a", "1"), s.options());
    assertEquals(Map.of("l", "2"), s.labels());
    assertEquals(Map.of("x", "3"), s.annotations());
    assertEquals("42", s.resourceVersion());
    assertEquals(5L, s.createdAtMillis());
    assertEquals(6L, s.readySinceMillis());
    assertEquals("why", s.rejection());
    assertTrue(s.rejected());
    assertEquals("c/ns/n", s.key());
    assertEquals("10.1.2.3:80", s.address());
    assertEquals("PodState[cluster=c, namespace=ns, name=n, uid=8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f, service=svc, "
        + "ip=10.1.2.3, hostIp=192.168.1.2, port=80, node=node, phase=PENDING, ready=false, terminating=true, "
        + "weight=7, options={a=1}, labels={l=2}, annotations={x=3}, resourceVersion=42, createdAtMillis=5, "
        + "readySinceMillis=6, rejection=why]", s.toString());
  }

  @Test
  void addressNeedsIpAndPort() {
    assertEquals("fd00::1:8080", state("u", "fd00::1", null, "1").address());
    assertNull(state("u", null, null, "1").address());
    assertNull(state("u", "", null, "1").address());
    assertNull(new PodState("c", "ns", "n", "u", null, "10.0.0.1", null, 0, null, PodState.Phase.RUNNING,
        true, false, 1, null, null, null, "1", 0, 0, null).address());
  }

  @Test
  void nullMapsBecomeEmptyAndRequiredValuesAreChecked() {
    PodState s = new PodState("c", "ns", "n", "u", null, null, null, 0, null, PodState.Phase.UNKNOWN,
        false, false, 1, null, null, null, null, 0, 0, null);
    assertEquals(Map.of(), s.options());
    assertEquals(Map.of(), s.labels());
    assertEquals(Map.of(), s.annotations());
    assertThrows(NullPointerException.class, () -> new PodState("c", "ns", "n", null, null, null, null, 0,
        null, PodState.Phase.UNKNOWN, false, false, 1, null, null, null, null, 0, 0, null));
    assertThrows(NullPointerException.class, () -> new PodState(null, "ns", "n", "u", null, null, null, 0,
        null, PodState.Phase.UNKNOWN, false, false, 1, null, null, null, null, 0, 0, null));
    assertThrows(NullPointerException.class, () -> new PodState("c", "ns", "n", "u", null, null, null, 0,
        null, null, false, false, 1, null, null, null, null, 0, 0, null));
  }

  @Test
  void aNewStateOfTheSamePodSharesThePriorKey() {
    PodState prior = state("u", "10.0.0.1", null, "1");
    PodState next = new PodState(prior, "prod", "default", new String("web-1"), "u", "web", "10.0.0.2", null,
        8080, "node-1", PodState.Phase.RUNNING, true, false, 1, null, null, null, "2", 0, 0, null);
    assertSame(prior.key(), next.key());
    assertEquals("web-1", next.name());
    PodState other = new PodState(prior, "prod", "default", "web-2", "u", "web", "10.0.0.2", null,
        8080, "node-1", PodState.Phase.RUNNING, true, false, 1, null, null, null, "2", 0, 0, null);
    assertEquals("prod/default/web-2", other.key());
  }

  /** Issue 19: every holder of a pod's uid and address (progress, Events, registry sinks) shares one copy. */
  @Test
  void uidAndAddressAreOneCopyPerPodAcrossItsStates() {
    String uid = "8f0e1c2d-1c2d-4e5f-8a9b-00000001ef1f";
    PodState prior = state(uid, "10.0.0.1", null, "1");
    assertSame(prior.uid(), prior.uid());
    assertSame(prior.address(), prior.address());
    PodState next = new PodState(prior, "prod", "default", "web-1", new String(uid), "web", "10.0.0.1", null,
        8080, "node-1", PodState.Phase.RUNNING, false, false, 1, null, null, null, "2", 0, 0, null);
    assertSame(prior.uid(), next.uid());
    assertSame(prior.address(), next.address());
    assertEquals(next, new PodState("prod", "default", "web-1", uid, "web", "10.0.0.1", null,
        8080, "node-1", PodState.Phase.RUNNING, false, false, 1, null, null, null, "2", 0, 0, null));
    PodState moved = new PodState(next, "prod", "default", "web-1", "8f0e1c2d-1c2d-4e5f-8a9b-00000001ef20", "web", "10.0.0.2",
        null, 8080, "node-1", PodState.Phase.RUNNING, true, false, 1, null, null, null, "3", 0, 0, null);
    assertEquals("8f0e1c2d-1c2d-4e5f-8a9b-00000001ef20", moved.uid());
    assertEquals("10.0.0.2:8080", moved.address());
    PodState otherPort = new PodState(next, "prod", "default", "web-1", uid, "web", "10.0.0.1", null,
        9090, "node-1", PodState.Phase.RUNNING, true, false, 1, null, null, null, "4", 0, 0, null);
    assertEquals("10.0.0.1:9090", otherPort.address());
    assertSame(prior.uid(), otherPort.uid());
    PodState v6 = state(uid, "fd00::1", null, "1");
    assertEquals("fd00::1:8080", v6.address());
    assertEquals("fd00::2:8080", new PodState(v6, "prod", "default", "web-1", uid, "web", "fd00::2",
        null, 8080, "node-1", PodState.Phase.RUNNING, true, false, 1, null, null, null, "2", 0, 0, null).address());
  }

  @Test
  void ipv4BitsForIndexes() {
    assertEquals(0x0A010203L, state("u", "10.1.2.3", null, "1").ipv4Bits());
    assertEquals(0xFFFFFFFFL, state("u", "255.255.255.255", null, "1").ipv4Bits());
    assertEquals(-1L, state("u", "fd00::1", null, "1").ipv4Bits());
    assertEquals(-1L, state("u", null, null, "1").ipv4Bits());
    assertEquals(0x0A010203L, PodState.ipv4Bits("10.1.2.3"));
    assertEquals(-1L, PodState.ipv4Bits("010.1.2.3"));
    assertEquals(-1L, PodState.ipv4Bits(null));
  }
}

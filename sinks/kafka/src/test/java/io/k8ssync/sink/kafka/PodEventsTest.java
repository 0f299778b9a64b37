package io.k8ssync.sink.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.template.Template;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The hand-written CloudEvent writer renders byte for byte what the first renderer (StringBuilder
 * fields, Template.jsonEscape, labels through a TreeMap) did, which consumers and KafkaSinkTest read.
 * That renderer is kept below as the reference.
 */
class PodEventsTest {

  private static final Instant TIME = Instant.parse("2026-12-04T22:30:01.123456Z");

  @Test
  void writerRendersWhatTheReferenceRenders() {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put("z", "last");
    labels.put("app", "web \"quoted\" <b> & \\ back");
    labels.put("ctl", "tab\tnl\nnul\u0000 bell\u0007 sep\u2028\u2029 é ü 漢 \u007f");
    labels.put("empty", "");
    labels.put("astral", "\ud83d\ude80 rocket");
    labels.put("lone", "high \ud83d| low \ude80| at the end \ud83d");
    PodState odd = new PodState("c\"1", "ns<", "name>&", "uid-\u0001", null, null, null, 0, null, PodState.Phase.PENDING, false, true,
        0, Map.of(), labels, Map.of(), null, 0, 0, "label app: too long");
    PodState plain = new PodState("prod", "shop", "web-1", "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab", "web", "10.1.2.3", "192.168.0.7",
        8080, "node-1", PodState.Phase.RUNNING, true, false, 100, Map.of(), Map.of("app", "web", "version", "v2"), Map.of(), "123456",
        1_700_000_000_000L, 1_700_000_100_000L, null);
    // The same pod one change later, its strings equal but not the same objects (as the informer builds them).
    PodState next = new PodState(new String("prod"), new String("shop"), new String("web-1"), "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab",
        new String("web"), "10.1.2.4", null, 8080, new String("node-1"), PodState.Phase.RUNNING, false, false, 100, Map.of(),
        new TreeMap<>(Map.of("app", "web", "version", "v2")), Map.of(), "123457", 0, 0, null);
    // Values kept as given rather than compact: IPv6, an upper-case uid, a resourceVersion with a leading zero; extreme numbers.
    PodState kept = new PodState("prod", "shop", "web-1", "0F1E2D3C-AAAA-BBBB-CCCC-1234567890AB", "web", "fd00::1", null,
        Integer.MIN_VALUE, "node-1", PodState.Phase.UNKNOWN, true, false, -7, Map.of(), Map.of("app", "web", "version", "v2"), Map.of(),
        "0123", 0, 0, null);
    PodState edge = new PodState("prod", "shop", "web-2", "uid-2", "web", "0.0.0.0", null, Integer.MAX_VALUE, "node-1",
        PodState.Phase.FAILED, false, false, 0, Map.of(), Map.of(), Map.of(), "0", 0, 0, null);
    PodState top = new PodState("prod", "shop", "web-2", "uid-2", "web", "255.255.255.255", null, 1, "node-1",
        PodState.Phase.SUCCEEDED, false, false, 0, Map.of(), Map.of(), Map.of(), "999999999999999999", 0, 0, null);
    PodEvents.Writer writer = new PodEvents.Writer(TIME);
    for (PodChange c : new PodChange[] {PodChange.of(plain.key(), null, plain), PodChange.of(plain.key(), odd, plain),
        PodChange.of(odd.key(), plain, odd), PodChange.of(odd.key(), odd, null), PodChange.of(plain.key(), plain, next),
        PodChange.of(plain.key(), next, kept), PodChange.of(plain.key(), kept, plain), PodChange.of(edge.key(), edge, top),
        PodChange.of(edge.key(), top, null)}) {
      for (String type : new String[] {"io.k8ssync.pod.ready", "io.k8ssync.pod.address-changed", "we\"ird<type>", "io.k8ssync.pod.ready"}) {
        // What the producer sends is the reference's UTF-8 (StringSerializer's encoding, lone surrogates as '?').
        assertArrayEquals(reference(c, type, TIME).getBytes(StandardCharsets.UTF_8), writer.bytes(c, type), c + " " + type);
        assertEquals(c.latest().uid(), writer.uid(), "the record's key");
        assertEquals(new String(reference(c, type, TIME).getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8),
            PodEvents.json(c, type, TIME), c + " " + type);
      }
    }
  }

  // The first renderer, unchanged.

  private static String reference(PodChange c, String type, Instant time) {
    PodState p = c.latest();
    StringBuilder out = new StringBuilder(512).append('{');
    field(out, "specversion", "1.0").append(',');
    field(out, "id", PodEvents.id(c, type)).append(',');
    field(out, "source", "/k8s-sync/" + p.cluster()).append(',');
    field(out, "type", type).append(',');
    field(out, "subject", p.namespace() + "/" + p.name()).append(',');
    field(out, "time", time.toString()).append(',');
    field(out, "datacontenttype", "application/json").append(',');
    out.append("\"data\":{\"before\":");
    state(out, c.before());
    out.append(",\"after\":");
    state(out, c.after());
    return out.append("}}").toString();
  }

  private static void state(StringBuilder out, PodState p) {
    if (p == null) {
      out.append("null");
      return;
    }
    out.append('{');
    field(out, "cluster", p.cluster()).append(',');
    field(out, "namespace", p.namespace()).append(',');
    field(out, "name", p.name()).append(',');
    field(out, "uid", p.uid()).append(',');
    field(out, "service", p.service()).append(',');
    field(out, "ip", p.ip()).append(',');
    out.append("\"port\":").append(p.port()).append(',');
    field(out, "node", p.node()).append(',');
    field(out, "phase", p.phase().name()).append(',');
    out.append("\"ready\":").append(p.ready()).append(',');
    out.append("\"terminating\":").append(p.terminating()).append(',');
    out.append("\"weight\":").append(p.weight()).append(',');
    field(out, "resourceVersion", p.resourceVersion()).append(',');
    out.append("\"labels\":");
    out.append('{');
    boolean first = true;
    for (Map.Entry<String, String> e : new TreeMap<>(p.labels()).entrySet()) {
      if (!first) {
        out.append(',');
      }
      first = false;
      field(out, e.getKey(), e.getValue());
    }
    out.append('}');
    out.append('}');
  }

  private static StringBuilder field(StringBuilder out, String name, String value) {
    out.append('"').append(name).append("\":");
    return value == null ? out.append("null") : out.append('"').append(Template.jsonEscape(value)).append('"');
  }
}

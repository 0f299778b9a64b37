package io.k8ssync.sink.kafka;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Transition;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;

/**
 * Pod changes as CloudEvents 1.0 in the structured JSON format.
 *
 * <p>The shape is fixed, so it is written by hand as UTF-8 into one buffer per batch ({@link Writer},
 * {@link JsonBytes}): the event's constant parts are literals, the time is rendered once per batch.
 * Rendering was the sink's largest cost (JFR: a third of the samples). Escaping is
 * {@code Template.jsonEscape}'s: quote, backslash, control characters, {@code < > &} and U+2028/2029.
 */
final class PodEvents {

  private PodEvents() {}

  /** The CloudEvents type of a transition, or null when it is not emitted. */
  static String type(Transition t, boolean includeUpdated) {
    switch (t) {
      case ADDED: return "io.k8ssync.pod.added";
      case BECAME_READY: return "io.k8ssync.pod.ready";
      case BECAME_UNREADY: return "io.k8ssync.pod.unready";
      case TERMINATING: return "io.k8ssync.pod.terminating";
      case ADDRESS_CHANGED: return "io.k8ssync.pod.address-changed";
      case DELETED: return "io.k8ssync.pod.deleted";
      default: return includeUpdated ? "io.k8ssync.pod.updated" : null;
    }
  }

  /** Deterministic: the same change always has the same id, so consumers can drop duplicates. */
  static String id(PodChange c, String type) {
    PodState p = c.latest();
    return p.uid() + ":" + p.resourceVersion() + ":" + type.substring(type.lastIndexOf('.') + 1);
  }

  static String json(PodChange c, String type, Instant time) {
    return new Writer(time).json(c, type);
  }

  /**
   * Renders the events of one batch, all with the same time, as UTF-8 bytes the producer sends as
   * they are. Not thread-safe: one per batch (a worker's), its buffer reused from event to event.
   *
   * <p>Within one event a value is escaped once: the header's uid, resourceVersion, cluster,
   * namespace and name, and a field of {@code before} that {@code after} repeats (a change mostly
   * flips one or two fields), are copied from where they were first written. The latest state's uid
   * and resourceVersion, kept compact in {@link PodState} and rebuilt per call, are read once. Only
   * values whose form the type fixes skip the escape: numbers, booleans, the phase's enum name, and
   * an IP that {@link PodState#ipv4Bits()} holds as four octets; every string is escaped.
   */
  static final class Writer {

    private static final int CLUSTER = 0;
    private static final int NAMESPACE = 1;
    private static final int NAME = 2;
    private static final int UID = 3;
    private static final int SERVICE = 4;
    private static final int IP = 5;
    private static final int NODE = 6;
    private static final int RESOURCE_VERSION = 7;
    private static final int FIELDS = 8;

    private static final byte[] HEAD = JsonBytes.ascii("{\"specversion\":\"1.0\",\"id\":\"");
    private static final byte[] SOURCE = JsonBytes.ascii("\",\"source\":\"/k8s-sync/");
    private static final byte[] TYPE = JsonBytes.ascii("\",\"type\":");
    private static final byte[] SUBJECT = JsonBytes.ascii(",\"subject\":\"");
    private static final byte[] TIME = JsonBytes.ascii("\",\"time\":");
    private static final byte[] DATA = JsonBytes.ascii(",\"datacontenttype\":\"application/json\",\"data\":{\"before\":");
    private static final byte[] AFTER = JsonBytes.ascii(",\"after\":");
    private static final byte[] END = JsonBytes.ascii("}}");
    private static final byte[] NULL = JsonBytes.ascii("null");
    private static final byte[] S_CLUSTER = JsonBytes.ascii("{\"cluster\":");
    private static final byte[] S_NAMESPACE = JsonBytes.ascii(",\"namespace\":");
    private static final byte[] S_NAME = JsonBytes.ascii(",\"name\":");
    private static final byte[] S_UID = JsonBytes.ascii(",\"uid\":");
    private static final byte[] S_SERVICE = JsonBytes.ascii(",\"service\":");
    private static final byte[] S_IP = JsonBytes.ascii(",\"ip\":");
    private static final byte[] S_PORT = JsonBytes.ascii(",\"port\":");
    private static final byte[] S_NODE = JsonBytes.ascii(",\"node\":");
    private static final byte[] S_PHASE = JsonBytes.ascii(",\"phase\":");
    private static final byte[] S_READY = JsonBytes.ascii(",\"ready\":");
    private static final byte[] S_TERMINATING = JsonBytes.ascii(",\"terminating\":");
    private static final byte[] S_WEIGHT = JsonBytes.ascii(",\"weight\":");
    private static final byte[] S_RESOURCE_VERSION = JsonBytes.ascii(",\"resourceVersion\":");
    private static final byte[] S_LABELS = JsonBytes.ascii(",\"labels\":{");
    private static final byte[] TRUE = JsonBytes.ascii("true");
    private static final byte[] FALSE = JsonBytes.ascii("false");
    /** The phases' enum names, quoted: fixed ASCII identifiers. */
    private static final byte[][] PHASES = new byte[PodState.Phase.values().length][];

    static {
      for (PodState.Phase phase : PodState.Phase.values()) {
        PHASES[phase.ordinal()] = JsonBytes.ascii("\"" + phase.name() + "\"");
      }
    }

    private final byte[] time;
    private final JsonBytes out = new JsonBytes(1024);
    /** Per field, the value last written in this event and where its escaped form is. */
    private final String[] seen = new String[FIELDS];
    private final int[] from = new int[FIELDS];
    private final int[] to = new int[FIELDS];
    private Map<String, String> seenLabels;
    private int labelsFrom;
    private int labelsTo;
    private String type;
    private byte[] typeQuoted;
    private byte[] typeSuffix;
    private String uid;

    Writer(Instant time) {
      this.time = quoted(time.toString());
    }

    /** The event as a String; for tests and {@link PodEvents#json}. */
    String json(PodChange c, String type) {
      return new String(bytes(c, type), StandardCharsets.UTF_8);
    }

    /** The uid of the latest state of the last event rendered: the record's key. */
    String uid() {
      return uid;
    }

    byte[] bytes(PodChange c, String type) {
      PodState p = c.latest();
      out.reset();
      Arrays.fill(seen, null);
      seenLabels = null;
      if (type != this.type) {
        this.type = type;
        this.typeQuoted = quoted(type);
        JsonBytes suffix = new JsonBytes(32);
        suffix.escaped(type.substring(type.lastIndexOf('.') + 1));
        this.typeSuffix = suffix.toByteArray();
      }
      String id = p.uid();
      String version = p.resourceVersion();
      String name = p.name();
      this.uid = id;
      out.raw(HEAD);
      value(UID, id);
      out.raw(':');
      value(RESOURCE_VERSION, version);
      out.raw(':');
      out.raw(typeSuffix);
      out.raw(SOURCE);
      value(CLUSTER, p.cluster());
      out.raw(TYPE);
      out.raw(typeQuoted);
      out.raw(SUBJECT);
      value(NAMESPACE, p.namespace());
      out.raw('/');
      value(NAME, name);
      out.raw(TIME);
      out.raw(time);
      out.raw(DATA);
      state(c.before(), p, id, version, name);
      out.raw(AFTER);
      state(c.after(), p, id, version, name);
      out.raw(END);
      return out.toByteArray();
    }

    private void state(PodState s, PodState latest, String latestUid, String latestVersion, String latestName) {
      if (s == null) {
        out.raw(NULL);
        return;
      }
      boolean isLatest = s == latest;
      out.raw(S_CLUSTER);
      string(CLUSTER, s.cluster());
      out.raw(S_NAMESPACE);
      string(NAMESPACE, s.namespace());
      out.raw(S_NAME);
      string(NAME, isLatest ? latestName : s.name());
      out.raw(S_UID);
      string(UID, isLatest ? latestUid : s.uid());
      out.raw(S_SERVICE);
      string(SERVICE, s.service());
      out.raw(S_IP);
      long ip = s.ipv4Bits();
      if (ip >= 0) {
        out.raw('"');
        out.number((int) (ip >>> 24));
        out.raw('.');
        out.number((int) (ip >>> 16 & 255));
        out.raw('.');
        out.number((int) (ip >>> 8 & 255));
        out.raw('.');
        out.number((int) (ip & 255));
        out.raw('"');
      } else {
        string(IP, s.ip());
      }
      out.raw(S_PORT);
      out.number(s.port());
      out.raw(S_NODE);
      string(NODE, s.node());
      out.raw(S_PHASE);
      out.raw(PHASES[s.phase().ordinal()]);
      out.raw(S_READY);
      out.raw(s.ready() ? TRUE : FALSE);
      out.raw(S_TERMINATING);
      out.raw(s.terminating() ? TRUE : FALSE);
      out.raw(S_WEIGHT);
      out.number(s.weight());
      out.raw(S_RESOURCE_VERSION);
      string(RESOURCE_VERSION, isLatest ? latestVersion : s.resourceVersion());
      out.raw(S_LABELS);
      labels(s.labels());
      out.raw(END);
    }

    /** Labels sorted by key, as before; keys are escaped too (Kubernetes' key syntax leaves nothing to escape). */
    private void labels(Map<String, String> labels) {
      if (labels.isEmpty()) {
        return;
      }
      if (seenLabels != null && (seenLabels == labels || seenLabels.equals(labels))) {
        out.again(labelsFrom, labelsTo);
        return;
      }
      int start = out.position();
      String[] keys = labels.keySet().toArray(new String[0]);
      Arrays.sort(keys);
      for (int i = 0; i < keys.length; i++) {
        if (i > 0) {
          out.raw(',');
        }
        out.raw('"');
        out.escaped(keys[i]);
        out.raw('"');
        out.raw(':');
        String v = labels.get(keys[i]);
        if (v == null) {
          out.raw(NULL);
        } else {
          out.raw('"');
          out.escaped(v);
          out.raw('"');
        }
      }
      seenLabels = labels;
      labelsFrom = start;
      labelsTo = out.position();
    }

    /** A JSON string, or null. */
    private void string(int field, String value) {
      if (value == null) {
        out.raw(NULL);
      } else {
        out.raw('"');
        value(field, value);
        out.raw('"');
      }
    }

    /** The escaped text of a value ("null" when there is none), copied when this event already has it. */
    private void value(int field, String value) {
      if (value == null) {
        out.raw(NULL);
        return;
      }
      String before = seen[field];
      if (before != null && (before == value || before.equals(value))) {
        out.again(from[field], to[field]);
        return;
      }
      int start = out.position();
      out.escaped(value);
      seen[field] = value;
      from[field] = start;
      to[field] = out.position();
    }

    private static byte[] quoted(String value) {
      JsonBytes b = new JsonBytes(value.length() + 8);
      b.raw('"');
      b.escaped(value);
      b.raw('"');
      return b.toByteArray();
    }
  }
}

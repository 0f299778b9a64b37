package io.k8ssync.sink.upstream;

import io.k8ssync.sink.Interner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One server of an nginx upstream, in the JSON nginx-upsync reads from Consul KV or ZooKeeper:
 * {@code {"weight":1,"max_fails":2,"fail_timeout":10,"down":0,"backup":0}}. The module applies
 * weight and down changes in place, so draining a server is writing {@code "down":1}.
 */
public record UpsyncEntry(int weight, int maxFails, int failTimeout, boolean down, boolean backup) {

  /** Distinct entries shared, at most this many (a cluster's servers have a handful); others are built each time. */
  static final int SHARED = 1024;
  private static final Interner<UpsyncEntry> KEPT = new Interner<>(SHARED);

  private static final Pattern FIELD = Pattern.compile("\"(weight|max_fails|fail_timeout|down|backup)\"\\s*:\\s*(\\d{1,9})");

  public UpsyncEntry withDown(boolean d) {
    return of(weight, maxFails, failTimeout, d, backup);
  }

  /**
   * The entry with these fields, one instance shared by every server that has them (issue 19: a
   * reconcile pass over 100,000 servers held one per server for what it wants and one for what it
   * listed). Equal to {@code new UpsyncEntry(...)}.
   */
  public static UpsyncEntry of(int weight, int maxFails, int failTimeout, boolean down, boolean backup) {
    return KEPT.intern(new UpsyncEntry(weight, maxFails, failTimeout, down, backup));
  }

  /** The value as written: keys in the order nginx-upsync documents them. */
  public String toJson() {
    return "{\"weight\":" + weight + ",\"max_fails\":" + maxFails + ",\"fail_timeout\":" + failTimeout
        + ",\"down\":" + (down ? 1 : 0) + ",\"backup\":" + (backup ? 1 : 0) + "}";
  }

  /** Reads the fields nginx-upsync reads; missing ones take the module's defaults. */
  public static UpsyncEntry parse(String json) {
    int weight = 1;
    int maxFails = 2;
    int failTimeout = 10;
    boolean down = false;
    boolean backup = false;
    Matcher m = FIELD.matcher(json == null ? "" : json);
    while (m.find()) {
      int v = Integer.parseInt(m.group(2));
      switch (m.group(1)) {
        case "weight": weight = v; break;
        case "max_fails": maxFails = v; break;
        case "fail_timeout": failTimeout = v; break;
        case "down": down = v != 0; break;
        default: backup = v != 0;
      }
    }
    return of(weight, maxFails, failTimeout, down, backup);
  }
}

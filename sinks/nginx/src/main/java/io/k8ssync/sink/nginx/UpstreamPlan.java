package io.k8ssync.sink.nginx;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the files should say now: the upstreams of the ready pods, the servers that stopped being
 * wanted written {@code down} until their drain delay is over, and never an upstream without a
 * server (nginx refuses the whole config with an [emerg] for one): an upstream without a live server
 * gets the fallback server, or keeps the last servers written, down. A pure function of its inputs.
 *
 * @param blocks the upstreams to write, by name
 * @param draining servers ({@link #key}) written down because they are draining
 */
record UpstreamPlan(Map<String, UpstreamBlock> blocks, Set<String> draining) {

  /** A server's key: upstream and address. */
  static String key(String upstream, String address) {
    return upstream + " " + address;
  }

  /**
   * @param desired the live servers of the ready pods, by upstream and address
   * @param written the servers of the last confirmed reload, by upstream
   * @param drainDeadlines when each draining server (key) may go, for those written down already
   * @param fallback a fallback server line, or null
   */
  static UpstreamPlan of(Map<String, Map<String, ServerLine>> desired, Map<String, List<ServerLine>> written,
                         Map<String, Long> drainDeadlines, long nowMillis, Duration drainDelay, ServerLine fallback) {
    Set<String> names = new TreeSet<>(desired.keySet());
    names.addAll(written.keySet());
    Map<String, UpstreamBlock> blocks = new TreeMap<>();
    Set<String> draining = new TreeSet<>();
    for (String u : names) {
      Map<String, ServerLine> lines = new TreeMap<>(desired.getOrDefault(u, Map.of()));
      List<ServerLine> before = written.getOrDefault(u, List.of());
      if (!drainDelay.isZero()) {
        for (ServerLine w : before) {
          if (lines.containsKey(w.address())) {
            continue;
          }
          Long deadline = drainDeadlines.get(key(u, w.address()));
          boolean stillDraining = w.down() ? deadline != null && nowMillis < deadline : true;
          if (stillDraining) {
            lines.put(w.address(), w.withDown(true));
            draining.add(key(u, w.address()));
          }
        }
      }
      boolean live = lines.values().stream().anyMatch(ServerLine::live);
      boolean useFallback = !live && fallback != null;
      if (useFallback) {
        lines.put(fallback.address(), fallback);
        draining.remove(key(u, fallback.address()));
      } else if (!live && lines.values().stream().allMatch(ServerLine::backup)) {
        for (ServerLine w : before) {
          if (!w.backup()) {
            lines.putIfAbsent(w.address(), w.withDown(true));
          }
        }
        if (lines.values().stream().allMatch(ServerLine::backup)) {
          // Nothing to keep (never written, or only backups): an upstream of backups alone is an [emerg], so it is not written.
          continue;
        }
      }
      blocks.put(u, new UpstreamBlock(u, new ArrayList<>(lines.values()), !live, useFallback));
    }
    return new UpstreamPlan(blocks, draining);
  }

  /** The servers of every block, by upstream: what nginx holds once this plan is loaded. */
  Map<String, List<ServerLine>> servers() {
    Map<String, List<ServerLine>> out = new TreeMap<>();
    blocks.forEach((u, b) -> out.put(u, b.servers()));
    return out;
  }
}

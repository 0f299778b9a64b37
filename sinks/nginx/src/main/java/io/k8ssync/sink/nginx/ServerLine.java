package io.k8ssync.sink.nginx;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code server} line of an upstream block: {@code server 10.0.0.1:8080 weight=1 max_fails=2
 * fail_timeout=10s [backup] [down];}. {@code address} is as nginx reads it ({@code [v6]:port} for IPv6).
 */
record ServerLine(String address, int weight, int maxFails, int failTimeout, boolean backup, boolean down) {

  private static final Pattern LINE = Pattern.compile("\\s*server\\s+(\\S+)((?:\\s+[a-z_]+(?:=\\d+s?)?)*)\\s*;.*");
  private static final Pattern PARAM = Pattern.compile("([a-z_]+)(?:=(\\d+)s?)?");

  ServerLine withDown(boolean d) {
    return new ServerLine(address, weight, maxFails, failTimeout, backup, d);
  }

  /** Takes traffic: neither down nor only a backup. */
  boolean live() {
    return !down && !backup;
  }

  String render() {
    return "server " + address + " weight=" + weight + " max_fails=" + maxFails + " fail_timeout=" + failTimeout + "s"
        + (backup ? " backup" : "") + (down ? " down" : "") + ";";
  }

  /** A line this sink wrote, read back; null for anything else. */
  static ServerLine parse(String line) {
    Matcher m = LINE.matcher(line);
    if (!m.matches()) {
      return null;
    }
    int weight = 1;
    int maxFails = 1;
    int failTimeout = 10;
    boolean backup = false;
    boolean down = false;
    Matcher p = PARAM.matcher(m.group(2));
    while (p.find()) {
      String v = p.group(2);
      switch (p.group(1)) {
        case "weight": weight = v == null ? weight : Integer.parseInt(v); break;
        case "max_fails": maxFails = v == null ? maxFails : Integer.parseInt(v); break;
        case "fail_timeout": failTimeout = v == null ? failTimeout : Integer.parseInt(v); break;
        case "backup": backup = true; break;
        case "down": down = true; break;
        default: break;
      }
    }
    return new ServerLine(m.group(1), weight, maxFails, failTimeout, backup, down);
  }
}

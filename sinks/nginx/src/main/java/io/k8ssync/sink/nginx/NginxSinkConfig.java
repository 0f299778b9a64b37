package io.k8ssync.sink.nginx;

import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.template.Template;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The parsed config of one nginx sink. */
record NginxSinkConfig(
    String sink,
    Template upstream,
    int maxFails,
    int failTimeout,
    Duration drainDelay,
    Path directory,
    boolean singleFile,
    String fileName,
    List<String> header,
    String zoneSize,
    List<String> directives,
    String fallbackServer,
    Duration minWait,
    Duration maxWait,
    Duration minReloadInterval,
    Duration retryMaxDelay,
    Path nginx,
    Path mainConfig,
    Path prefix,
    Path pidFile,
    List<String> reloadCommand,
    Duration reloadTimeout,
    Path errorLog) {

  static NginxSinkConfig from(String sink, Config c) {
    List<String> header = new ArrayList<>();
    String h = c.getString("header");
    if (h != null && !h.isEmpty()) {
      h.lines().forEach(header::add);
    }
    return new NginxSinkConfig(sink, Template.parse(c.getString("upstream")), c.getInt("maxFails"), c.getInt("failTimeout"),
        c.getDuration("drainDelay"), Path.of(c.getString("directory")), c.getString("layout").equals("single"),
        c.getString("fileName"), List.copyOf(header), c.getString("zoneSize"), c.getList("directives"),
        c.getString("fallbackServer"), c.getDuration("minWait"), c.getDuration("maxWait"), c.getDuration("minReloadInterval"),
        c.getDuration("retryMaxDelay"), Path.of(c.getString("nginx")), Path.of(c.getString("mainConfig")),
        c.isSet("prefix") ? Path.of(c.getString("prefix")) : null, Path.of(c.getString("pidFile")), c.getList("reloadCommand"),
        c.getDuration("reloadTimeout"), c.isSet("errorLog") ? Path.of(c.getString("errorLog")) : null);
  }
}

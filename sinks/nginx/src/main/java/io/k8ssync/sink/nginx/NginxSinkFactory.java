package io.k8ssync.sink.nginx;

import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkContext;
import io.k8ssync.sink.SinkFactory;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.config.Validator;
import io.k8ssync.sink.template.Template;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The {@code nginx} sink: upstream include files for an nginx without the upsync module, rendered
 * from the ready pods, tested with {@code nginx -t}, swapped in atomically and reloaded, the reload
 * confirmed. It writes the files of the host it runs on, so it applies on every replica.
 */
public final class NginxSinkFactory implements SinkFactory {

  static final String NAME = "[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?";

  static final ConfigDef CONFIG = new ConfigDef()
      // The keys the registry sinks share (sinks/upstream UpstreamConfig): the same names, defaults and meaning.
      .define("upstream", ConfigDef.Type.STRING, "{service}", Template::problem,
          "upstream name template, e.g. {service} or {cluster}-{namespace}-{service}; the result must be [A-Za-z0-9._-]")
      .define("maxFails", ConfigDef.Type.INT, 2, Validator.between(0, 1000), "max_fails unless the pod sets k8s-sync.io/max-fails")
      .define("failTimeout", ConfigDef.Type.INT, 10, Validator.between(0, 3600), "fail_timeout (s) unless the pod sets k8s-sync.io/fail-timeout")
      .define("drainDelay", ConfigDef.Type.DURATION, Duration.ofSeconds(10),
          "how long a server stays written `down` (no new requests, in-flight ones finish) before it is removed from the file")
      .required("directory", ConfigDef.Type.STRING, NginxSinkFactory::writableDirectory,
          "the directory the include files are written to (the temp files and backups too: a rename is atomic only within one file system)")
      .define("layout", ConfigDef.Type.STRING, "perUpstream", Validator.oneOf("perUpstream", "single"),
          "perUpstream: one file <upstream>.conf per upstream; single: every upstream in one file, fileName")
      .define("fileName", ConfigDef.Type.STRING, "k8s-sync-upstreams.conf", Validator.matches(NAME + "\\.conf", "a file name ending in .conf"),
          "the file of the single layout")
      .define("header", ConfigDef.Type.STRING, null, Validator.matches("[^\\p{Cntrl}]*(\\n[^\\p{Cntrl}]*)*", "printable text (lines)"),
          "text written as comment lines at the top of each file, after the line that marks the file as this sink's")
      .define("zoneSize", ConfigDef.Type.STRING, "64k", Validator.matches("(\\d{1,6}[kKmM]?)?", "a size such as 64k or 1m, or empty for no zone"),
          "each upstream gets `zone <upstream> <size>;` (state shared by the workers), at least this size and grown with its"
              + " servers (1.25 KiB each, to the next power of two: servers that do not fit their zone are an [emerg]); empty: no zone line")
      .define("directives", ConfigDef.Type.STRING_LIST, java.util.List.of(),
          Validator.matches("[a-z_]+( [A-Za-z0-9._:=/-]+)*", "a directive such as least_conn or keepalive 16 (without ';')"),
          "extra directives written in every upstream block, e.g. [least_conn, keepalive 16]")
      .define("fallbackServer", ConfigDef.Type.STRING, null,
          Validator.matches("([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]{2,45}\\]):\\d{1,5}", "host:port"),
          "written into an upstream that has no server left (an nginx upstream may never be empty); unset: the last servers"
              + " written stay, marked down")
      .define("minWait", ConfigDef.Type.DURATION, Duration.ofSeconds(1),
          "render once changes have been quiet this long (consul-template's wait min)")
      .define("maxWait", ConfigDef.Type.DURATION, Duration.ofSeconds(3),
          "render at the latest this long after the first pending change, quiet or not (consul-template's wait max)")
      .define("minReloadInterval", ConfigDef.Type.DURATION, Duration.ofSeconds(2),
          "at most one reload this often: each reload starts a new generation of workers while the old ones finish their requests")
      .define("retryMaxDelay", ConfigDef.Type.DURATION, Duration.ofSeconds(30), Validator.durationAtLeast(Duration.ofSeconds(1)),
          "a failed test or reload is retried after 1s, doubling up to this, until it succeeds (the live file is kept meanwhile)")
      .define("nginx", ConfigDef.Type.STRING, "/usr/sbin/nginx", NginxSinkFactory::executable, "the nginx binary, for nginx -t and nginx -T")
      .define("mainConfig", ConfigDef.Type.STRING, "/etc/nginx/nginx.conf", Validator.readableFile(),
          "nginx's main config, which includes the files (nginx -t -c): the candidate is tested as nginx will load it")
      .define("prefix", ConfigDef.Type.STRING, null, Validator.matches("/.*", "an absolute path"),
          "nginx's prefix (-p), when it is not the compiled-in one")
      .define("pidFile", ConfigDef.Type.STRING, "/run/nginx.pid", Validator.matches("/.*", "an absolute path"),
          "the master's PID file, as the main config's `pid` says: the default reload signals this process, and every reload is"
              + " confirmed by a new generation of its workers")
      .define("reloadCommand", ConfigDef.Type.STRING_LIST, java.util.List.of(), Validator.matches("\\S+", "words without spaces"),
          "the reload command, e.g. [systemctl, reload, nginx]; empty (default): send SIGHUP to the master in pidFile")
      .define("reloadTimeout", ConfigDef.Type.DURATION, Duration.ofSeconds(10), Validator.durationAtLeast(Duration.ofMillis(100)),
          "how long nginx -t, the reload command and the confirmation (new workers) may each take")
      .define("errorLog", ConfigDef.Type.STRING, null, Validator.matches("/.*", "an absolute path"),
          "nginx's error log: what a failed reload wrote there ([emerg], [alert]) ends the wait for confirmation and goes into the log line")
      .check(c -> {
        if (c.getDuration("maxWait").compareTo(c.getDuration("minWait")) < 0) {
          throw new ConfigException(c.keyPath("maxWait"), "found " + c.getDuration("maxWait").toMillis() + "ms; expected at least minWait ("
              + c.getDuration("minWait").toMillis() + "ms)");
        }
      });

  @Override
  public String type() {
    return "nginx";
  }

  @Override
  public ConfigDef configDef() {
    return CONFIG;
  }

  @Override
  public boolean routesTraffic() {
    return true;
  }

  /** The files are this host's: a standby keeps its own nginx in step as well (leader election decides shared systems only). */
  @Override
  public boolean appliesOnEveryReplica() {
    return true;
  }

  @Override
  public Sink create(SinkContext context) {
    return new NginxSink(context, NginxSinkConfig.from(context.name(), context.config()));
  }

  private static String writableDirectory(Object v) {
    Path p = Path.of(String.valueOf(v));
    if (!p.isAbsolute()) {
      return "an absolute path of a directory";
    }
    if (!Files.isDirectory(p)) {
      return "an existing directory (no such directory)";
    }
    return Files.isWritable(p) ? null : "a directory this process can write (it cannot)";
  }

  private static String executable(Object v) {
    Path p = Path.of(String.valueOf(v));
    if (!p.isAbsolute()) {
      return "the absolute path of the nginx binary";
    }
    return Files.isExecutable(p) ? null : "an executable file (none there, or not executable)";
  }
}

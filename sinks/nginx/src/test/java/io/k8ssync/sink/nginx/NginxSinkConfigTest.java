package io.k8ssync.sink.nginx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.ConfigException;
import io.k8ssync.sink.upstream.UpstreamConfig;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NginxSinkConfigTest {

  @TempDir
  Path dir;

  private Map<String, Object> minimal() throws Exception {
    Path main = java.nio.file.Files.writeString(dir.resolve("nginx.conf"), "events {}\n");
    return new HashMap<>(Map.of("directory", dir.toString(), "mainConfig", main.toString(), "nginx", "/bin/true"));
  }

  @Test
  void theKeysItSharesWithTheRegistrySinksHaveTheirNamesDefaultsAndChecks() {
    Map<String, ConfigDef.Key> registry = new HashMap<>();
    UpstreamConfig.define(new ConfigDef()).keys().forEach(k -> registry.put(k.name(), k));
    for (String name : List.of("upstream", "maxFails", "failTimeout", "drainDelay")) {
      ConfigDef.Key ours = NginxSinkFactory.CONFIG.keys().stream().filter(k -> k.name().equals(name)).findFirst().orElseThrow();
      ConfigDef.Key theirs = registry.get(name);
      assertEquals(theirs.type(), ours.type(), name);
      assertEquals(theirs.defaultValue(), ours.defaultValue(), name);
    }
  }

  @Test
  void aBadValueNamesTheKeyTheValueAndWhatWasExpected() throws Exception {
    Map<String, Object> c = minimal();
    c.put("layout", "two");
    ConfigException e = assertThrows(ConfigException.class, () -> NginxSinkFactory.CONFIG.parse("sinks[0].config", c,
        ConfigDef.SecretReader.DEFAULT));
    assertEquals("config error at sinks[0].config.layout: found \"two\"; expected one of perUpstream, single", e.getMessage());

    Map<String, Object> d = minimal();
    d.put("directory", dir.resolve("missing").toString());
    e = assertThrows(ConfigException.class, () -> NginxSinkFactory.CONFIG.parse("sinks[0].config", d, ConfigDef.SecretReader.DEFAULT));
    assertTrue(e.getMessage().startsWith("config error at sinks[0].config.directory: found"), e.getMessage());
    assertTrue(e.getMessage().endsWith("expected an existing directory (no such directory)"), e.getMessage());

    Map<String, Object> w = minimal();
    w.put("minWait", "5s");
    w.put("maxWait", "1s");
    e = assertThrows(ConfigException.class, () -> NginxSinkFactory.CONFIG.parse("sinks[0].config", w, ConfigDef.SecretReader.DEFAULT));
    assertEquals("config error at sinks[0].config.maxWait: found 1000ms; expected at least minWait (5000ms)", e.getMessage());
  }

  @Test
  void itRoutesTrafficAndAppliesOnEveryReplica() {
    NginxSinkFactory f = new NginxSinkFactory();
    assertEquals("nginx", f.type());
    assertTrue(f.routesTraffic());
    assertTrue(f.appliesOnEveryReplica());
    assertFalse(NginxProcess.setsWorkerShutdownTimeout("events {}\n# worker_shutdown_timeout 10s;\n"));
    assertTrue(NginxProcess.setsWorkerShutdownTimeout("worker_shutdown_timeout 10s;\nevents {}\n"));
  }
}

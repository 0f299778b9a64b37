package io.k8ssync.daemon.ship;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;

/**
 * The jar that {@code run} ships (sync-daemon/target/k8s-sync.jar, also in the image and the release
 * tarball) carries no test infrastructure: it is attack surface and CVE-scanner noise in production.
 * The demo, which needs an in-process API server and ZooKeeper, lives in sync-daemon/demo.
 */
class ProductionJarIT {

  /** What must not ship, by the entry prefix that gives each away. */
  private static final Map<String, String> FORBIDDEN = Map.ofEntries(
      Map.entry("org/junit/", "JUnit"),
      Map.entry("junit/", "JUnit 4"),
      Map.entry("org/opentest4j/", "JUnit's assertion errors"),
      Map.entry("org/apache/curator/test/", "curator-test (TestingServer)"),
      Map.entry("org/apache/zookeeper/server/ZooKeeperServerMain.class", "the ZooKeeper server"),
      Map.entry("org/apache/zookeeper/server/quorum/QuorumPeerMain.class", "the ZooKeeper server"),
      Map.entry("org/apache/zookeeper/server/embedded/", "the embedded ZooKeeper server"),
      Map.entry("io/fabric8/mockwebserver/", "fabric8's mock web server"),
      Map.entry("io/fabric8/kubernetes/client/server/mock/", "fabric8's mock API server"),
      Map.entry("okhttp3/mockwebserver/", "OkHttp's mock web server"),
      Map.entry("io/k8ssync/daemon/demo/", "the demo"),
      Map.entry("io/k8ssync/demo/", "the demo"));

  @Test
  void theProductionJarHoldsNoTestInfrastructure() throws IOException {
    Path jar = Path.of(System.getProperty("k8ssync.jar", "target/k8s-sync.jar"));
    assertTrue(Files.isRegularFile(jar), jar + " is built by `./mvnw -pl sync-daemon -am package`");
    List<String> found = new ArrayList<>();
    try (JarFile j = new JarFile(jar.toFile())) {
      j.stream().map(ZipEntry::getName).forEach(name -> FORBIDDEN.forEach((prefix, what) -> {
        if (name.startsWith(prefix)) {
          found.add(what + ": " + name);
        }
      }));
      // Still runnable: the main class and the sinks found through ServiceLoader are there.
      assertEquals("io.k8ssync.daemon.Main", j.getManifest().getMainAttributes().getValue("Main-Class"));
      assertTrue(j.getEntry("META-INF/services/io.k8ssync.sink.SinkFactory") != null, "sink factories listed");
    }
    assertTrue(found.isEmpty(), found.size() + " test entries in " + jar + ", e.g. "
        + found.stream().distinct().limit(20).toList());
    System.out.printf("%s: %.1f MB%n", jar, Files.size(jar) / 1e6);
  }
}

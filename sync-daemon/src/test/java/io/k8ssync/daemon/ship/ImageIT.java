package io.k8ssync.daemon.ship;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.TestBed;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image, built from the Dockerfile by scripts/image.sh with buildah on the test bed's
 * Debian JRE base (public registries are out of reach here), and run with {@code buildah run
 * --isolation chroot} (podman run cannot set rlimits here). Its entrypoint is run as the image
 * declares it, as the image's user, with the host's network (chroot isolation has no namespaces).
 */
@ExtendWith(KubeApiServerExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImageIT {

  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
  private static final String IMAGE = "localhost/k8s-sync:it";
  private static String container;
  private static List<String> entrypoint;

  @BeforeAll
  static void buildImage() throws Exception {
    TestBed.binary(Path.of("/usr/bin/buildah"), "build-image-base.sh");
    String base = System.getenv().getOrDefault("BASE_IMAGE", "localhost/k8s-sync-jre:17-debian");
    Result inspect = exec(List.of("buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", base), Duration.ofSeconds(60));
    assertEquals(0, inspect.code, "base image " + base + " is missing: run scripts/testbed/build-image-base.sh"
        + " (scripts/test.sh runs it before the tests)\n" + inspect.out);
    long t0 = System.nanoTime();
    ProcessBuilder pb = new ProcessBuilder(REPO.resolve("scripts/image.sh").toString()).directory(REPO.toFile());
    pb.environment().put("SKIP_MAVEN", "1");
    pb.environment().put("JRE_IMAGE", base);
    pb.environment().put("IMAGE_TAG", IMAGE);
    Result build = exec(pb, Duration.ofMinutes(10));
    assertEquals(0, build.code, "scripts/image.sh\n" + build.out);
    System.out.printf("image built in %.1fs%n", (System.nanoTime() - t0) / 1e9);
    entrypoint = List.of(inspect("{{.OCIv1.Config.Entrypoint}}").replaceAll("^\\[|\\]$", "").split(" "));
    container = check(List.of("buildah", "from", "--pull=false", IMAGE)).strip();
  }

  /** Each run builds the image anew; removing it keeps a CI machine's storage from growing by a jar per run. */
  @AfterAll
  static void removeContainerAndImage() throws Exception {
    if (container != null) {
      exec(List.of("buildah", "rm", container), Duration.ofSeconds(60));
    }
    exec(List.of("buildah", "rmi", IMAGE), Duration.ofSeconds(60));
  }

  @Test
  @Order(1)
  void imageRunsAsNonRootWithoutAShellEntrypointAndReportsItsSize() throws Exception {
    assertEquals("10001:10001", inspect("{{.OCIv1.Config.User}}"));
    assertEquals("java", entrypoint.get(0), "exec form, no shell: " + entrypoint);
    assertEquals("[run --config /etc/k8s-sync/k8s-sync.yaml]", inspect("{{.OCIv1.Config.Cmd}}"));
    String size = check(List.of("buildah", "images", "--format", "{{.Size}}", IMAGE)).strip();
    System.out.println("image " + IMAGE + " size: " + size);
  }

  @Test
  @Order(2)
  void versionInTheImageIsTheJarsVersionAndItsLabels() throws Exception {
    Result image = run(List.of(), "--version");
    assertEquals(0, image.code, image.out);
    Result jar = exec(List.of("java", "-jar", REPO.resolve("sync-daemon/target/k8s-sync.jar").toString(), "--version"), Duration.ofMinutes(1));
    assertEquals(jar.out.strip(), lastLine(image.out));
    assertTrue(jar.out.contains("(commit " + inspect("{{index .OCIv1.Config.Labels \"org.opencontainers.image.revision\"}}")),
        "the revision label is the jar's commit: " + jar.out);
    assertTrue(jar.out.startsWith("k8s-sync " + inspect("{{index .OCIv1.Config.Labels \"org.opencontainers.image.version\"}}") + " "),
        jar.out);
  }

  @Test
  @Order(3)
  void validateAcceptsTheExampleConfigAndRejectsABadOneWithExit2(@TempDir Path dir) throws Exception {
    Result ok = run(List.of(), "validate", "--config", "/etc/k8s-sync/k8s-sync.yaml");
    assertEquals(0, ok.code, ok.out);
    assertTrue(ok.out.contains("config OK: /etc/k8s-sync/k8s-sync.yaml"), ok.out);

    Path conf = readable(dir.resolve("conf"));
    write(conf.resolve("bad.yaml"), "clusters: [{name: prod, resync: soon}]\nsinks: [{name: out, type: log}]\n");
    Result bad = run(List.of("--volume", conf + ":/etc/k8s-sync:ro"), "validate", "--config", "/etc/k8s-sync/bad.yaml");
    assertEquals(2, bad.code, bad.out);
    assertTrue(bad.out.contains("config error at clusters[0].resync: found \"soon\""), bad.out);
  }

  /**
   * A real run against the test bed's API server: /healthz and /readyz answer, a ready pod reaches
   * ZooKeeper through the image's client (the jar's ZooKeeper is trimmed of the server), the JVM runs
   * as uid 10001, SIGTERM stops it with exit 0, and nothing was written outside /tmp.
   */
  @Test
  @Order(4)
  void runAgainstTheRealApiServerAnswersHealthAndReadinessAndWritesOnlyTmp(KubeApi api, @TempDir Path dir) throws Exception {
    Path conf = readable(dir.resolve("conf"));
    write(conf.resolve("kubeconfig"), selfContained(api.kubeconfig()));
    int httpPort = TestBed.freePort();
    try (TestingServer zk = new TestingServer(true);
         KubernetesClient admin = api.client()) {
      write(conf.resolve("k8s-sync.yaml"), String.join("\n",
          "daemon: {http: {host: 127.0.0.1, port: " + httpPort + "}, shutdownTimeout: 5s}",
          "clusters: [{name: image, kubeconfig: /etc/k8s-sync/kubeconfig, namespaces: [default]}]",
          "sinks:",
          "  - {name: changes, type: log, config: {stream: stderr}}",
          "  - {name: zk, type: zookeeper, config: {connect: '" + zk.getConnectString() + "', drainDelay: 1s}}", ""));
      Path marker = Files.createTempFile(dir, "before-run", "");
      Files.setLastModifiedTime(marker, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 2000));
      Path log = dir.resolve("run.log");
      Process p = new ProcessBuilder(command(List.of("--volume", conf + ":/etc/k8s-sync:ro"), "run", "--config", "/etc/k8s-sync/k8s-sync.yaml"))
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      try {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
            .failFast(() -> assertTrue(p.isAlive(), () -> "the container exited: " + tail(log)))
            .until(() -> status("/healthz", httpPort) == 200 && status("/readyz", httpPort) == 200);

        ProcessHandle jvm = daemonJvm(p).orElseThrow(() -> new AssertionError("no daemon JVM under buildah run"));
        assertEquals("10001", uid(jvm.pid()), "the daemon's real uid");

        admin.pods().inNamespace("default").resource(TestPods.pending("default", "web-1", "web")).create();
        TestPods.markReady(admin, "default", "web-1", "10.1.0.7", true);
        try (CuratorFramework reader = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(100))) {
          reader.start();
          await().atMost(Duration.ofSeconds(60)).failFast(() -> assertTrue(p.isAlive(), () -> "the container exited: " + tail(log)))
              .until(() -> reader.checkExists().forPath("/nginx/upstreams/web/10.1.0.7:8080") != null);
        }

        jvm.destroy(); // SIGTERM, as the kubelet sends it
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped after SIGTERM: " + tail(log));
        assertEquals(0, p.exitValue(), "graceful stop: " + tail(log));
      } finally {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
      List<String> written = writtenOutsideTmp(marker);
      assertTrue(written.isEmpty(), "the image must run on a read-only root file system; written: " + written);
    }
  }

  // --- helpers ------------------------------------------------------------------------------------------------

  /** The kubeconfig with its certificate and key files inlined (*-data): the files are outside the container. */
  static String selfContained(String kubeconfig) throws IOException {
    StringBuilder out = new StringBuilder();
    java.util.regex.Matcher m = java.util.regex.Pattern
        .compile("(?m)^(\\s*)(certificate-authority|client-certificate|client-key): (\\S+)$").matcher(kubeconfig);
    while (m.find()) {
      String data = java.util.Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(m.group(3))));
      m.appendReplacement(out, m.group(1) + m.group(2) + "-data: " + data);
    }
    m.appendTail(out);
    return out.toString();
  }

  /** Files newer than {@code marker} in the container's root, outside /tmp and what buildah itself mounts. */
  private static List<String> writtenOutsideTmp(Path marker) throws Exception {
    String root = check(List.of("buildah", "mount", container)).strip();
    try (Stream<Path> files = Files.walk(Path.of(root))) {
      return files.filter(f -> !Files.isDirectory(f))
          .filter(f -> {
            try {
              return Files.getLastModifiedTime(f).compareTo(Files.getLastModifiedTime(marker)) > 0;
            } catch (IOException e) {
              return false;
            }
          })
          .map(f -> "/" + Path.of(root).relativize(f))
          .filter(f -> !f.startsWith("/tmp/") && !f.startsWith("/proc/") && !f.startsWith("/sys/") && !f.startsWith("/dev/"))
          .toList();
    } finally {
      exec(List.of("buildah", "umount", container), Duration.ofSeconds(60));
    }
  }

  /** The JVM itself, not buildah's chroot-exec parent, which carries the same arguments. */
  private static Optional<ProcessHandle> daemonJvm(Process buildahRun) {
    return buildahRun.descendants()
        .filter(h -> h.info().command().orElse("").endsWith("/java"))
        .filter(h -> h.info().arguments().map(a -> List.of(a).contains("/opt/k8s-sync/k8s-sync.jar")).orElse(false))
        .findFirst();
  }

  private static String uid(long pid) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("Uid:")) {
        return line.split("\\s+")[1];
      }
    }
    throw new AssertionError("no Uid line for " + pid);
  }

  private static List<String> command(List<String> runOptions, String... args) {
    List<String> cmd = new ArrayList<>(List.of("buildah", "run", "--isolation", "chroot"));
    cmd.addAll(runOptions);
    cmd.add(container);
    cmd.add("--");
    cmd.addAll(entrypoint);
    cmd.addAll(List.of(args));
    return cmd;
  }

  private static Result run(List<String> runOptions, String... args) throws Exception {
    return exec(command(runOptions, args), Duration.ofMinutes(2));
  }

  private static String inspect(String format) throws Exception {
    return check(List.of("buildah", "inspect", "--type", "image", "--format", format, IMAGE)).strip();
  }

  private static int status(String path, int port) {
    try {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  /** A folder the image's user (10001) can read, as a mounted ConfigMap would be. */
  private static Path readable(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(dir.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    return dir;
  }

  private static void write(Path file, String text) throws IOException {
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private static String lastLine(String text) {
    String[] lines = text.strip().split("\n");
    return lines[lines.length - 1].strip();
  }

  record Result(int code, String out) {}

  static String check(List<String> cmd) throws Exception {
    Result r = exec(cmd, Duration.ofMinutes(2));
    assertEquals(0, r.code, String.join(" ", cmd) + "\n" + r.out);
    return r.out;
  }

  static Result exec(List<String> cmd, Duration timeout) throws Exception {
    return exec(new ProcessBuilder(cmd), timeout);
  }

  static Result exec(ProcessBuilder pb, Duration timeout) throws Exception {
    Path out = Files.createTempFile("k8s-sync-exec", ".log");
    try {
      Process p = pb.redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new AssertionError(String.join(" ", pb.command()) + " did not finish in " + timeout + ":\n" + Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }
}

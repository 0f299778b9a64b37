package io.k8ssync.daemon.ship;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release tarball for systemd hosts (target/k8s-sync-&lt;version&gt;-systemd.tar.gz, built by the
 * same {@code ./mvnw install}): what it holds, its install.sh into a scratch root, the unit verified by
 * {@code systemd-analyze --root} against that installed layout, and the unit's own commands run.
 */
class ReleaseTarballIT {

  private static final Path TARGET = Path.of("target").toAbsolutePath();

  @Test
  void tarballInstallsWhereTheUnitLooksAndTheUnitVerifies(@TempDir Path dir) throws Exception {
    String version = System.getProperty("k8ssync.version");
    Path tarball = TARGET.resolve("k8s-sync-" + version + "-systemd.tar.gz");
    assertTrue(Files.isRegularFile(tarball), tarball + " is built by ./mvnw -pl sync-daemon -am package");
    System.out.printf("%s: %.1f MB%n", tarball, Files.size(tarball) / 1e6);

    Exec.Result untar = Exec.run(List.of("tar", "-xzf", tarball.toString(), "-C", dir.toString()), Duration.ofMinutes(1));
    assertEquals(0, untar.code(), untar.out());
    Path release = dir.resolve("k8s-sync-" + version);
    List<String> files;
    try (Stream<Path> s = Files.list(release)) {
      files = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    assertEquals(List.of("INSTALL.md", "OPERATIONS.md", "README.md", "install.sh", "k8s-sync-all-sinks.classlist",
        "k8s-sync.classlist", "k8s-sync.env.example", "k8s-sync.jar", "k8s-sync.service", "k8s-sync.yaml"), files);
    assertEquals(Files.size(TARGET.resolve("k8s-sync.jar")), Files.size(release.resolve("k8s-sync.jar")), "the shaded jar");
    assertTrue(Files.isExecutable(release.resolve("install.sh")));

    Path root = dir.resolve("root");
    Exec.Result install = Exec.run(List.of("env", "DESTDIR=" + root, release.resolve("install.sh").toString()), Duration.ofMinutes(1));
    assertEquals(0, install.code(), install.out());

    // The class list for several sinks is installed beside the default one (config/cds/README.md says how to switch).
    assertTrue(Files.exists(root.resolve("opt/k8s-sync/k8s-sync-all-sinks.classlist")), "the all-sinks class list is installed");

    // Every file the unit names exists in the installed tree.
    Path unit = root.resolve("etc/systemd/system/k8s-sync.service");
    String text = Files.readString(unit);
    Matcher m = Pattern.compile("(/(?:opt|etc)/k8s-sync/[^\\s]+)").matcher(text);
    List<String> named = new ArrayList<>();
    while (m.find()) {
      named.add(m.group(1));
    }
    assertTrue(named.contains("/opt/k8s-sync/k8s-sync.jar") && named.contains("/etc/k8s-sync/k8s-sync.yaml"), named.toString());
    for (String path : named) {
      assertTrue(Files.exists(root.resolve(path.substring(1))), path + " (named by the unit) is installed by install.sh");
    }

    // systemd-analyze verify against that tree: the host's unit folders for the targets the unit
    // orders itself after, and /usr/bin/java as a stub (a host prerequisite, not in the tarball).
    Path systemdUnits = Path.of("/usr/lib/systemd/system");
    assertTrue(Files.isDirectory(systemdUnits), "systemd is installed (scripts/check-ops.sh installs it)");
    Files.createDirectories(root.resolve("usr/lib/systemd"));
    assertEquals(0, Exec.run(List.of("cp", "-r", systemdUnits.toString(), root.resolve("usr/lib/systemd").toString()), Duration.ofMinutes(1)).code());
    Path java = root.resolve("usr/bin/java");
    Files.createDirectories(java.getParent());
    Files.writeString(java, "#!/bin/sh\nexit 0\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    Exec.Result verify = Exec.run(List.of("systemd-analyze", "--root=" + root, "verify", "/etc/systemd/system/k8s-sync.service"),
        Duration.ofMinutes(1));
    // systemd only warns about unknown keys and bad values: any output is a finding.
    assertEquals(0, verify.code(), verify.out());
    assertEquals("", verify.out().strip(), "systemd-analyze verify says nothing about a good unit");

    // The unit's ExecStartPre, with the tree's paths and this host's java: the installed example config validates.
    Matcher pre = Pattern.compile("(?m)^ExecStartPre=/usr/bin/java (.*)$").matcher(text);
    assertTrue(pre.find(), text);
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    for (String arg : pre.group(1).split(" ")) {
      cmd.add(arg.startsWith("/opt/k8s-sync/") || arg.startsWith("/etc/k8s-sync/") ? root.resolve(arg.substring(1)).toString() : arg);
    }
    Exec.Result validate = Exec.run(cmd, Duration.ofMinutes(1));
    assertEquals(0, validate.code(), validate.out());
    assertTrue(validate.out().startsWith("config OK"), validate.out());
  }
}

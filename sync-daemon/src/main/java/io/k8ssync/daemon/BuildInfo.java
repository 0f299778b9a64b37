package io.k8ssync.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * What this build is: the project version and the git commit, written at build time by
 * git-commit-id-maven-plugin into {@code io/k8ssync/daemon/build.properties}. The jar, the image and
 * the release tarball carry the same file, so {@code --version} says the same everywhere.
 */
public record BuildInfo(String version, String commit, boolean dirty, String commitTime) {

  private static final String RESOURCE = "/io/k8ssync/daemon/build.properties";

  /** This build's, or "unknown" fields when the classes were not built by Maven (an IDE run). */
  public static BuildInfo current() {
    Properties p = new Properties();
    try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("reading " + RESOURCE, e);
    }
    return new BuildInfo(p.getProperty("git.build.version", "unknown"), p.getProperty("git.commit.id.abbrev", "unknown"),
        Boolean.parseBoolean(p.getProperty("git.dirty", "false")), p.getProperty("git.commit.time", "unknown"));
  }

  /** One line, e.g. {@code k8s-sync 0.1.0 (commit 0123456789ab, committed 2026-12-04T19:00:00Z)}. */
  public String line() {
    return "k8s-sync " + version + " (commit " + commit + (dirty ? " with local changes" : "")
        + ", committed " + commitTime + ")";
  }
}

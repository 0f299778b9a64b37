package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where scripts/testbed/prepare.sh left the real servers the tests run against. The README's test
 * command runs that script first; a test started without it fails with a message saying so.
 */
public final class TestBed {

  private TestBed() {}

  /** The build cache outside the repo: {@code $K8S_SYNC_CACHE}, default {@code ~/.cache/k8s-sync}. */
  public static Path cache() {
    String env = System.getenv("K8S_SYNC_CACHE");
    return env != null && !env.isEmpty() ? Path.of(env) : Path.of(System.getProperty("user.home"), ".cache", "k8s-sync");
  }

  /** A built binary from the cache, or a clear failure naming the script that builds it. */
  public static Path binary(Path path, String builtBy) {
    if (!Files.isExecutable(path)) {
      throw new IllegalStateException(path + " is missing: run scripts/testbed/" + builtBy
          + " (scripts/test.sh runs it before the tests)");
    }
    return path;
  }

  /** A file the test bed scripts wrote, or a clear failure naming the script that writes it. */
  public static Path file(Path path, String writtenBy) {
    if (!Files.isRegularFile(path)) {
      throw new IllegalStateException(path + " is missing: run scripts/testbed/" + writtenBy
          + " (scripts/test.sh runs it before the tests)");
    }
    return path;
  }

  /** {@code n} distinct TCP ports free on loopback right now (held open together, so never the same twice). */
  public static int[] freePorts(int n) {
    ServerSocket[] held = new ServerSocket[n];
    try {
      int[] ports = new int[n];
      for (int i = 0; i < n; i++) {
        held[i] = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        ports[i] = held[i].getLocalPort();
      }
      return ports;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (ServerSocket s : held) {
        try {
          if (s != null) {
            s.close();
          }
        } catch (IOException e) {
          // closing a probe socket
        }
      }
    }
  }

  /** A TCP port free on loopback right now. */
  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

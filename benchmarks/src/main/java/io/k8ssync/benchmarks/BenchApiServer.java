package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.sink.testbed.TestBed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The test bed's etcd and kube-apiserver (scripts/testbed/build-k8s.sh), started here rather than
 * through kube-api-test so that etcd's data directory can outlive a run (150,000 pods take minutes
 * to create) and the API server takes raised in-flight limits. Same flags and certificates as
 * kube-api-test otherwise; the client certificate is in system:masters (exempt from priority and
 * fairness).
 */
final class BenchApiServer implements AutoCloseable {

  private final Path dir;
  private final Process etcd;
  private final Process apiServer;
  final Path kubeconfig;

  private BenchApiServer(Path dir, Process etcd, Process apiServer, Path kubeconfig) {
    this.dir = dir;
    this.etcd = etcd;
    this.apiServer = apiServer;
    this.kubeconfig = kubeconfig;
  }

  /** Starts both on {@code dir} (etcd's data in {@code dir/etcd}, kept), waits for /readyz. */
  static BenchApiServer start(Path dir) throws Exception {
    Path test = TestBed.cache().resolve("kubeapitest");
    String version = Files.readString(TestBed.file(TestBed.cache().resolve("kube-version"), "build-k8s.sh")).strip();
    Path bin = test.resolve("k8s").resolve(version + "-linux-amd64");
    Files.createDirectories(dir.resolve("certs"));
    for (String f : List.of("apiserver.crt", "apiserver.key", "client.crt", "client.key")) {
      Files.copy(TestBed.file(test.resolve(f), "build-k8s.sh"), dir.resolve("certs").resolve(f), StandardCopyOption.REPLACE_EXISTING);
    }
    Path certs = dir.resolve("certs");
    int etcdPort = freePort();
    int peerPort = freePort();
    int apiPort = freePort();
    Process etcd = new ProcessBuilder(TestBed.binary(bin.resolve("etcd"), "build-k8s.sh").toString(),
        "--name", "bench", "--data-dir", dir.resolve("etcd").toString(),
        "--listen-client-urls", "http://127.0.0.1:" + etcdPort, "--advertise-client-urls", "http://127.0.0.1:" + etcdPort,
        "--listen-peer-urls", "http://127.0.0.1:" + peerPort, "--initial-advertise-peer-urls", "http://127.0.0.1:" + peerPort,
        "--initial-cluster", "bench=http://127.0.0.1:" + peerPort,
        // 150,000 pods written twice (create, status) are ~2 GB of history before compaction: the 2 GB default is too small.
        "--quota-backend-bytes", String.valueOf(16L << 30), "--unsafe-no-fsync", "--log-level", "warn")
        .redirectErrorStream(true).redirectOutput(dir.resolve("etcd.log").toFile()).start();
    List<String> api = new ArrayList<>(List.of(TestBed.binary(bin.resolve("kube-apiserver"), "build-k8s.sh").toString(),
        "--cert-dir", certs.toString(), "--secure-port", String.valueOf(apiPort), "--bind-address", "127.0.0.1",
        "--etcd-servers", "http://127.0.0.1:" + etcdPort, "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://localhost",
        "--service-account-signing-key-file", certs.resolve("apiserver.key").toString(),
        "--service-account-key-file", certs.resolve("apiserver.key").toString(),
        "--disable-admission-plugins", "ServiceAccount", "--client-ca-file", certs.resolve("client.crt").toString(),
        "--service-cluster-ip-range", "10.0.0.0/24", "--allow-privileged",
        "--max-requests-inflight", "2000", "--max-mutating-requests-inflight", "1000", "-v", "0"));
    ProcessBuilder apiBuilder = new ProcessBuilder(api).redirectErrorStream(true).redirectOutput(dir.resolve("kube-apiserver.log").toFile());
    // Go's GC lets the heap grow to twice the live data: 150,000 pods took the API server past 7 GB of RSS while they were
    // created. A soft limit keeps it nearer its watch cache, on a machine shared with the measured JVMs.
    apiBuilder.environment().put("GOMEMLIMIT", System.getProperty("sync.apiServerMemoryLimit", "6GiB"));
    Process apiServer = apiBuilder.start();
    Path kubeconfig = dir.resolve("kubeconfig.yaml");
    Files.writeString(kubeconfig, String.join("\n",
        "apiVersion: v1", "kind: Config", "current-context: bench",
        "clusters: [{name: bench, cluster: {server: 'https://127.0.0.1:" + apiPort + "', certificate-authority: '"
            + certs.resolve("apiserver.crt") + "'}}]",
        "users: [{name: bench, user: {client-certificate: '" + certs.resolve("client.crt") + "', client-key: '"
            + certs.resolve("client.key") + "'}}]",
        "contexts: [{name: bench, context: {cluster: bench, user: bench}}]", ""));
    BenchApiServer server = new BenchApiServer(dir, etcd, apiServer, kubeconfig);
    server.awaitReady();
    return server;
  }

  KubernetesClient client() {
    try {
      Config config = Config.fromKubeconfig(null, Files.readString(kubeconfig), kubeconfig.toString());
      config.setRequestTimeout(120_000);
      return new KubernetesClientBuilder().withConfig(config).build();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void awaitReady() throws Exception {
    long deadline = System.nanoTime() + Long.getLong("sync.apiServerStartSeconds", 900) * 1_000_000_000L;
    Exception last = null;
    try (KubernetesClient c = client()) {
      while (System.nanoTime() < deadline) {
        if (!apiServer.isAlive() || !etcd.isAlive()) {
          throw new IllegalStateException("etcd or kube-apiserver exited; see " + dir + "/*.log");
        }
        try {
          if ("ok".equals(c.raw("/readyz"))) {
            return;
          }
        } catch (RuntimeException e) {
          last = e;
        }
        Thread.sleep(250);
      }
    }
    throw new IllegalStateException("kube-apiserver not ready in time (sync.apiServerStartSeconds); see " + dir + "/kube-apiserver.log", last);
  }

  long apiServerPid() {
    return apiServer.pid();
  }

  long etcdPid() {
    return etcd.pid();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    apiServer.destroy();
    apiServer.waitFor();
    etcd.destroy();
    etcd.waitFor();
  }
}

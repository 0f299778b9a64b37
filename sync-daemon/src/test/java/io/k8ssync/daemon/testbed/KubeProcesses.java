package io.k8ssync.daemon.testbed;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.sink.testbed.TestBed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * etcd and kube-apiserver processes run directly from the test bed's binaries, for tests that must
 * restart an API server while etcd keeps its data, or run a second API server on the same etcd
 * (kube-api-test wipes etcd when it stops a server). Authentication is a static admin token.
 */
public final class KubeProcesses implements AutoCloseable {

  /** One kube-apiserver process on a fixed port, restartable. */
  public final class ApiServer {
    private final int port = TestBed.freePort();
    private final Path certDir;
    private Process process;

    ApiServer() throws IOException {
      certDir = Files.createDirectories(work.resolve("apiserver-" + port));
    }

    public ApiServer start() {
      List<String> cmd = new ArrayList<>(List.of(binDir.resolve("kube-apiserver").toString(),
          "--etcd-servers=http://127.0.0.1:" + etcdPort,
          "--bind-address=127.0.0.1", "--secure-port=" + port, "--cert-dir=" + certDir,
          "--token-auth-file=" + tokenFile, "--authorization-mode=RBAC",
          "--service-account-issuer=https://kubernetes.default.svc", "--service-account-key-file=" + saKey,
          "--service-account-signing-key-file=" + saKey, "--service-cluster-ip-range=10.0.0.0/24",
          "--disable-admission-plugins=ServiceAccount", "--allow-privileged=true", "-v=0"));
      process = launch(cmd, "apiserver-" + port);
      try (KubernetesClient c = client()) {
        Awaitility.await("kube-apiserver on " + port).atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250))
            .ignoreExceptions().until(() -> {
              if (!process.isAlive()) {
                throw new IllegalStateException("kube-apiserver exited: " + tail("apiserver-" + port));
              }
              return c.namespaces().withName("default").get() != null;
            });
      }
      return this;
    }

    public void stop() {
      kill(process);
      process = null;
    }

    public String url() {
      return "https://127.0.0.1:" + port;
    }

    /** The admin token (test-only, generated per run). */
    public String token() {
      return token;
    }

    public KubernetesClient client() {
      Config config = new ConfigBuilder().withMasterUrl(url()).withOauthToken(token).withTrustCerts(true)
          .withRequestTimeout(10_000).build();
      return new KubernetesClientBuilder().withConfig(config).build();
    }
  }

  private final Path binDir;
  private final Path work;
  private final int etcdPort = TestBed.freePort();
  private final int etcdPeerPort = TestBed.freePort();
  private final String token = UUID.randomUUID().toString();
  private final Path tokenFile;
  private final Path saKey;
  private final List<ApiServer> apiServers = new ArrayList<>();
  private Process etcd;

  public KubeProcesses() throws Exception {
    String version = KubeApiServerExtension.kubeVersion();
    binDir = TestBed.cache().resolve("kubeapitest/k8s/" + version + "-linux-amd64");
    TestBed.binary(binDir.resolve("kube-apiserver"), "build-k8s.sh");
    work = Files.createTempDirectory("kube-processes");
    tokenFile = work.resolve("tokens.csv");
    Files.writeString(tokenFile, token + ",admin,admin,\"system:masters\"\n");
    saKey = work.resolve("sa.key");
    KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
    gen.initialize(2048);
    Files.writeString(saKey, "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(gen.generateKeyPair().getPrivate().getEncoded())
        + "\n-----END PRIVATE KEY-----\n");
  }

  public KubeProcesses startEtcd() {
    etcd = launch(List.of(binDir.resolve("etcd").toString(), "--name=default", "--data-dir=" + work.resolve("etcd"),
        "--listen-client-urls=http://127.0.0.1:" + etcdPort, "--advertise-client-urls=http://127.0.0.1:" + etcdPort,
        "--listen-peer-urls=http://127.0.0.1:" + etcdPeerPort, "--initial-advertise-peer-urls=http://127.0.0.1:" + etcdPeerPort,
        "--initial-cluster=default=http://127.0.0.1:" + etcdPeerPort, "--log-level=warn"), "etcd");
    return this;
  }

  /** A new API server on its own port, started. */
  public ApiServer startApiServer() throws IOException {
    ApiServer a = new ApiServer();
    apiServers.add(a);
    return a.start();
  }

  private Process launch(List<String> cmd, String name) {
    try {
      return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(work.resolve(name + ".log").toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start " + name, e);
    }
  }

  private String tail(String name) {
    try {
      String log = Files.readString(work.resolve(name + ".log"));
      return log.substring(Math.max(0, log.length() - 4000));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  private static void kill(Process p) {
    if (p == null) {
      return;
    }
    p.destroy();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    apiServers.forEach(ApiServer::stop);
    kill(etcd);
  }
}

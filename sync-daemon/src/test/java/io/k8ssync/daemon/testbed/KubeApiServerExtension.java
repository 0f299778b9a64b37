package io.k8ssync.daemon.testbed;

import io.fabric8.kubeapitest.KubeAPIServer;
import io.fabric8.kubeapitest.KubeAPIServerConfigBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.k8ssync.sink.testbed.TestBed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Starts a real kube-apiserver with etcd once per test class through io.fabric8:kube-api-test in
 * offline mode, on the binaries scripts/testbed/build-k8s.sh built. Test methods receive a
 * {@link KubeApi}. (kube-api-test's own annotation cannot turn offline mode on: it reads the
 * boolean from the environment with a cast that throws, so the server is configured here.)
 */
public final class KubeApiServerExtension implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

  /** A running API server: its kubeconfig and clients for it. */
  public record KubeApi(String kubeconfig) {
    public KubernetesClient client() {
      return new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(kubeconfig)).build();
    }
  }

  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KubeApiServerExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    KubeAPIServer server = newServer();
    try {
      server.start();
    } catch (io.fabric8.kubeapitest.KubeAPITestException e) {
      if (!LocalTime.now().isAfter(LocalTime.MIDNIGHT.minus(STARTUP_TIMEOUT).minusSeconds(5))) {
        throw e;
      }
      // kube-api-test 7.6.1 polls for readiness until LocalTime.now() + timeout, which wraps at midnight:
      // started in the last STARTUP_TIMEOUT of a day it gives up at once ("did not start properly", seen
      // at 23:58 UTC). Start again once the day has turned.
      server.stop();
      Awaitility.await("midnight, for kube-api-test's readiness poll").atMost(STARTUP_TIMEOUT.plusMinutes(1))
          .pollInterval(Duration.ofSeconds(1)).until(() -> LocalTime.now().isBefore(LocalTime.NOON));
      server = newServer();
      server.start();
    }
    context.getStore(NS).put("server", server);
    context.getStore(NS).put("api", new KubeApi(server.getKubeConfigYaml()));
  }

  private static final Duration STARTUP_TIMEOUT = Duration.ofMinutes(2);

  private static KubeAPIServer newServer() {
    return new KubeAPIServer(KubeAPIServerConfigBuilder.anAPIServerConfig()
        .withOfflineMode(true)
        .withTestDir(TestBed.cache().resolve("kubeapitest").toString())
        .withApiServerVersion(kubeVersion())
        .withStartupTimeout((int) STARTUP_TIMEOUT.toMillis())
        .build());
  }

  public static String kubeVersion() {
    Path versionFile = TestBed.cache().resolve("kube-version");
    TestBed.file(versionFile, "build-k8s.sh");
    try {
      return Files.readString(versionFile).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    KubeAPIServer server = context.getStore(NS).get("server", KubeAPIServer.class);
    if (server != null) {
      server.stop();
    }
  }

  @Override
  public boolean supportsParameter(ParameterContext p, ExtensionContext e) {
    return p.getParameter().getType() == KubeApi.class;
  }

  @Override
  public Object resolveParameter(ParameterContext p, ExtensionContext e) {
    return e.getStore(NS).get("api", KubeApi.class);
  }
}

package io.k8ssync.sink.zookeeper;

import io.k8ssync.sink.testbed.TestBed;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.server.NettyServerCnxnFactory;
import org.apache.zookeeper.server.ServerConfig;
import org.apache.zookeeper.server.ZooKeeperServerMain;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;

/**
 * A real standalone ZooKeeper server in this JVM that listens only on a TLS port on loopback.
 * curator-test's standalone server never opens a secureClientPort, so this runs ZooKeeper's own
 * {@link ZooKeeperServerMain}. ZooKeeper reads its server TLS settings from system properties
 * ({@code ssl.*} becomes {@code zookeeper.ssl.*}); they are restored when the server closes.
 */
final class TlsZooKeeperServer implements AutoCloseable {

  private final Properties savedSystemProperties = (Properties) System.getProperties().clone();
  private final CountDownLatch started = new CountDownLatch(1);
  private final Main main = new Main();
  private final Thread thread;
  private final int port = TestBed.freePort();
  private volatile Exception failure;

  /** @param ssl server TLS settings, e.g. {@code ssl.keyStore.location} */
  TlsZooKeeperServer(Path dataDir, Map<String, String> ssl) throws Exception {
    Properties p = new Properties();
    p.setProperty("dataDir", dataDir.toString());
    p.setProperty("secureClientPort", Integer.toString(port));
    p.setProperty("secureClientPortAddress", "127.0.0.1");
    p.setProperty("serverCnxnFactory", NettyServerCnxnFactory.class.getName());
    p.setProperty("admin.enableServer", "false");
    p.putAll(ssl);
    QuorumPeerConfig quorum = new QuorumPeerConfig();
    quorum.parseProperties(p);
    ServerConfig config = new ServerConfig();
    config.readFrom(quorum);
    thread = new Thread(() -> {
      try {
        main.runFromConfig(config);
      } catch (Exception e) {
        failure = e;
        started.countDown();
      }
    }, "zookeeper-tls");
    thread.setDaemon(true);
    thread.start();
    if (!started.await(30, TimeUnit.SECONDS) || failure != null) {
      close();
      throw new IllegalStateException("ZooKeeper with TLS did not start", failure);
    }
  }

  /** Where a TLS client connects: {@code 127.0.0.1:PORT}. */
  String connectString() {
    return "127.0.0.1:" + port;
  }

  @Override
  public void close() throws InterruptedException {
    main.stop();
    thread.join(Duration.ofSeconds(20).toMillis());
    System.setProperties(savedSystemProperties);
  }

  private final class Main extends ZooKeeperServerMain {
    @Override
    protected void serverStarted() {
      started.countDown();
    }

    void stop() {
      shutdown();
    }
  }
}

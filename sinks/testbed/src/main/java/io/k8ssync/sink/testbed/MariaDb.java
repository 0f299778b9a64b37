package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The MariaDB server that scripts/testbed/mariadb.sh installs from Debian's packages and starts on
 * 127.0.0.1:3306, with a database and user for tests only.
 */
public final class MariaDb {

  public static final String HOST = "127.0.0.1";
  public static final int PORT = 3306;
  public static final String DATABASE = "k8s_sync_test";
  public static final String USER = "k8s_sync";
  /** A test-only password for a loopback-only database; not a secret. */
  public static final String PASSWORD = "k8s_sync_test";

  /** A user that may only connect over TLS. */
  public static final String TLS_USER = "k8s_sync_tls";
  /** The CA that signed the server's certificate (scripts/testbed/mariadb.sh). */
  public static final String TLS_CA = "/etc/mysql/k8s-sync-test-tls/ca.pem";

  private MariaDb() {}

  public static String jdbcUrl() {
    return "jdbc:mariadb://" + HOST + ":" + PORT + "/" + DATABASE;
  }

  /** Fails with a clear message when the server is not there. */
  public static void requireRunning() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(HOST, PORT), 2_000);
    } catch (IOException e) {
      throw new IllegalStateException("MariaDB is not listening on " + HOST + ":" + PORT
          + ": run scripts/testbed/mariadb.sh (scripts/test.sh runs it before the tests)", e);
    }
  }
}

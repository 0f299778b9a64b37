package io.k8ssync.sink.testbed;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP relay in front of a real server, for outage tests: {@link #cut()} closes every
 * connection and refuses new ones, as a network partition or a server crash would look to the
 * client, and {@link #restore()} lets traffic through again. The server behind it keeps its data.
 */
public final class TcpProxy implements AutoCloseable {

  private final InetSocketAddress target;
  private final int port;
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private volatile ServerSocket server;

  public TcpProxy(String host, int targetPort) throws IOException {
    this.target = new InetSocketAddress(host, targetPort);
    this.port = TestBed.freePort();
    restore();
  }

  public int port() {
    return port;
  }

  public synchronized void restore() throws IOException {
    if (server != null) {
      return;
    }
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    server = s;
    Thread accept = new Thread(() -> {
      while (!s.isClosed()) {
        try {
          Socket client = s.accept();
          Socket upstream = new Socket();
          upstream.connect(target, 2_000);
          open.add(client);
          open.add(upstream);
          pump(client, upstream);
          pump(upstream, client);
        } catch (IOException e) {
          // closed by cut(), or the target refused: the client sees its connection drop
        }
      }
    }, "tcp-proxy-" + port);
    accept.setDaemon(true);
    accept.start();
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[16384];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // one side closed
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "tcp-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  /** Drops every connection and refuses new ones until {@link #restore()}. */
  public synchronized void cut() {
    closeQuietly(server);
    server = null;
    for (Socket s : open) {
      closeQuietly(s);
    }
    open.clear();
  }

  private static void closeQuietly(java.io.Closeable c) {
    try {
      if (c != null) {
        c.close();
      }
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() {
    cut();
  }
}

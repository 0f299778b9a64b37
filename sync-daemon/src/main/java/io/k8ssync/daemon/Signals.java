package io.k8ssync.daemon;

import sun.misc.Signal;

/**
 * Turns SIGTERM and SIGINT into a callback, so the daemon drains its queues and exits 0 instead of
 * the JVM's default exit 143. Falls back to a shutdown hook where signals cannot be handled.
 */
public final class Signals {

  private Signals() {}

  public static void onTermination(Runnable action) {
    try {
      Signal.handle(new Signal("TERM"), s -> action.run());
      Signal.handle(new Signal("INT"), s -> action.run());
    } catch (IllegalArgumentException | UnsupportedOperationException e) {
      Runtime.getRuntime().addShutdownHook(new Thread(action, "shutdown"));
    }
  }
}

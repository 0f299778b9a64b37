package io.k8ssync.daemon.ha;

import io.k8ssync.daemon.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One daemon process with leader election feeding {@link AllSystems}, as systemd or a Deployment would run it. */
record Replica(String identity, Process process, Path logFile) {

  /** @param lease extra {@code leaderElection} settings, e.g. {@code "leaseDuration: 4s"}; empty for the defaults */
  static Replica start(Path dir, String identity, Path kubeconfig, AllSystems all, String lease) throws IOException {
    Path config = dir.resolve(identity + ".yaml");
    Files.writeString(config, String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        "leaderElection: {enabled: true, namespace: " + all.ns + ", identity: " + identity
            + (lease.isEmpty() ? "" : ", " + lease) + "}",
        "clusters: [{name: real, kubeconfig: '" + kubeconfig + "', namespaces: [" + all.ns + "]}]",
        "dispatch: {retry: {baseDelay: 10ms, maxDelay: 500ms}}",
        all.sinksYaml));
    Path log = dir.resolve(identity + ".log");
    List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m"));
    // -Dreplica.jvmArgs: extra JVM flags for every replica (a profiler, say), {id} replaced by its identity.
    String extra = System.getProperty("replica.jvmArgs", "").trim();
    if (!extra.isEmpty()) {
      command.addAll(Arrays.asList(extra.replace("{id}", identity).split("\\s+")));
    }
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString()));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    return new Replica(identity, p, log);
  }

  String log() throws IOException {
    return Files.exists(logFile) ? Files.readString(logFile) : "";
  }

  boolean leads() throws IOException {
    return log().contains(identity + " is now the leader");
  }

  boolean standsBy() throws IOException {
    return log().contains(identity + " stands by");
  }

  /** SIGKILL: no drain, no Lease release. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }
}

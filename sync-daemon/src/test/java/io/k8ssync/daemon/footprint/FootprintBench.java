package io.k8ssync.daemon.footprint;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.k8ssync.daemon.testbed.KubeApiServerExtension;
import io.k8ssync.daemon.testbed.KubeApiServerExtension.KubeApi;
import io.k8ssync.daemon.testing.TestPods;
import io.k8ssync.sink.testbed.ConsulAgent;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon's footprint beside a Go peer (issue 19): the production jar, run as its own process with
 * one JVM flag set after another, against a real API server holding {@code -Dfootprint.pods} ready pods
 * (default 1,000) and a real Consul. Per flag set: the CPU-seconds and wall time from process start
 * until every pod is in Consul (start-up registration, JVM start included), then RSS sampled every
 * second while {@code -Dfootprint.rate} pods a second (default 20) flip readiness for
 * {@code -Dfootprint.seconds} (default 60). Flag sets come from {@code -Dfootprint.flags}, separated
 * by {@code |}, each {@code name=flags}; a flag of the form {@code NAME=value} is set in the environment, and
 * {@code @cds} in a flag stands for a class-data-sharing archive built for the jar from
 * {@code config/cds/k8s-sync.classlist}, as the Dockerfile builds it ({@code @cdslist=path} in the same set: from
 * that list instead; a relative path is from {@code sync-daemon/}, where the test runs). With
 * {@code -Dfootprint.sinks=all} the daemon runs the ZooKeeper, MySQL, Kafka and HTTP sinks beside Consul, each against
 * a real server ({@link OtherSinks}), and a start ends once every one wrote every pod. With
 * {@code -Dfootprint.inCluster=true} the daemon reaches the API server as in a pod (a service account's token,
 * KUBERNETES_SERVICE_HOST), not through a kubeconfig. {@code @jar=path} in a flag set runs that set on another build of the daemon (a
 * before beside an after, on the same pods). With {@code -Dfootprint.histogram=true} each set ends with
 * {@code jcmd GC.class_histogram} (a full collection first): the live heap is reported and the histogram
 * kept in {@code target/footprint-histo-<set>.txt}. Pods get addresses from 10.19.0.0/16 on, 64,000 a
 * /16, so 100,000 and more fit ({@code -Dfootprint.createThreads}, default 8, write them). {@code @page=N} in a
 * flag set lists the pods in pages of N (the cluster's {@code listPageSize}). With {@code -Dfootprint.flagsFile=path}
 * the sets are also read from that file, one a line, again after each set: sets appended while a run is under way
 * run on the same pods (creating 100,000 takes ~17 minutes). Run with
 * {@code scripts/bench.sh footprint}; it measures, it does not judge (tag "soak").
 */
@Tag("soak")
@ExtendWith(KubeApiServerExtension.class)
class FootprintBench {

  private static final String NS = "footprint";
  private static final String DEFAULT_FLAGS = String.join("|",
      "example env before #19=-Xms256m -Xmx512m -XX:+ExitOnOutOfMemoryError",
      "shipped=" + System.getProperty("footprint.shipped", ""));

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  @Timeout(value = 2, unit = TimeUnit.HOURS)
  void measureFootprint(KubeApi api, @TempDir Path dir) throws Exception {
    int pods = Integer.getInteger("footprint.pods", 1000);
    int seconds = Integer.getInteger("footprint.seconds", 60);
    int rate = Integer.getInteger("footprint.rate", 20);
    Path jar = Path.of(System.getProperty("footprint.jar", "target/k8s-sync.jar")).toAbsolutePath();
    boolean allSinks = "all".equals(System.getProperty("footprint.sinks", "consul"));
    if (!Files.isRegularFile(jar)) {
      throw new IllegalStateException("no production jar at " + jar + ": run ./mvnw -DskipTests install first");
    }
    StringBuilder report = new StringBuilder(String.format(
        "footprint: %d ready pods, churn %d changes/s for %d s, %s, production jar %s, cores=%d%n",
        pods, rate, seconds, allSinks ? "sinks consul, zookeeper, mysql, kafka, http" : "consul sink", jar.getFileName(),
        Runtime.getRuntime().availableProcessors()));
    boolean histogram = Boolean.getBoolean("footprint.histogram");
    report.append("| flags | start → all registered: wall s / CPU s | RSS after registration | RSS during churn: max / last | CPU s during churn |"
        + (histogram ? " live heap after full GC |" : "") + "\n");
    report.append("|---|---|---|---|---|" + (histogram ? "---|" : "") + "\n");
    try (ConsulAgent consul = ConsulAgent.started(); KubernetesClient client = api.client();
         OtherSinks others = allSinks ? new OtherSinks(dir) : null) {
      Path kubeconfig = dir.resolve("kubeconfig");
      Files.writeString(kubeconfig, api.kubeconfig());
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build()).create();
      createReadyPods(client, pods);
      if (Boolean.getBoolean("footprint.inCluster")) {
        inCluster(client, dir);
      }
      String file = System.getProperty("footprint.flagsFile");
      List<String> sets = new ArrayList<>(file != null ? setsAddedTo(Path.of(file), 0)
          : List.of(System.getProperty("footprint.flags", DEFAULT_FLAGS).split("\\|")));
      for (int i = 0; i < sets.size() || (file != null && sets.addAll(setsAddedTo(Path.of(file), sets.size()))); i++) {
        // With a flags file, sets appended to it while the pods exist run too (one set a line, read after each set).
        String set = sets.get(i);
        String name = set.substring(0, set.indexOf('='));
        String flags = set.substring(set.indexOf('=') + 1).strip();
        wipe(consul);
        if (others != null) {
          others.wipe();
        }
        try {
          report.append(measure(name, flags, jar, dir, kubeconfig, consul, others, client, pods, seconds, rate)).append('\n');
        } catch (Exception e) {
          // A set that runs out of heap (or never registers every pod) is a figure too; the next sets still run.
          String why = String.valueOf(e.getMessage());
          report.append(String.format("| %s: `%s` | failed: %s |%n", name, flags,
              why.substring(Math.max(0, why.length() - 300)).replaceAll("\\s+", " ")));
        }
        System.out.print(report);
        Files.writeString(Path.of("target/footprint-report.txt"), report.toString());
      }
    }
    System.out.print(report);
    Files.writeString(Path.of("target/footprint-report.txt"), report.toString());
  }

  /** The flag sets of {@code file} (one {@code name=flags} a line; blank lines and # comments skipped) after the first {@code done}. */
  private static List<String> setsAddedTo(Path file, int done) throws java.io.IOException {
    List<String> sets = Files.readAllLines(file).stream().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
    return sets.size() > done ? sets.subList(done, sets.size()) : List.of();
  }

  private String measure(String name, String flags, Path jar, Path dir, Path kubeconfig, ConsulAgent consul, OtherSinks others,
      KubernetesClient client, int pods, int seconds, int rate) throws Exception {
    Path config = dir.resolve("footprint.yaml");
    boolean inCluster = Boolean.getBoolean("footprint.inCluster");
    // @page=N: this set lists the pods in pages of that many (the cluster's listPageSize; default 500).
    String page = token(flags, "page");
    flags = withoutToken(flags, "page");
    String pageSize = page == null ? "" : ", listPageSize: " + page;
    Files.writeString(config, String.join("\n",
        "daemon: {http: {host: 127.0.0.1, port: 0}, shutdownTimeout: 5s}",
        inCluster ? "clusters: [{name: real, inCluster: true, namespaces: [" + NS + "]" + pageSize + "}]"
            : "clusters: [{name: real, kubeconfig: '" + kubeconfig + "', namespaces: [" + NS + "]" + pageSize + "}]",
        "sinks:",
        "  - {name: consul, type: consul, config: {url: '" + consul.url() + "'}}",
        others == null ? "" : String.join("\n", others.sinksYaml()),
        ""));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    Map<String, String> env = new java.util.HashMap<>();
    if (inCluster) {
      URI server = URI.create(client.getConfiguration().getMasterUrl());
      env.put("KUBERNETES_SERVICE_HOST", server.getHost());
      env.put("KUBERNETES_SERVICE_PORT", Integer.toString(server.getPort()));
      cmd.add("-Dkubernetes.auth.serviceAccount.token=" + dir.resolve("token"));
      cmd.add("-Dkubernetes.certs.ca.file=" + dir.resolve("ca.crt"));
    }
    // @jar=path: this set runs another build of the daemon; @cdslist=path: its archive comes from another class list
    // (e.g. the jar or the list before a change, beside the one after it).
    String ownJar = token(flags, "jar");
    jar = ownJar == null ? jar : Path.of(ownJar).toAbsolutePath();
    String ownList = token(flags, "cdslist");
    Path classList = ownList == null ? Path.of("..", "config", "cds", "k8s-sync.classlist").toAbsolutePath().normalize()
        : Path.of(ownList).toAbsolutePath();
    flags = withoutToken(withoutToken(flags, "jar"), "cdslist");
    if (flags.contains("@cds")) {
      flags = flags.replace("@cds", cdsArchive(jar, classList, dir).toString());
    }
    for (String flag : flags.isEmpty() ? new String[0] : flags.split("\\s+")) {
      if (flag.matches("[A-Z_]+=.*")) {
        env.put(flag.substring(0, flag.indexOf('=')), flag.substring(flag.indexOf('=') + 1)); // e.g. MALLOC_ARENA_MAX=2
      } else {
        cmd.add(flag);
      }
    }
    cmd.addAll(List.of("-jar", jar.toString(), "run", "--config", config.toString()));
    Path log = dir.resolve(name.replaceAll("\\W", "_") + ".log");
    long started = System.nanoTime();
    ProcessBuilder builder = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    builder.environment().putAll(env);
    Process p = builder.start();
    try {
      // Consul's listing of 100,000 keys takes a while to read: polled less often for more pods, and waited for longer.
      await("all " + pods + " pods in Consul" + (others == null ? "" : " and the other sinks") + " with flags " + flags).atMost(Duration.ofMinutes(Math.max(5, pods / 5_000)))
          // The other sinks' checks (ZooKeeper, MariaDB, Kafka's offsets, the gateway) are polled less often: on these two
          // cores each poll is CPU the daemon's start does not get.
          .pollInterval(Duration.ofMillis(Math.max(others == null ? 20 : 200, pods / 100)))
          .until(() -> {
            if (!p.isAlive()) {
              throw new IllegalStateException("daemon exited: " + Files.readString(log));
            }
            return upServers(consul) >= pods && (others == null || others.allWritten(pods));
          });
      double wall = (System.nanoTime() - started) / 1e9;
      double cpuAtStart = ProcStat.cpuSeconds(p.pid());
      long rssAfterStart = ProcStat.rssKib(p.pid());
      long rssMax = rssAfterStart;
      Random random = new Random(19);
      long churnStart = System.nanoTime();
      long next = churnStart;
      long end = churnStart + TimeUnit.SECONDS.toNanos(seconds);
      long nextSample = churnStart;
      boolean[] unready = new boolean[pods];
      while (System.nanoTime() < end) {
        int i = random.nextInt(pods);
        unready[i] = !unready[i];
        TestPods.markReady(client, NS, "pod-" + i, ip(i), !unready[i]);
        next += 1_000_000_000L / rate;
        if (System.nanoTime() >= nextSample) {
          rssMax = Math.max(rssMax, ProcStat.rssKib(p.pid()));
          nextSample += 1_000_000_000L;
        }
        long wait = next - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait); // pacing the load generator, not waiting for a condition
        }
      }
      long rssLast = ProcStat.rssKib(p.pid());
      if (flags.contains("NativeMemoryTracking")) {
        // Where the resident memory goes, by the JVM's own account (heap, class metadata, code, threads, GC).
        Path nmt = Path.of("target", "footprint-nmt-" + name.replaceAll("\\W", "_") + ".txt");
        new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(p.pid()),
            "VM.native_memory", "summary").redirectErrorStream(true).redirectOutput(nmt.toFile()).start().waitFor(60, TimeUnit.SECONDS);
      }
      double cpuChurn = ProcStat.cpuSeconds(p.pid()) - cpuAtStart;
      String heap = "";
      if (Boolean.getBoolean("footprint.histogram")) {
        // The live heap after a full collection (GC.class_histogram collects first), and what it is made of.
        Path histo = Path.of("target", "footprint-histo-" + name.replaceAll("\\W", "_") + ".txt");
        new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(), Long.toString(p.pid()),
            "GC.class_histogram").redirectErrorStream(true).redirectOutput(histo.toFile()).start().waitFor(120, TimeUnit.SECONDS);
        java.util.regex.Matcher total = java.util.regex.Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(Files.readString(histo));
        heap = total.find() ? String.format(" %.1f MiB |", Long.parseLong(total.group(1)) / 1048576.0) : " ? |";
      }
      for (int i = 0; i < pods; i++) {
        if (unready[i]) {
          TestPods.markReady(client, NS, "pod-" + i, ip(i), true);
        }
      }
      return String.format("| %s: `%s` | %.2f / %.2f | %d MiB | %d / %d MiB | %.1f |%s", name, flags.isEmpty() ? "(none)" : flags,
          wall, cpuAtStart, rssAfterStart / 1024, rssMax / 1024, rssLast / 1024, cpuChurn, heap);
    } finally {
      p.destroy();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      // Each set's log, kept for reading after the run (what the first reconcile pass did, say).
      Path logs = Files.createDirectories(Path.of("target", "footprint-logs"));
      Files.copy(log, logs.resolve(name.replaceAll("\\W", "_") + "-" + started + ".log"),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
  }

  private static void createReadyPods(KubernetesClient client, int pods) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(Integer.getInteger("footprint.createThreads", 8));
    try {
      List<java.util.concurrent.Future<?>> done = new ArrayList<>();
      IntStream.range(0, pods).forEach(i -> done.add(pool.submit(() -> {
        // The status is written on the created object (its resourceVersion): two requests a pod, not three.
        var created = client.pods().inNamespace(NS).resource(TestPods.scheduled(NS, "pod-" + i)).create();
        client.pods().inNamespace(NS).resource(TestPods.withReadyStatus(created, ip(i), true)).updateStatus();
        if (i % 10_000 == 9_999) {
          System.out.printf("footprint: %d pods created%n", i + 1);
        }
      })));
      for (var f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** A service account with a token and the API server's CA in files, as the kubelet mounts them in a pod. */
  private static void inCluster(KubernetesClient client, Path dir) throws Exception {
    client.serviceAccounts().inNamespace(NS).resource(new io.fabric8.kubernetes.api.model.ServiceAccountBuilder()
        .withNewMetadata().withName("k8s-sync").endMetadata().build()).create();
    client.rbac().clusterRoleBindings().resource(new io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder()
        .withNewMetadata().withName("footprint-k8s-sync").endMetadata()
        .withNewRoleRef().withApiGroup("rbac.authorization.k8s.io").withKind("ClusterRole").withName("cluster-admin").endRoleRef()
        .addNewSubject().withKind("ServiceAccount").withName("k8s-sync").withNamespace(NS).endSubject().build()).create();
    String token = client.serviceAccounts().inNamespace(NS).withName("k8s-sync").tokenRequest(
        new io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder().withNewSpec().withExpirationSeconds(86_400L)
            .endSpec().build()).getStatus().getToken();
    Files.writeString(dir.resolve("token"), token);
    String ca = client.getConfiguration().getCaCertData() != null
        ? new String(java.util.Base64.getDecoder().decode(client.getConfiguration().getCaCertData()), java.nio.charset.StandardCharsets.UTF_8)
        : Files.readString(Path.of(client.getConfiguration().getCaCertFile()));
    Files.writeString(dir.resolve("ca.crt"), ca);
  }

  /** The value of {@code @name=value} in a set's flags, or null. */
  private static String token(String flags, String name) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("@" + name + "=(\\S+)").matcher(flags);
    return m.find() ? m.group(1) : null;
  }

  /** The set's flags without {@code @name=value}. */
  private static String withoutToken(String flags, String name) {
    return flags.replaceFirst("@" + name + "=\\S+", "").strip();
  }

  /** The class-data-sharing archive the Dockerfile builds, for this jar, this class list and this JVM (once per run). */
  private static Path cdsArchive(Path jar, Path classList, Path dir) throws Exception {
    Path archive = dir.resolve("k8s-sync-" + Integer.toHexString((jar + " " + classList).hashCode()) + ".jsa");
    if (!Files.exists(archive)) {
      Process dump = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xshare:dump",
          "-XX:+UseSerialGC", "-XX:SharedClassListFile=" + classList, "-XX:SharedArchiveFile=" + archive, "-cp", jar.toString())
          .redirectErrorStream(true).redirectOutput(dir.resolve("cds-dump.log").toFile()).start();
      if (!dump.waitFor(5, TimeUnit.MINUTES) || dump.exitValue() != 0 || !Files.exists(archive)) {
        throw new IllegalStateException("no CDS archive: " + Files.readString(dir.resolve("cds-dump.log")));
      }
    }
    return archive;
  }

  /** Pod i's address: 64,000 per /16 from 10.19.0.0/16 on (10.20.0.0/16 from the 64,001st), as before for fewer. */
  private static String ip(int i) {
    int j = i % 64_000;
    return "10." + (19 + i / 64_000) + "." + (j / 250) + "." + (j % 250 + 1);
  }

  /** Servers of upstream web that nginx-upsync would route to (down:0), as Consul answers now. */
  private int upServers(ConsulAgent consul) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/?recurse")).build(),
        HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() == 404) {
      return 0;
    }
    int up = 0;
    for (var node : new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body())) {
      String value = new String(java.util.Base64.getDecoder().decode(node.path("Value").asText("")), java.nio.charset.StandardCharsets.UTF_8);
      if (value.contains("\"down\":0")) {
        up++;
      }
    }
    return up;
  }

  private void wipe(ConsulAgent consul) throws Exception {
    http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams?recurse")).DELETE().build(),
        HttpResponse.BodyHandlers.discarding());
  }
}

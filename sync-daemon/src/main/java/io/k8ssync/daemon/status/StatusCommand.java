package io.k8ssync.daemon.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code k8s-sync status}: asks a running daemon's status API and prints its answer as a table (or
 * as JSON with {@code --json}). Exit codes: 0 answered, 1 the daemon could not be reached or failed,
 * 2 bad usage or a query the daemon refused (its message is printed).
 */
public final class StatusCommand {

  static final String USAGE = String.join("\n",
      "usage: k8s-sync status [--url URL] [--service S] [--ip IP] [--namespace NS] [--name POD] [--q TEXT]",
      "                       [--state online|draining|offline|pending|failing|standby] [--sink NAME] [--limit N] [--json]",
      "  asks a running daemon (default --url http://127.0.0.1:9464) where pods stand in each sink");

  private static final Map<String, String> FILTERS = Map.of("--service", "service", "--ip", "ip", "--namespace", "namespace",
      "--name", "name", "--q", "q", "--state", "state", "--sink", "sink");

  private StatusCommand() {}

  /** Runs with the arguments after {@code status}. */
  public static int run(List<String> args, PrintStream out, PrintStream err) {
    String url = "http://127.0.0.1:9464";
    boolean json = false;
    int limit = 200;
    Map<String, String> filters = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--json")) {
        json = true;
      } else if (a.equals("--help") || a.equals("-h")) {
        out.println(USAGE);
        return 0;
      } else if (i + 1 >= args.size() || !(a.equals("--url") || a.equals("--limit") || FILTERS.containsKey(a))) {
        err.println("k8s-sync status: " + (FILTERS.containsKey(a) || a.equals("--url") || a.equals("--limit")
            ? a + " needs a value" : "unknown option " + io.k8ssync.sink.config.ConfigException.show(a)));
        err.println(USAGE);
        return 2;
      } else if (a.equals("--url")) {
        url = args.get(++i).replaceAll("/+$", "");
      } else if (a.equals("--limit")) {
        String v = args.get(++i);
        try {
          limit = Integer.parseInt(v);
        } catch (NumberFormatException e) {
          limit = -1;
        }
        if (limit < 1 || limit > 100_000) {
          err.println("k8s-sync status: --limit " + io.k8ssync.sink.config.ConfigException.show(v) + ": expected an integer from 1 to 100000");
          return 2;
        }
      } else {
        filters.put(FILTERS.get(a), args.get(++i));
      }
    }
    if (!url.startsWith("http://") && !url.startsWith("https://")) {
      err.println("k8s-sync status: --url " + io.k8ssync.sink.config.ConfigException.show(url)
          + ": expected the daemon's http address, such as http://127.0.0.1:9464");
      return 2;
    }
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    ObjectNode first = null;
    ArrayNode pods = StatusApi.JSON.createArrayNode();
    String token = null;
    do {
      StringBuilder q = new StringBuilder();
      filters.forEach((k, v) -> q.append(q.length() == 0 ? "?" : "&").append(k).append('=').append(enc(v)));
      q.append(q.length() == 0 ? "?" : "&").append("limit=").append(Math.min(PodQuery.MAX_LIMIT, limit - pods.size()));
      if (token != null) {
        q.append("&continue=").append(enc(token));
      }
      HttpResponse<String> r;
      try {
        r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/pods" + q)).timeout(Duration.ofSeconds(30)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
      } catch (IOException | IllegalArgumentException e) {
        err.println("k8s-sync status: cannot reach " + url + ": " + e.getMessage());
        return 1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 1;
      }
      JsonNode body;
      try {
        body = StatusApi.JSON.readTree(r.body());
      } catch (IOException e) {
        err.println("k8s-sync status: " + url + " answered " + r.statusCode() + " without JSON: is it a k8s-sync daemon with status.enabled?");
        return 1;
      }
      if (r.statusCode() != 200) {
        err.println("k8s-sync status: the daemon answered " + r.statusCode() + ": " + body.path("error").asText(r.body()));
        return r.statusCode() == 400 ? 2 : 1;
      }
      if (first == null) {
        first = (ObjectNode) body;
      }
      body.path("pods").forEach(pods::add);
      token = body.path("continue").isTextual() ? body.get("continue").asText() : null;
    } while (token != null && pods.size() < limit);
    first.set("pods", pods);
    first.remove("continue");
    if (token != null) {
      first.put("continue", token);
    }
    if (json) {
      out.println(first.toPrettyString());
    } else {
      print(first, out);
    }
    return 0;
  }

  private static void print(JsonNode body, PrintStream out) {
    JsonNode replica = body.path("replica");
    out.print("replica: " + replica.path("role").asText());
    if (replica.hasNonNull("identity")) {
      out.print(" (" + replica.get("identity").asText() + ")");
    }
    out.println(replica.path("dryRun").asBoolean() ? ", dry run" : "");
    if (replica.hasNonNull("note")) {
      out.println("note: " + replica.get("note").asText());
    }
    out.println();
    List<List<String>> sinks = new ArrayList<>();
    sinks.add(List.of("SINK", "TYPE", "HEALTH", "FAILURES", "QUEUE", "LAG"));
    List<String> names = new ArrayList<>();
    for (JsonNode s : body.path("sinks")) {
      names.add(s.path("name").asText());
      sinks.add(List.of(s.path("name").asText(), s.path("type").asText(), s.path("healthy").asBoolean() ? "healthy" : "FAILING",
          s.path("consecutiveFailures").asText(), s.path("queueDepth").asText() + "/" + s.path("queueCapacity").asText(),
          String.format(Locale.ROOT, "%.1fs", s.path("lagSeconds").asDouble())));
    }
    table(sinks, out);
    out.println();
    List<List<String>> rows = new ArrayList<>();
    List<String> head = new ArrayList<>(List.of("POD", "SERVICE", "IP", "PHASE"));
    names.forEach(n -> head.add(n.toUpperCase(Locale.ROOT)));
    rows.add(head);
    List<String> notes = new ArrayList<>();
    for (JsonNode p : body.path("pods")) {
      String pod = p.path("namespace").asText() + "/" + p.path("name").asText() + (p.path("gone").asBoolean() ? " (deleted)" : "");
      List<String> row = new ArrayList<>(List.of(pod, p.path("service").asText("-"), p.path("ip").asText("-"),
          p.path("phase").asText().toLowerCase(Locale.ROOT) + (p.path("ready").asBoolean() ? ",ready" : "")));
      for (String n : names) {
        JsonNode in = p.path("sinks").path(n);
        String state = in.path("state").asText("-");
        row.add(state.equals("pending") ? "pending " + in.path("want").asText() : state);
        if (in.hasNonNull("lastError")) {
          notes.add("  " + pod + " in " + n + ": " + (in.has("attempts") ? in.get("attempts").asText() + " attempts: " : "")
              + in.get("lastError").asText());
        }
      }
      if (p.hasNonNull("rejection")) {
        notes.add("  " + pod + " rejected: " + p.get("rejection").path("field").asText() + " " + p.get("rejection").path("reason").asText());
      }
      rows.add(row);
    }
    table(rows, out);
    out.println();
    out.println(body.path("pods").size() + " of " + body.path("matched").asText() + " matching pods shown"
        + (body.has("continue") ? " (raise --limit for more)" : ""));
    if (!notes.isEmpty()) {
      out.println("errors and rejections:");
      notes.forEach(out::println);
    }
  }

  private static void table(List<List<String>> rows, PrintStream out) {
    int[] width = new int[rows.get(0).size()];
    for (List<String> r : rows) {
      for (int i = 0; i < r.size(); i++) {
        width[i] = Math.max(width[i], r.get(i).length());
      }
    }
    for (List<String> r : rows) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < r.size(); i++) {
        b.append(i == r.size() - 1 ? r.get(i) : String.format("%-" + (width[i] + 2) + "s", r.get(i)));
      }
      out.println(b.toString().stripTrailing());
    }
  }

  private static String enc(String v) {
    return URLEncoder.encode(v, StandardCharsets.UTF_8);
  }
}

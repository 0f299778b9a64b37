package io.k8ssync.sink.upstream;

import io.k8ssync.sink.config.Config;
import io.k8ssync.sink.config.ConfigDef;
import io.k8ssync.sink.config.Validator;
import io.k8ssync.sink.template.Template;
import java.time.Duration;

/** The keys every nginx-upsync registry sink shares (ZooKeeper, Consul), and their parsed form. */
public record UpstreamConfig(Template upstream, int maxFails, int failTimeout, Duration drainDelay,
                             Duration reconcileEvery, double massRemovalShare, Owner owner) {

  /** Adds the shared keys to a sink's ConfigDef. */
  public static ConfigDef define(ConfigDef def) {
    return def
        .define("upstream", ConfigDef.Type.STRING, "{service}", Template::problem,
            "upstream name template, e.g. {service} or {cluster}-{namespace}-{service}; the result must be [A-Za-z0-9._-]")
        .define("maxFails", ConfigDef.Type.INT, 2, Validator.between(0, 1000), "max_fails unless the pod sets k8s-sync.io/max-fails")
        .define("failTimeout", ConfigDef.Type.INT, 10, Validator.between(0, 3600), "fail_timeout (s) unless the pod sets k8s-sync.io/fail-timeout")
        .define("drainDelay", ConfigDef.Type.DURATION, Duration.ofSeconds(10), "how long a server stays with down:1 before it is deleted")
        .define("reconcileEvery", ConfigDef.Type.DURATION, Duration.ofSeconds(30),
            "compare the registry with the pods this often (and once at start, after the initial list); 0: only at start")
        .define("massRemovalShare", ConfigDef.Type.DOUBLE, 0.5,
            v -> (Double) v > 0 && (Double) v <= 1 ? null : "a share above 0 and at most 1",
            "a reconcile pass that would remove more than this share of an upstream's servers holds them until the next pass agrees")
        .define("ownerId", ConfigDef.Type.STRING, null, Validator.matches(Owner.PATTERN, "a lowercase name of letters, digits and '-' (at most 63)"),
            "owner of the entries this sink writes, when daemons that share a cluster name share the registry (one per team or"
                + " namespace): each sets its own; unset, the cluster name, which entries written before this key carry."
                + " Entries of another owner are never changed or removed");
  }

  public static UpstreamConfig from(Config c) {
    return new UpstreamConfig(Template.parse(c.getString("upstream")), c.getInt("maxFails"), c.getInt("failTimeout"),
        c.getDuration("drainDelay"), c.getDuration("reconcileEvery"), c.getDouble("massRemovalShare"),
        new Owner(c.getString("ownerId")));
  }
}

package io.k8ssync.daemon.rollout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class PodProgressTest {

  static PodState pod(String cluster, String name, String uid, long created) {
    return new PodState(cluster, "ns", name, uid, "web", "10.0.0.1", null, 8080, "n", PodState.Phase.RUNNING, true, false,
        1, null, null, null, "1", created, created, null);
  }

  @Test
  void keepsTheNewestIncarnationCountsFailuresAndRemembersWhenAPodWentOffline() {
    AtomicLong nanos = new AtomicLong(100);
    PodProgress progress = new PodProgress(nanos::get, () -> 5_000);
    List<String> told = new ArrayList<>();
    progress.addListener((key, sink) -> told.add(sink + " " + key));
    Progress reg = progress.forSink("reg");
    PodState old = pod("c", "web-0", "uid-1", 1_000);
    PodState fresh = pod("c", "web-0", "uid-2", 2_000);

    reg.failing(old, "HTTP 503");
    reg.failing(old, "HTTP 503");
    assertEquals(2, progress.get("reg", old.key()).attempts());
    reg.online(old);
    assertEquals(0, progress.get("reg", old.key()).attempts());
    reg.online(fresh);
    reg.offline(old); // late word about the incarnation that is gone
    assertEquals("uid-2", progress.get("reg", old.key()).uid());
    assertEquals(PodProgress.State.ONLINE, progress.get("reg", old.key()).state());

    reg.draining(fresh);
    nanos.set(900);
    reg.offline(fresh);
    PodProgress.Entry e = progress.get("reg", fresh.key());
    assertTrue(e.wasOnline());
    assertEquals(900, e.offlineAtNanos());
    nanos.set(2_000);
    reg.offline(fresh);
    assertEquals(900, progress.get("reg", fresh.key()).offlineAtNanos(), "offline since the first report");
    assertEquals(8, told.size(), "every report is told: " + told);
  }

  @Test
  void aClusterNoLongerLedIsForgottenAndOfflinePodsGoOnceDeleted() {
    PodProgress progress = new PodProgress();
    Progress reg = progress.forSink("reg");
    PodState a = pod("east", "web-1", "u1", 1);
    PodState b = pod("west", "web-1", "u2", 1);
    reg.draining(a);
    reg.online(b);
    progress.forgetCluster("reg", "east");
    assertNull(progress.get("reg", a.key()));
    assertEquals(PodProgress.State.ONLINE, progress.get("reg", b.key()).state());

    assertFalse(progress.forgetOffline(b.key()), "still online: kept");
    reg.offline(b);
    assertTrue(progress.forgetOffline(b.key()));
    assertEquals(0, progress.size());
  }
}

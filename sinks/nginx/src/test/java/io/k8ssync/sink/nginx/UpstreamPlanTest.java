package io.k8ssync.sink.nginx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class UpstreamPlanTest {

  private static ServerLine live(String address) {
    return new ServerLine(address, 1, 2, 10, false, false);
  }

  private static final Duration DRAIN = Duration.ofSeconds(10);

  @Test
  void aServerNoLongerWantedIsWrittenDownUntilItsDeadlineThenLeaves() {
    Map<String, List<ServerLine>> written = Map.of("web", List.of(live("10.0.0.1:80"), live("10.0.0.2:80")));
    Map<String, Map<String, ServerLine>> desired = Map.of("web", Map.of("10.0.0.1:80", live("10.0.0.1:80")));

    UpstreamPlan first = UpstreamPlan.of(desired, written, Map.of(), 1000, DRAIN, null);
    assertEquals(List.of(live("10.0.0.1:80"), live("10.0.0.2:80").withDown(true)), first.blocks().get("web").servers());
    assertEquals(Set.of("web 10.0.0.2:80"), first.draining());

    Map<String, Long> deadline = Map.of("web 10.0.0.2:80", 11_000L);
    UpstreamPlan during = UpstreamPlan.of(desired, first.servers(), deadline, 10_999, DRAIN, null);
    assertEquals(first.blocks(), during.blocks());
    UpstreamPlan after = UpstreamPlan.of(desired, during.servers(), deadline, 11_000, DRAIN, null);
    assertEquals(List.of(live("10.0.0.1:80")), after.blocks().get("web").servers());
  }

  @Test
  void anUpstreamIsNeverEmptyTheLastServersStayDownOrTheFallbackTakesOver() {
    Map<String, List<ServerLine>> written = Map.of("web", List.of(live("10.0.0.1:80").withDown(true)));
    UpstreamPlan kept = UpstreamPlan.of(Map.of(), written, Map.of(), 1000, DRAIN, null);
    assertEquals(List.of(live("10.0.0.1:80").withDown(true)), kept.blocks().get("web").servers());
    assertTrue(kept.blocks().get("web").noLiveServer());

    UpstreamPlan fallback = UpstreamPlan.of(Map.of(), written, Map.of(), 1000, DRAIN, live("127.0.0.1:8081"));
    assertEquals(List.of(live("127.0.0.1:8081")), fallback.blocks().get("web").servers());
    assertTrue(fallback.blocks().get("web").fallback());
  }

  @Test
  void withoutDrainDelayAServerLeavesAtOnceButNeverTheLastOne() {
    Map<String, List<ServerLine>> written = Map.of("web", List.of(live("10.0.0.1:80"), live("10.0.0.2:80")));
    UpstreamPlan one = UpstreamPlan.of(Map.of("web", Map.of("10.0.0.1:80", live("10.0.0.1:80"))), written, Map.of(), 0,
        Duration.ZERO, null);
    assertEquals(List.of(live("10.0.0.1:80")), one.blocks().get("web").servers());
    UpstreamPlan none = UpstreamPlan.of(Map.of(), one.servers(), Map.of(), 0, Duration.ZERO, null);
    assertEquals(List.of(live("10.0.0.1:80").withDown(true)), none.blocks().get("web").servers());
  }

  @Test
  void anUpstreamOfBackupsAloneIsNotWrittenNginxWouldRefuseIt() {
    ServerLine backup = new ServerLine("10.0.0.3:80", 1, 2, 10, true, false);
    UpstreamPlan p = UpstreamPlan.of(Map.of("web", Map.of("10.0.0.3:80", backup)), Map.of(), Map.of(), 0, DRAIN, null);
    assertTrue(p.blocks().isEmpty());
  }

  @Test
  void aServerLineReadsBackAsWritten() {
    ServerLine s = new ServerLine("[fd00::1]:8080", 3, 0, 0, true, true);
    assertEquals("server [fd00::1]:8080 weight=3 max_fails=0 fail_timeout=0s backup down;", s.render());
    assertEquals(s, ServerLine.parse("    " + s.render()));
  }
}

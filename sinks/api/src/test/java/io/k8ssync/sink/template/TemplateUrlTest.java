package io.k8ssync.sink.template;

import static io.k8ssync.sink.PodStates.ready;
import static io.k8ssync.sink.PodStates.withAnnotations;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.k8ssync.sink.PodState;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A pod's value may never turn a URL path segment into {@code .}, {@code ..} or nothing. */
class TemplateUrlTest {

  private static PodState pod(String... annotations) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < annotations.length; i += 2) {
      a.put(annotations[i], annotations[i + 1]);
    }
    return withAnnotations(ready("web-1", "10.0.0.1"), a);
  }

  private static Template.RefusedValue refused(String template, PodState pod) {
    return assertThrows(Template.RefusedValue.class, () -> Template.parse(template).renderUrl(pod),
        template + " with " + pod.annotations());
  }

  @Test
  void aValueThatWouldBeADotSegmentIsRefusedNamingTheFieldNotTheValue() {
    for (String value : List.of("..", ".")) {
      Template.RefusedValue e = refused("http://gw/gw/{annotation.team}/online?ip={ip}", pod("team", value));
      assertEquals("annotation.team", e.field());
      assertEquals("{annotation.team}: the value makes a URL path segment a dot segment, which a server resolves to "
          + "another path", e.getMessage());
    }
    // Dots a server decodes or cuts at a path parameter before it normalises are the same segment.
    refused("http://gw/gw/%2E{annotation.team}/online", pod("team", "."));
    refused("http://gw/gw/{annotation.team}%2e/online", pod("team", "."));
    refused("http://gw/gw/{annotation.team};v=1/online", pod("team", ".."));
    refused("http://gw/{annotation.team}", pod("team", ".."));
    refused("http://gw/{annotation.a}{annotation.b}/online", pod("a", ".", "b", "."));
  }

  @Test
  void aValueThatWouldMakeAPathSegmentEmptyIsRefused() {
    Template.RefusedValue e = refused("http://gw/gw/{annotation.team}/online", pod("team", ""));
    assertEquals("{annotation.team}: the value makes a URL path segment empty", e.getMessage());
    refused("http://gw/gw/{annotation.team}/online", pod()); // a pod without the annotation
    refused("http://gw/gw/{annotation.team}", pod("team", ""));
    refused("http://gw/gw/{annotation.team}?ip={ip}", pod("team", ""));
    refused("http://gw/gw/{annotation.team}#top", pod("team", ""));
    e = refused("http://gw/gw/{annotation.a}{annotation.b}/online", pod());
    assertEquals("annotation.a+annotation.b", e.field(), "both made it");
  }

  @Test
  void valuesThatAreNotWholeDotOrEmptySegmentsPass() {
    PodState p = pod("team", "..", "empty", "", "dots", "...", "hidden", ".hidden", "slash", "a/../b");
    assertEquals("http://gw/gw/.../online", Template.parse("http://gw/gw/{annotation.dots}/online").renderUrl(p));
    assertEquals("http://gw/gw/.hidden/x", Template.parse("http://gw/gw/{annotation.hidden}/x").renderUrl(p));
    assertEquals("http://gw/gw/x../online", Template.parse("http://gw/gw/x{annotation.team}/online").renderUrl(p));
    assertEquals("http://gw/gw/a%2F..%2Fb/online", Template.parse("http://gw/gw/{annotation.slash}/online").renderUrl(p),
        "a slash is encoded: one segment");
    assertEquals("http://gw/gw/team-/online", Template.parse("http://gw/gw/team-{annotation.empty}/online").renderUrl(p));
    assertEquals("http://gw/gw/on?team=..&x=&y=.", Template.parse("http://gw/gw/on?team={annotation.team}&x={annotation.empty}&y=.")
        .renderUrl(p), "the query is not a path");
    assertEquals("http://gw.x/on", Template.parse("http://gw{annotation.empty}.x/on").renderUrl(p), "nor is the host");
    // What the configuration itself writes is the operator's choice.
    assertEquals("http://gw/a//b/../c", Template.parse("http://gw/a//b/../c").renderUrl(p));
  }

  @Test
  void everyEscaperRefusalNamesTheField() {
    Template.RefusedValue e = assertThrows(Template.RefusedValue.class,
        () -> Template.parse("x-{annotation.team}").render(pod("team", "a\r\nX-Injected: 1"), Template::headerEscape));
    assertEquals("annotation.team", e.field());
    assertEquals("{annotation.team}: a header value may not contain control characters", e.getMessage());
    assertFalse(e.getMessage().contains("Injected"));
  }
}

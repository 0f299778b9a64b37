package io.k8ssync.sink.testbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The real servers of the test bed answer: later sink tests build on these fixtures. */
class TestBedFixturesTest {

  @Test
  void consulAgentServesKvAndSurvivesARestartCycle() throws Exception {
    try (ConsulAgent consul = ConsulAgent.started()) {
      HttpClient http = HttpClient.newHttpClient();
      HttpResponse<String> put = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/10.0.0.1:8080"))
          .PUT(HttpRequest.BodyPublishers.ofString("{\"weight\":1}")).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals("true", put.body().trim());
      HttpResponse<String> get = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/kv/upstreams/web/10.0.0.1:8080?raw"))
          .build(), HttpResponse.BodyHandlers.ofString());
      assertEquals("{\"weight\":1}", get.body());
      HttpResponse<String> version = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/agent/self")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertTrue(version.body().matches("(?s).*\"Version\":\\s*\"1\\.16\\..*"), "the MPL-licensed 1.16 line");

      consul.stop();
      consul.start();
      HttpResponse<String> leader = http.send(HttpRequest.newBuilder(URI.create(consul.url() + "/v1/status/leader")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, leader.statusCode());
    }
  }

  @Test
  void mariaDbAcceptsTheTestUser() throws Exception {
    MariaDb.requireRunning();
    try (Connection c = DriverManager.getConnection(MariaDb.jdbcUrl(), MariaDb.USER, MariaDb.PASSWORD);
         Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS fixture_check (id INT PRIMARY KEY, v VARCHAR(16))");
      s.execute("REPLACE INTO fixture_check VALUES (1, 'ok')");
      try (ResultSet rs = s.executeQuery("SELECT v, VERSION() FROM fixture_check WHERE id = 1")) {
        assertTrue(rs.next());
        assertEquals("ok", rs.getString(1));
        assertTrue(rs.getString(2).contains("MariaDB"), rs.getString(2));
      }
      s.execute("DROP TABLE fixture_check");
    }
  }
}

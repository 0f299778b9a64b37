package io.k8ssync.sink.zookeeper;

import static io.k8ssync.sink.PodStates.ready;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.k8ssync.sink.PodChange;
import io.k8ssync.sink.PodState;
import io.k8ssync.sink.Selector;
import io.k8ssync.sink.Sink;
import io.k8ssync.sink.SinkException;
import io.k8ssync.sink.TestSinkContext;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A node whose ACL refuses us is an operator's fix away from working: the change is retried, with a
 * metric and a message the engine logs, never dropped.
 */
class ZooKeeperAclRefusalTest {

  private final TestingServer zk;
  private final CuratorFramework operator;
  private Sink sink;

  ZooKeeperAclRefusalTest() throws Exception {
    zk = new TestingServer(true);
    operator = CuratorFrameworkFactory.builder().connectString(zk.getConnectString()).retryPolicy(new RetryOneTime(50))
        .authorization("digest", "operator:pw".getBytes(java.nio.charset.StandardCharsets.UTF_8)).build();
    operator.start();
  }

  @AfterEach
  void close() throws Exception {
    if (sink != null) {
      sink.close();
    }
    operator.close();
    zk.close();
  }

  @Test
  void aWriteRefusedByAnAclIsRetriedAndCountedThenSucceedsOnceTheAclIsFixed() throws Exception {
    // The operator pre-created the upstream readable by everyone and writable by the operator only.
    operator.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).withACL(List.of(
        new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("operator:pw"))),
        new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE))).forPath("/nginx/upstreams/web");
    TestSinkContext context = new TestSinkContext("zk", new ZooKeeperSinkFactory().configDef(),
        Map.of("connect", zk.getConnectString(), "connectionTimeout", "2s", "reconcileEvery", "0"), Selector.ALL);
    sink = new ZooKeeperSinkFactory().create(context);
    sink.start();
    PodState pod = ready("web-1", "10.0.0.1");
    List<PodChange> change = List.of(PodChange.of(pod.key(), null, pod));

    SinkException e = assertThrows(SinkException.class, () -> sink.apply(change));
    assertTrue(e.retriable(), "an ACL can be fixed by an operator: retried, not dropped: " + e.getMessage());
    assertTrue(e.getMessage().contains("/nginx/upstreams/web/10.0.0.1:8080") && e.getMessage().contains("ACL"),
        "the message the engine logs says where and why: " + e.getMessage());
    assertEquals(1.0, context.metric("zookeeper_refused_total", "no_auth"));
    assertNull(operator.checkExists().forPath("/nginx/upstreams/web/10.0.0.1:8080"));

    operator.setACL().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath("/nginx/upstreams/web");
    sink.apply(change);
    assertNotNull(operator.checkExists().forPath("/nginx/upstreams/web/10.0.0.1:8080"));
  }
}

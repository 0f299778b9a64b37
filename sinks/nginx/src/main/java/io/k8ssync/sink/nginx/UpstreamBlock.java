package io.k8ssync.sink.nginx;

import java.util.List;

/**
 * One upstream as it is written: its servers in address order, and whether it has a live server
 * ({@code noLiveServer}: every pod is gone or draining, so it holds the last servers written down
 * or the fallback server, because an empty upstream is an [emerg] for nginx).
 */
record UpstreamBlock(String name, List<ServerLine> servers, boolean noLiveServer, boolean fallback) {

  UpstreamBlock {
    servers = List.copyOf(servers);
  }

  ServerLine server(String address) {
    for (ServerLine s : servers) {
      if (s.address().equals(address)) {
        return s;
      }
    }
    return null;
  }
}

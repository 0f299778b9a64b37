package io.k8ssync.sink.upstream;

/** An upstream server: which upstream, which {@code ip:port}, written for which cluster. */
record Server(String cluster, String upstream, String address) {

  String ip() {
    return address.substring(0, address.lastIndexOf(':'));
  }

  @Override
  public String toString() {
    return upstream + "/" + address + " (cluster " + cluster + ")";
  }
}

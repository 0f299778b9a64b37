package io.k8ssync.daemon.config;

import io.k8ssync.sink.SinkFactory;
import java.util.Collections;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The sink types on the class path, found with {@link ServiceLoader}, by {@link SinkFactory#type()}. */
public final class SinkTypes {

  private final Map<String, SinkFactory> byType;

  private SinkTypes(Map<String, SinkFactory> byType) {
    this.byType = Collections.unmodifiableMap(byType);
  }

  public static SinkTypes discover() {
    return discover(SinkTypes.class.getClassLoader());
  }

  public static SinkTypes discover(ClassLoader loader) {
    Map<String, SinkFactory> found = new TreeMap<>();
    for (SinkFactory f : ServiceLoader.load(SinkFactory.class, loader)) {
      SinkFactory prior = found.putIfAbsent(f.type(), f);
      if (prior != null && prior.getClass() != f.getClass()) {
        throw new IllegalStateException("two sink factories claim type " + f.type() + ": "
            + prior.getClass().getName() + " and " + f.getClass().getName());
      }
    }
    return new SinkTypes(found);
  }

  public SinkFactory get(String type) {
    return byType.get(type);
  }

  public Map<String, SinkFactory> all() {
    return byType;
  }
}

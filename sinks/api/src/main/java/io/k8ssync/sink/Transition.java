package io.k8ssync.sink;

/** What happened to a pod between two states, derived by {@link PodChange#derive}. */
public enum Transition {
  /** First seen (created, or present at the initial list). */
  ADDED,
  /** The Ready condition turned true. */
  BECAME_READY,
  /** The Ready condition turned false. */
  BECAME_UNREADY,
  /** deletionTimestamp was set: the pod is going away and is no longer desired online. */
  TERMINATING,
  /** The pod's IP changed, or the name was reused by a new incarnation (new uid). */
  ADDRESS_CHANGED,
  /** Anything else a sink might care about (labels kept, weight, phase, node...). */
  UPDATED,
  /** Gone from the API server. */
  DELETED
}

package io.k8ssync.benchmarks;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.utils.Serialization;

/**
 * Pods as a production API server returns them: labels, annotations (with a last-applied
 * configuration), two containers with env, ports, probes and mounts, managedFields, four status
 * conditions and two container statuses. Each is parsed from its own JSON text, as the informer
 * does, so no strings are shared by accident.
 */
final class RealisticPods {

  private RealisticPods() {}

  static String json(int i) {
    String ns = "team-" + (i % 50);
    String app = "svc-" + (i % 400);
    String rs = app + "-" + Integer.toHexString(0x5f3a1b00 + (i % 400) * 7);
    String name = rs + "-" + Integer.toString(100_000 + i, 36);
    String uid = String.format("%08x-1c2d-4e5f-8a9b-%012x", i, (long) i * 7919);
    String ip = "10." + ((i >> 16) & 255) + "." + ((i >> 8) & 255) + "." + (i & 255);
    String node = "node-" + (i % 200);
    String ts = "2026-11-" + String.format("%02d", 1 + i % 20) + "T10:" + String.format("%02d", i % 60) + ":00Z";
    return """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"%1$s","generateName":"%3$s-","namespace":"%2$s",
        "uid":"%4$s","resourceVersion":"%5$d","creationTimestamp":"%8$s",
        "labels":{"app":"%6$s","pod-template-hash":"%3$s","version":"v%9$d","tier":"backend","team":"%2$s"},
        "annotations":{"kubectl.kubernetes.io/restartedAt":"%8$s","prometheus.io/scrape":"true","prometheus.io/port":"9102",
        "kubectl.kubernetes.io/last-applied-configuration":"{\\"apiVersion\\":\\"apps/v1\\",\\"kind\\":\\"Deployment\\",\\"metadata\\":{\\"name\\":\\"%6$s\\",\\"namespace\\":\\"%2$s\\"},\\"spec\\":{\\"replicas\\":3,\\"template\\":{\\"spec\\":{\\"containers\\":[{\\"name\\":\\"app\\",\\"image\\":\\"registry.example.com/%6$s:1.%9$d\\"}]}}}}"},
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"%3$s","uid":"%4$s-rs","controller":true,"blockOwnerDeletion":true}],
        "managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"%8$s","fieldsType":"FieldsV1",
        "fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{},"f:version":{}},"f:ownerReferences":{".":{},"k:{\\"uid\\":\\"%4$s-rs\\"}":{}}},
        "f:spec":{"f:containers":{"k:{\\"name\\":\\"app\\"}":{".":{},"f:env":{},"f:image":{},"f:name":{},"f:ports":{},"f:resources":{}},"k:{\\"name\\":\\"sidecar\\"}":{".":{},"f:image":{},"f:name":{}}},"f:dnsPolicy":{},"f:restartPolicy":{}}}},
        {"manager":"kubelet","operation":"Update","apiVersion":"v1","time":"%8$s","fieldsType":"FieldsV1","subresource":"status",
        "fieldsV1":{"f:status":{"f:conditions":{"k:{\\"type\\":\\"ContainersReady\\"}":{".":{},"f:status":{},"f:type":{}},"k:{\\"type\\":\\"Ready\\"}":{".":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{},"f:startTime":{}}}}]},
        "spec":{"nodeName":"%7$s","serviceAccountName":"default","restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30,
        "containers":[{"name":"app","image":"registry.example.com/%6$s:1.%9$d","imagePullPolicy":"IfNotPresent",
        "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},{"name":"metrics","containerPort":9102,"protocol":"TCP"}],
        "env":[{"name":"JAVA_OPTS","value":"-Xms512m -Xmx512m -XX:+UseG1GC"},{"name":"APP_ENV","value":"production"},{"name":"POD_IP","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"status.podIP"}}}],
        "resources":{"limits":{"cpu":"2","memory":"1Gi"},"requests":{"cpu":"500m","memory":"768Mi"}},
        "readinessProbe":{"httpGet":{"path":"/healthcheck","port":8080,"scheme":"HTTP"},"initialDelaySeconds":10,"periodSeconds":5,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},
        "volumeMounts":[{"name":"config","mountPath":"/etc/app"},{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}],
        "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
        {"name":"sidecar","image":"registry.example.com/log-agent:3.2","resources":{"limits":{"cpu":"200m","memory":"128Mi"},"requests":{"cpu":"50m","memory":"64Mi"}},
        "volumeMounts":[{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}]}],
        "volumes":[{"name":"config","configMap":{"name":"%6$s-config","defaultMode":420}},{"name":"kube-api-access","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}}]}}],
        "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},
        "status":{"phase":"Running","hostIP":"192.168.%10$d.%11$d","podIP":"%12$s","podIPs":[{"ip":"%12$s"}],"startTime":"%8$s","qosClass":"Burstable",
        "conditions":[{"type":"Initialized","status":"True","lastTransitionTime":"%8$s"},{"type":"Ready","status":"True","lastTransitionTime":"%8$s"},
        {"type":"ContainersReady","status":"True","lastTransitionTime":"%8$s"},{"type":"PodScheduled","status":"True","lastTransitionTime":"%8$s"}],
        "containerStatuses":[{"name":"app","ready":true,"restartCount":0,"started":true,"image":"registry.example.com/%6$s:1.%9$d","imageID":"registry.example.com/%6$s@sha256:%13$s","containerID":"containerd://%13$s","state":{"running":{"startedAt":"%8$s"}}},
        {"name":"sidecar","ready":true,"restartCount":0,"started":true,"image":"registry.example.com/log-agent:3.2","imageID":"registry.example.com/log-agent@sha256:%13$s","containerID":"containerd://%14$s","state":{"running":{"startedAt":"%8$s"}}}]}}
        """.formatted(name, ns, rs, uid, 1000 + i, app, node, ts, i % 5, (i >> 8) % 256, i % 256, ip,
        String.format("%064x", (long) i * 1_000_003L), String.format("%064x", (long) i * 999_983L));
  }

  static Pod pod(int i) {
    return Serialization.unmarshal(json(i), Pod.class);
  }
}

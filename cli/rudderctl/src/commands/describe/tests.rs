use serde_json::json;

use super::*;

const T0: i64 = 1_704_067_200;

fn info(name: &str) -> &'static ResourceInfo {
    resource::resolve(name).unwrap()
}

#[test]
fn pod_page() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "web-5d4f", "controller": true, "uid": "u"}]},
        "spec": {"nodeName": "n1", "priority": 0, "containers": [{"name": "nginx", "image": "nginx:1.25",
                  "ports": [{"containerPort": 80, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "hostIP": "10.0.0.1", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}],
                   "startTime": "2024-01-01T00:00:00Z",
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0, "image": "nginx:1.25",
                       "imageID": "", "containerID": "sim://abc", "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}}}]}});
    let event = json!({"type": "Normal", "reason": "Scheduled", "message": "Successfully assigned default/web to n1",
        "source": {"component": "default-scheduler"}, "lastTimestamp": "2024-01-01T00:00:00Z", "count": 1});
    let page = describe(info("po"), &pod, &[], Some(&[event]), T0 + 30);
    assert_eq!(
        page,
        "Name:             web
Namespace:        default
Priority:         0
Service Account:  default
Node:             n1/10.0.0.1
Start Time:       Mon, 01 Jan 2024 00:00:00 +0000
Labels:           app=web
                  tier=front
Annotations:      <none>
Status:           Running
IP:               10.1.0.5
IPs:
  IP:           10.1.0.5
Controlled By:  ReplicaSet/web-5d4f
Containers:
  nginx:
    Container ID:   sim://abc
    Image:          nginx:1.25
    Image ID:       
    Port:           80/TCP
    Host Port:      0/TCP
    State:          Running
      Started:      Mon, 01 Jan 2024 00:00:01 +0000
    Ready:          True
    Restart Count:  0
    Environment:    <none>
    Mounts:         <none>
Conditions:
  Type           Status
  Ready          True 
Volumes:         <none>
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:
  Type    Reason     Age   From               Message
  ----    ------     ----  ----               -------
  Normal  Scheduled  30s   default-scheduler  Successfully assigned default/web to n1"
    );
}

#[test]
fn deployment_page_with_replica_sets() {
    let deploy = json!({"metadata": {"name": "web", "namespace": "default", "uid": "d1",
            "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
        "status": {"replicas": 3, "updatedReplicas": 3, "availableReplicas": 3,
                   "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}});
    let rs = |name: &str, rev: &str, n: i64| {
        json!({"metadata": {"name": name, "annotations": {"deployment.kubernetes.io/revision": rev}},
        "spec": {"replicas": n}, "status": {"replicas": n}})
    };
    let page = describe(
        info("deploy"),
        &deploy,
        &[rs("web-old", "1", 0), rs("web-new", "2", 3)],
        Some(&[]),
        T0,
    );
    assert_eq!(
        page,
        "Name:                   web
Namespace:              default
CreationTimestamp:      Mon, 01 Jan 2024 00:00:00 +0000
Labels:                 app=web
Annotations:            deployment.kubernetes.io/revision: 2
Selector:               app=web
Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable
StrategyType:           RollingUpdate
MinReadySeconds:        0
RollingUpdateStrategy:  25% max unavailable, 25% max surge
Pod Template:
  Labels:  app=web
  Containers:
   nginx:
    Image:         nginx:1.25
    Port:          <none>
    Host Port:     <none>
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
Conditions:
  Type           Status  Reason
  ----           ------  ------
  Available      True    MinimumReplicasAvailable
OldReplicaSets:  web-old (0/0 replicas created)
NewReplicaSet:   web-new (3/3 replicas created)
Events:          <none>"
    );
}

#[test]
fn generic_page_and_garbage() {
    let cm = json!({"kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
                    "data": {"a": "1"}, "binaryData": {"b": "AAEC"}});
    assert_eq!(
        describe(info("cm"), &cm, &[], Some(&[]), T0),
        "Name:         cfg\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nData\n====\na:\n----\n1\n\n\nBinaryData\n====\nb: 3 bytes\n\nEvents:  <none>"
    );
    let secret = json!({"metadata": {"name": "s", "namespace": "default"}, "data": {"password": "c2VjcmV0", "u": "YQ=="}});
    assert_eq!(
        describe(info("secret"), &secret, &[], Some(&[]), T0),
        "Name:         s\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\nData\n====\npassword:  6 bytes\nu:         1 bytes"
    );
    let lease = json!({"kind": "Lease", "metadata": {"name": "l", "namespace": "default"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    assert_eq!(
        describe(info("leases"), &lease, &[], None, T0),
        "Name:         l\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\nSpec:\n  holderIdentity: a\n  leaseDurationSeconds: 15"
    );
    for kind in ["po", "deploy", "rs", "svc", "no", "ns", "cm", "ep"] {
        for garbage in [
            json!(null),
            json!([1]),
            json!({"metadata": 3, "spec": {"containers": [1]}, "status": {"conditions": "x"}}),
        ] {
            let _ = describe(
                info(kind),
                &garbage,
                std::slice::from_ref(&garbage),
                Some(std::slice::from_ref(&garbage)),
                T0,
            );
        }
    }
}

#[test]
fn last_applied_is_hidden_and_untouched_deployments_have_no_replica_set_lines() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    let page = describe(info("deploy"), &deployment, &[], Some(&[]), T0);
    assert!(
        page.contains("\nAnnotations:            <none>\n"),
        "{page}"
    );
    assert!(!page.contains("last-applied"), "{page}");
    assert!(!page.contains("ReplicaSet"), "{page}");
}

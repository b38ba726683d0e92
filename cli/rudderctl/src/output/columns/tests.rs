use serde_json::json;

use super::*;

/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200;

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z",
                        "labels": {"app": "web", "tier": "front"}},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}, {"name": "s", "image": "envoy"}]},
           "status": {"phase": "Running", "podIP": "10.1.0.5",
                      "containerStatuses": [
                          {"name": "c", "ready": true, "restartCount": 2, "state": {"running": {}},
                           "lastState": {"terminated": {"finishedAt": "2024-01-01T00:03:00Z"}}},
                          {"name": "s", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
}

fn rendered(kind: &str, group: &str, objects: &[Value], options: TableOptions, now: i64) -> String {
    render(&table(kind, group, objects, options, now), false)
}

#[test]
fn pods_print_ready_status_restarts_and_age() {
    let text = rendered(
        "Pod",
        "",
        &[pod("web-1")],
        TableOptions::default(),
        T0 + 200,
    );
    assert_eq!(
        text,
        "NAME    READY   STATUS             RESTARTS      AGE\n\
         web-1   1/2     CrashLoopBackOff   2 (20s ago)   3m20s\n"
    );
}

#[test]
fn pods_wide_with_namespace_and_labels() {
    let options = TableOptions {
        wide: true,
        with_namespace: true,
        show_labels: true,
        with_kind: false,
    };
    let mut p = pod("web-1");
    p["status"]["containerStatuses"] = json!([]);
    p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:10Z");
    assert_eq!(
        rendered("Pod", "", &[p], options, T0 + 5 * 86_400),
        "NAMESPACE   NAME    READY   STATUS        RESTARTS   AGE   IP         NODE   NOMINATED NODE   READINESS GATES   LABELS\n\
         default     web-1   0/2     Terminating   0          5d    10.1.0.5   n1     <none>           <none>            app=web,tier=front\n"
    );
}

#[test]
fn deployments_and_replicasets_with_kind_prefix() {
    let deploy = json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
    let options = TableOptions {
        wide: true,
        with_kind: true,
        ..Default::default()
    };
    assert_eq!(
        rendered("Deployment", "apps", &[deploy], options, T0 + 4 * 3600),
        "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES       SELECTOR\n\
         deployment.apps/web   2/3     3            2           4h    nginx        nginx:1.25   app=web\n"
    );
    let rs = json!({"metadata": {"name": "web-5d4f"}, "spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 1}});
    assert_eq!(
        rendered("ReplicaSet", "apps", &[rs], TableOptions::default(), T0),
        "NAME       DESIRED   CURRENT   READY   AGE\nweb-5d4f   3         3         1       <unknown>\n"
    );
}

#[test]
fn services_nodes_namespaces() {
    let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.10", "selector": {"app": "web"},
                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}});
    let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.11", "ports": []}});
    assert_eq!(
        rendered(
            "Service",
            "",
            &[svc, lb],
            TableOptions {
                wide: true,
                ..Default::default()
            },
            T0 + 86_400
        ),
        "NAME   TYPE           CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE         SELECTOR\n\
         web    NodePort       10.96.0.10   <none>        80:30080/TCP,53/UDP   24h         app=web\n\
         lb     LoadBalancer   10.96.0.11   <pending>     <none>                <unknown>   <none>\n"
    );
    let node = json!({"metadata": {"name": "n1", "creationTimestamp": "2024-01-01T00:00:00Z",
                                   "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                   "nodeInfo": {"kubeletVersion": "v1.33.0"}}});
    assert_eq!(
        rendered("Node", "", &[node], TableOptions::default(), T0 + 120),
        "NAME   STATUS                     ROLES           AGE   VERSION\n\
         n1     Ready,SchedulingDisabled   control-plane   2m    v1.33.0\n"
    );
    let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Active"}});
    assert_eq!(
        rendered("Namespace", "", &[ns], TableOptions::default(), T0 + 59),
        "NAME      STATUS   AGE\ndefault   Active   59s\n"
    );
}

#[test]
fn config_secrets_accounts_endpoints_leases_rbac() {
    let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(
        rendered("ConfigMap", "", &[cm], TableOptions::default(), T0),
        "NAME   DATA   AGE\ncfg    3      <unknown>\n"
    );
    let secret = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        rendered("Secret", "", &[secret], TableOptions::default(), T0),
        "NAME   TYPE                DATA   AGE\ntls    kubernetes.io/tls   2      <unknown>\n"
    );
    let sa = json!({"metadata": {"name": "default"}});
    assert_eq!(
        rendered("ServiceAccount", "", &[sa], TableOptions::default(), T0),
        "NAME      SECRETS   AGE\ndefault   0         <unknown>\n"
    );
    let ep = json!({"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}], "ports": [{"port": 80}, {"port": 443}]}]});
    assert_eq!(
        rendered(
            "Endpoints",
            "",
            &[ep, json!({"metadata": {"name": "none"}})],
            TableOptions::default(),
            T0
        ),
        "NAME   ENDPOINTS                                          AGE\n\
         web    10.1.0.1:80,10.1.0.1:443,10.1.0.2:80 + 3 more...   <unknown>\n\
         none   <none>                                             <unknown>\n"
    );
    let lease =
        json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "host-1_abc"}});
    assert_eq!(
        rendered(
            "Lease",
            "coordination.k8s.io",
            &[lease],
            TableOptions::default(),
            T0
        ),
        "NAME             HOLDER       AGE\nkube-scheduler   host-1_abc   <unknown>\n"
    );
    let role = json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-01T00:00:00Z"}});
    assert_eq!(
        rendered(
            "ClusterRole",
            "rbac.authorization.k8s.io",
            &[role],
            TableOptions::default(),
            T0
        ),
        "NAME    CREATED AT\nadmin   2024-01-01T00:00:00Z\n"
    );
    let binding = json!({"metadata": {"name": "read"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
    assert_eq!(
        rendered(
            "RoleBinding",
            "rbac.authorization.k8s.io",
            &[binding],
            TableOptions {
                wide: true,
                ..Default::default()
            },
            T0
        ),
        "NAME   ROLE               AGE         USERS   GROUPS   SERVICEACCOUNTS\n\
         read   ClusterRole/view   <unknown>   jane             ns/sa\n"
    );
}

#[test]
fn events_show_last_seen_alone_as_kubectl_get() {
    let event = json!({"metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
        "involvedObject": {"kind": "Pod", "name": "web"}, "message": " Back-off restarting \n",
        "count": 4, "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:04:00Z"});
    assert_eq!(
        rendered("Event", "", &[event], TableOptions::default(), T0 + 300),
        "LAST SEEN   TYPE      REASON    OBJECT    MESSAGE\n\
         60s         Warning   BackOff   pod/web   Back-off restarting\n"
    );
}

#[test]
fn wide_events_put_subobject_and_source_before_the_message() {
    let event = json!({"metadata": {"name": "web.1"}, "type": "Normal", "reason": "Pulled",
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "message": "pulled", "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": "2024-01-01T00:00:00Z"});
    let wide = TableOptions {
        wide: true,
        ..TableOptions::default()
    };
    assert_eq!(
        rendered("Event", "", &[event], wide, T0 + 300),
        "LAST SEEN   TYPE     REASON   OBJECT    SUBOBJECT              SOURCE        MESSAGE   FIRST SEEN   COUNT   NAME\n\
         5m          Normal   Pulled   pod/web   spec.containers{web}   kubelet, n1   pulled    5m           1       web.1\n"
    );
}

#[test]
fn unknown_kinds_print_name_and_age_and_selectors_format() {
    assert_eq!(
        rendered(
            "Widget",
            "example.com",
            &[json!({"metadata": {"name": "w"}})],
            TableOptions::default(),
            T0
        ),
        "NAME   AGE\nw      <unknown>\n"
    );
    let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "x", "operator": "DoesNotExist"}]});
    assert_eq!(
        format_label_selector(Some(&selector)),
        "app=web,tier in (a,b),!x"
    );
    assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
}

#[test]
fn hostile_objects_do_not_panic() {
    for kind in [
        "Pod",
        "Deployment",
        "ReplicaSet",
        "Service",
        "Node",
        "Namespace",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Endpoints",
        "Event",
        "Lease",
        "Role",
        "RoleBinding",
        "Other",
    ] {
        for garbage in [
            json!(null),
            json!(3),
            json!({"metadata": []}),
            json!({"spec": {"containers": "x"}, "status": 1}),
        ] {
            let _ = rendered(
                kind,
                "",
                &[garbage],
                TableOptions {
                    wide: true,
                    with_namespace: true,
                    show_labels: true,
                    with_kind: true,
                },
                T0,
            );
        }
    }
}

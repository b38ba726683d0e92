use super::*;
use crate::defaults;
use crate::resource::resolve;
use crate::status;

/// A pod under construction, as JSON.
struct PodBuilder(Value);

fn pod_b(name: &str) -> PodBuilder {
    PodBuilder(json!({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": name, "namespace": "default"},
                      "spec": {"containers": []}}))
}

impl PodBuilder {
    fn container(mut self, name: &str, image: &str) -> Self {
        if let Some(c) = self.0["spec"]["containers"].as_array_mut() {
            c.push(json!({"name": name, "image": image}));
        }
        self
    }

    fn set(mut self, pointer: &str, value: Value) -> Self {
        if let Some(slot) = self.0.pointer_mut(pointer) {
            *slot = value;
        } else {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            self.0.pointer_mut(parent).unwrap()[key] = value;
        }
        self
    }

    /// Defaulted, as the API server stores it.
    fn build(mut self) -> Value {
        defaults::apply(resolve("pods").unwrap(), &mut self.0).unwrap();
        self.0
    }
}

fn deployment_b(name: &str, labels: Value, selector: Value) -> Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": selector,
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}});
    defaults::apply(resolve("deploy").unwrap(), &mut d).unwrap();
    d
}

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

fn create(resource: &str, obj: &Value) -> Vec<String> {
    messages(&default_and_validate_create(resolve(resource).unwrap(), &mut obj.clone()).unwrap())
}

fn update(resource: &str, new: &Value, old: &Value) -> Vec<String> {
    messages(
        &default_and_validate_update(resolve(resource).unwrap(), &mut new.clone(), old).unwrap(),
    )
}

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn valid_pod_passes() {
    let p = pod_b("web").container("nginx", "nginx:1.25").build();
    assert_eq!(create("pods", &p), Vec::<String>::new());
}

#[test]
fn pod_errors_match_upstream() {
    let cases: Vec<(Value, Vec<String>)> = vec![
        (
            pod_b("Web").container("nginx", "nginx").build(),
            vec![format!("metadata.name: Invalid value: \"Web\": {SUBDOMAIN_MSG}")],
        ),
        (
            pod_b("web").build(),
            vec!["spec.containers: Required value".into()],
        ),
        (
            pod_b("web").container("nginx", "").container("nginx", "x").build(),
            vec![
                "spec.containers[0].image: Required value".into(),
                "spec.containers[1].name: Duplicate value: \"nginx\"".into(),
            ],
        ),
        (
            pod_b("web").container("Bad_Name", "x").build(),
            vec!["spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into()],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/restartPolicy", json!("Sometimes")).build(),
            vec!["spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into()],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/containers/0/imagePullPolicy", json!("Maybe")).build(),
            vec!["spec.containers[0].imagePullPolicy: Unsupported value: \"Maybe\": supported values: \"Always\", \"IfNotPresent\", \"Never\"".into()],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/containers/0/ports", json!([{"containerPort": 0}, {"containerPort": 80, "protocol": "HTTP", "name": "http"}, {"containerPort": 81, "name": "http"}])).build(),
            vec![
                "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive".into(),
                "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"".into(),
                "spec.containers[0].ports[2].name: Duplicate value: \"http\"".into(),
            ],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/containers/0/volumeMounts", json!([{"name": "data", "mountPath": "/d"}])).build(),
            vec!["spec.containers[0].volumeMounts[0].name: Not found: \"data\"".into()],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/containers/0/resources", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1", "memory": "lots"}})).build(),
            vec![
                "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into(),
                // Defaulting copied the bad limit into requests.
                "spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into(),
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1".into(),
            ],
        ),
        (
            pod_b("web").container("c", "x").set("/spec/volumes", json!([{"name": "v"}, {"name": "v", "emptyDir": {}}])).build(),
            vec![
                "spec.volumes[0]: Required value: must specify a volume type".into(),
                "spec.volumes[1].name: Duplicate value: \"v\"".into(),
            ],
        ),
        (
            pod_b("web").container("c", "x").set("/metadata/labels", json!({"app": "a b", "-bad": "v"})).set("/metadata/namespace", json!("")).build(),
            vec![
                "metadata.namespace: Required value".into(),
                "metadata.labels: Invalid value: \"-bad\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into(),
                "metadata.labels: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into(),
            ],
        ),
        (
            pod_b("web").container("c", "x")
                .set("/spec/containers/0/livenessProbe", json!({"httpGet": {"port": 0}, "successThreshold": 2}))
                .set("/spec/containers/0/readinessProbe", json!({"periodSeconds": 5}))
                .set("/spec/containers/0/startupProbe", json!({"exec": {"command": ["true"]}, "tcpSocket": {"port": "http"}}))
                .build(),
            vec![
                "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive".into(),
                "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1".into(),
                "spec.containers[0].readinessProbe: Required value: must specify a handler type".into(),
                "spec.containers[0].startupProbe: Forbidden: may not specify more than 1 handler type".into(),
            ],
        ),
        (
            pod_b("").container("c", "x").build(),
            vec!["metadata.name: Required value: name or generateName is required".into()],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(create("pods", &obj), want, "{obj}");
    }
}

#[test]
fn invalid_status_reads_like_kubectl() {
    let p = pod_b("Web").container("nginx", "nginx").build();
    let errs = default_and_validate_create(resolve("pods").unwrap(), &mut p.clone()).unwrap();
    let s = status::invalid(resolve("pods").unwrap(), "Web", &errs);
    assert_eq!(
        s.message.unwrap(),
        format!("Pod \"Web\" is invalid: metadata.name: Invalid value: \"Web\": {SUBDOMAIN_MSG}")
    );
}

#[test]
fn pod_updates() {
    let old = pod_b("web")
        .container("c", "nginx:1.25")
        .set("/metadata/uid", json!("u1"))
        .set(
            "/spec/tolerations",
            json!([{"key": "a", "operator": "Exists"}]),
        )
        .build();
    let ok = [
        pod_b("web")
            .container("c", "nginx:1.26")
            .set("/metadata/uid", json!("u1"))
            .set(
                "/spec/tolerations",
                json!([{"key": "a", "operator": "Exists"}]),
            )
            .build(),
        pod_b("web")
            .container("c", "nginx:1.25")
            .set("/metadata/uid", json!("u1"))
            .set(
                "/spec/tolerations",
                json!([{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]),
            )
            .set("/spec/activeDeadlineSeconds", json!(30))
            .build(),
    ];
    for new in ok {
        assert_eq!(update("pods", &new, &old), Vec::<String>::new(), "{new}");
    }
    let forbidden = format!("spec: Forbidden: {POD_UPDATE_FORBIDDEN}");
    let bad = [
        (pod_b("web").container("c", "nginx:1.25").set("/metadata/uid", json!("u1")).set("/spec/tolerations", json!([{"key": "a", "operator": "Exists"}])).set("/spec/restartPolicy", json!("Never")).build(), vec![forbidden.clone()]),
        (pod_b("web").container("c", "nginx:1.25").set("/metadata/uid", json!("u1")).build(), vec!["spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds".to_string()]),
        (pod_b("web").container("c", "nginx:1.25").container("d", "x").set("/metadata/uid", json!("u1")).set("/spec/tolerations", json!([{"key": "a", "operator": "Exists"}])).build(), vec![forbidden.clone()]),
        (pod_b("web").container("c", "nginx:1.25").set("/metadata/uid", json!("u2")).set("/spec/tolerations", json!([{"key": "a", "operator": "Exists"}])).build(), vec!["metadata.uid: Invalid value: \"u2\": field is immutable".to_string()]),
    ];
    for (new, want) in bad {
        assert_eq!(update("pods", &new, &old), want, "{new}");
    }
    let with_deadline = pod_b("web")
        .container("c", "x")
        .set("/spec/activeDeadlineSeconds", json!(10))
        .build();
    let longer = pod_b("web")
        .container("c", "x")
        .set("/spec/activeDeadlineSeconds", json!(20))
        .build();
    assert_eq!(
        update("pods", &longer, &with_deadline),
        [
            "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
        ]
    );
    let unset = pod_b("web").container("c", "x").build();
    assert_eq!(
        update("pods", &unset, &with_deadline),
        [
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"
        ]
    );
}

#[test]
fn deployments() {
    let good = deployment_b(
        "web",
        json!({"app": "web"}),
        json!({"matchLabels": {"app": "web"}}),
    );
    assert_eq!(create("deploy", &good), Vec::<String>::new());

    let mismatch = deployment_b(
        "web",
        json!({"app": "other"}),
        json!({"matchLabels": {"app": "web"}}),
    );
    assert_eq!(
        create("deploy", &mismatch),
        [
            "spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"
        ]
    );

    let no_selector = deployment_b("web", json!({"app": "web"}), json!(null));
    assert_eq!(
        create("deploy", &no_selector),
        ["spec.selector: Required value"]
    );

    let mut bad = good.clone();
    bad["spec"]["replicas"] = json!(-1);
    bad["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}});
    bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    assert_eq!(
        create("deploy", &bad),
        [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0%\": may not be 0 when `maxSurge` is 0",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ]
    );
    let mut recreate = good.clone();
    recreate["spec"]["strategy"]["type"] = json!("Recreate");
    assert_eq!(
        create("deploy", &recreate),
        [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
        ]
    );
    let mut deadline = good.clone();
    deadline["spec"]["minReadySeconds"] = json!(600);
    assert_eq!(
        create("deploy", &deadline),
        ["spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]
    );

    let moved = deployment_b(
        "web",
        json!({"app": "web", "v": "2"}),
        json!({"matchLabels": {"app": "web", "v": "2"}}),
    );
    assert_eq!(
        update("deploy", &moved, &good),
        [
            "spec.selector: Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: field is immutable"
        ]
    );
    let mut scaled = good.clone();
    scaled["spec"]["replicas"] = json!(5);
    assert_eq!(update("deploy", &scaled, &good), Vec::<String>::new());

    let rs = |sel: Value| {
        let mut r = json!({"metadata": {"name": "web-abc", "namespace": "default"},
            "spec": {"selector": sel, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        defaults::apply(resolve("rs").unwrap(), &mut r).unwrap();
        r
    };
    assert_eq!(
        create("rs", &rs(json!({"matchLabels": {"app": "web"}}))),
        Vec::<String>::new()
    );
    assert_eq!(
        create(
            "rs",
            &rs(json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]}))
        )
        .len(),
        1
    );
    assert_eq!(update("rs", &rs(json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "app", "operator": "Exists"}]})), &rs(json!({"matchLabels": {"app": "web"}}))).len(), 1);
}

#[test]
fn services() {
    let svc = |spec: Value| {
        let mut s = json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        defaults::apply(resolve("svc").unwrap(), &mut s).unwrap();
        s
    };
    assert_eq!(
        create(
            "svc",
            &svc(json!({"ports": [{"port": 80}], "selector": {"app": "web"}}))
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        create("svc", &svc(json!({"clusterIP": "None"}))),
        Vec::<String>::new()
    );
    assert_eq!(
        create(
            "svc",
            &svc(json!({"ports": [{"port": 80}, {"port": 70000, "name": "b"}], "type": "Magic"}))
        ),
        [
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            "spec.ports[0].name: Required value",
            "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ]
    );
    assert_eq!(
        create("svc", &svc(json!({}))),
        ["spec.ports: Required value"]
    );
    let mut named = svc(json!({"ports": [{"port": 80}]}));
    named["metadata"]["name"] = json!("1web");
    assert!(
        create("svc", &named)[0]
            .starts_with("metadata.name: Invalid value: \"1web\": a DNS-1035 label")
    );

    let old = svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.10"}));
    let new = svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.11"}));
    assert_eq!(
        update("svc", &new, &old),
        ["spec.clusterIP: Invalid value: \"10.96.0.11\": field is immutable"]
    );
    assert_eq!(
        create(
            "svc",
            &svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.300"}))
        ),
        [
            "spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
        ]
    );
    let fill = svc(json!({"ports": [{"port": 80}], "clusterIP": "10.96.0.10"}));
    let unset = svc(json!({"ports": [{"port": 80}]}));
    assert_eq!(update("svc", &fill, &unset), Vec::<String>::new());
}

#[test]
fn other_kinds() {
    assert_eq!(
        create("ns", &json!({"metadata": {"name": "team-a"}})),
        Vec::<String>::new()
    );
    assert!(
        create("ns", &json!({"metadata": {"name": "team.a"}}))[0]
            .starts_with("metadata.name: Invalid value: \"team.a\": a lowercase RFC 1123 label")
    );
    assert_eq!(
        create("ns", &json!({"metadata": {"name": "a", "namespace": "b"}})),
        ["metadata.namespace: Forbidden: not allowed on this type"]
    );

    assert_eq!(
        create(
            "cm",
            &json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"ok.key": "v"}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        create(
            "cm",
            &json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v"}})
        ),
        [format!(
            "data[bad key]: Invalid value: \"bad key\": {CONFIG_KEY_MSG}"
        )]
    );
    let frozen =
        json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}, "immutable": true});
    let changed =
        json!({"metadata": {"name": "c", "namespace": "d"}, "data": {"a": "2"}, "immutable": true});
    assert_eq!(
        update("cm", &changed, &frozen),
        ["data: Forbidden: field is immutable when `immutable` is set"]
    );

    assert_eq!(
        create(
            "secret",
            &json!({"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}})
        ),
        ["data[tls.key]: Required value"]
    );
    let s1 = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "Opaque"});
    let s2 = json!({"metadata": {"name": "s", "namespace": "d"}, "type": "other"});
    assert_eq!(
        update("secret", &s2, &s1),
        ["type: Invalid value: \"other\": field is immutable"]
    );

    assert_eq!(
        create(
            "lease",
            &json!({"metadata": {"name": "l", "namespace": "d"}, "spec": {"leaseDurationSeconds": 0}})
        ),
        ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    );
    assert_eq!(
        create(
            "nodes",
            &json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}})
        ),
        [
            "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""
        ]
    );
    assert_eq!(
        create(
            "sa",
            &json!({"metadata": {"name": "default", "namespace": "d"}})
        ),
        Vec::<String>::new()
    );

    assert_eq!(
        create(
            "role",
            &json!({"metadata": {"name": "system:r", "namespace": "d"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        create(
            "role",
            &json!({"metadata": {"name": "a/b", "namespace": "d"}, "rules": [{"resources": ["pods"], "verbs": []}, {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]})
        ),
        [
            "metadata.name: Invalid value: \"a/b\": may not contain '/'",
            "rules[0].verbs: Required value: verbs must contain at least one value",
            "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
            "rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
        ]
    );
    assert_eq!(
        create(
            "clusterrole",
            &json!({"metadata": {"name": "c"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]})
        ),
        Vec::<String>::new()
    );

    let rb = |role_kind: &str, subject_kind: &str| {
        let mut b = json!({"metadata": {"name": "b", "namespace": "d"}, "roleRef": {"kind": role_kind, "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
                           "subjects": [{"kind": subject_kind, "name": "x"}]});
        defaults::apply(resolve("rolebindings").unwrap(), &mut b).unwrap();
        b
    };
    assert_eq!(
        create("rolebindings", &rb("Role", "User")),
        Vec::<String>::new()
    );
    assert_eq!(
        create("rolebindings", &rb("Thing", "Robot")),
        [
            "roleRef.kind: Unsupported value: \"Thing\": supported values: \"Role\", \"ClusterRole\"",
            "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
        ]
    );
    assert_eq!(
        update(
            "rolebindings",
            &rb("ClusterRole", "User"),
            &rb("Role", "User")
        ),
        [
            "roleRef: Invalid value: {\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"r\"}: cannot change roleRef"
        ]
    );
    let mut crb = json!({"metadata": {"name": "b"}, "roleRef": {"kind": "ClusterRole", "name": "r", "apiGroup": "rbac.authorization.k8s.io"}, "subjects": [{"kind": "ServiceAccount", "name": "x"}]});
    defaults::apply(resolve("clusterrolebindings").unwrap(), &mut crb).unwrap();
    assert_eq!(
        create("clusterrolebindings", &crb),
        ["subjects[0].namespace: Required value"]
    );

    // Kinds without their own rules still get metadata checks.
    assert_eq!(
        create(
            "events",
            &json!({"metadata": {"name": "x.1", "namespace": "d"}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(create("ep", &json!({"metadata": {"name": "X"}})).len(), 2);
    assert_eq!(
        create("ev", &json!({"metadata": {"name": "X", "namespace": "d"}})).len(),
        1
    );
    let node = |cidrs: Value| json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs}});
    assert_eq!(
        create("nodes", &node(json!(["10.244.1.0/24"]))),
        Vec::<String>::new()
    );
    assert_eq!(
        create("nodes", &node(json!(["10.244.1.0/33"]))),
        [
            "spec.podCIDR: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.podCIDRs[0]: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        ]
    );
    assert_eq!(
        update(
            "nodes",
            &node(json!(["10.244.1.0/24"])),
            &json!({"metadata": {"name": "n1"}})
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        update(
            "nodes",
            &node(json!(["10.244.2.0/24"])),
            &node(json!(["10.244.1.0/24"]))
        ),
        [
            "spec.podCIDR: Forbidden: node updates may not change podCIDR except from \"\" to valid",
            "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid",
        ]
    );
    let ep = json!({"metadata": {"name": "web", "namespace": "d"}, "subsets": [{
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "not-an-ip"}],
        "ports": [{"port": 80, "name": "http"}, {"port": 0}]}]});
    assert_eq!(
        create("ep", &ep),
        [
            "subsets[0].addresses[1].ip: Invalid value: \"not-an-ip\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[0].ports[1].name: Required value",
            "subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]
    );
    assert_eq!(
        update(
            "ev",
            &json!({"metadata": {"name": "b", "namespace": "d"}}),
            &json!({"metadata": {"name": "a", "namespace": "d"}})
        ),
        ["metadata.name: Invalid value: \"b\": field is immutable"]
    );
}

#[test]
fn undecodable_bodies_are_errors() {
    let err = default_and_validate_create(
        resolve("pods").unwrap(),
        &mut json!({"spec": {"containers": 5}}),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Pod in version \"v1\" cannot be handled as a Pod: "),
        "{err}"
    );
    assert!(
        default_and_validate_create(resolve("cm").unwrap(), &mut json!({"metadata": "x"})).is_err()
    );
    assert!(
        default_and_validate_update(resolve("deploy").unwrap(), &mut json!({}), &json!([]))
            .is_err()
    );
}

/// Deterministic garbage objects through defaulting and validation for every
/// kind: decode errors or field errors, never a panic.
#[test]
fn garbage_never_panics() {
    let keys = [
        "metadata",
        "name",
        "namespace",
        "labels",
        "annotations",
        "spec",
        "containers",
        "image",
        "ports",
        "containerPort",
        "resources",
        "limits",
        "requests",
        "cpu",
        "selector",
        "matchLabels",
        "matchExpressions",
        "key",
        "operator",
        "values",
        "template",
        "strategy",
        "type",
        "rollingUpdate",
        "maxSurge",
        "maxUnavailable",
        "replicas",
        "volumes",
        "volumeMounts",
        "data",
        "roleRef",
        "subjects",
        "rules",
        "verbs",
        "tolerations",
        "activeDeadlineSeconds",
        "clusterIP",
        "targetPort",
        "port",
    ];
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn random_value(next: &mut dyn FnMut() -> u64, keys: &[&str], depth: u32) -> Value {
        match next() % if depth > 4 { 6 } else { 9 } {
            0 => Value::Null,
            1 => json!(
                ["", "web", "Web", "-x", "1", "a/b", "10%", "0", "None"][(next() % 9) as usize]
            ),
            2 => json!((next() % 5) as i64 - 2),
            3 => json!(next().is_multiple_of(2)),
            4 => json!(70000),
            5 => json!("100m"),
            6 | 7 => {
                let mut m = serde_json::Map::new();
                for _ in 0..next() % 5 {
                    let k = keys[(next() % keys.len() as u64) as usize];
                    m.insert(k.to_string(), random_value(next, keys, depth + 1));
                }
                Value::Object(m)
            }
            _ => Value::Array(
                (0..next() % 3)
                    .map(|_| random_value(next, keys, depth + 1))
                    .collect(),
            ),
        }
    }
    let mut decoded = 0;
    for _ in 0..3_000 {
        let a = random_value(&mut next, &keys, 0);
        let b = random_value(&mut next, &keys, 0);
        for r in crate::resource::all() {
            let mut a2 = a.clone();
            if defaults::apply(r, &mut a2).is_ok() {
                decoded += 1;
            }
            if let Ok(errs) = default_and_validate_create(r, &mut a2.clone()) {
                let _ = status::invalid(r, "x", &errs);
            }
            let _ = default_and_validate_update(r, &mut a2, &b);
        }
    }
    assert!(
        decoded > 1000,
        "the generator must reach the typed paths ({decoded})"
    );
}

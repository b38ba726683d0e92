//! kubectl's generator commands (`create namespace|configmap|secret|deployment|
//! service|role|...`, `create token`) send `application/vnd.kubernetes.protobuf`
//! bodies; the real kubectl (1.33, picked from our /version) creates each object and
//! reads it back as JSON. A protobuf field the server does not know is a 400.

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{TestCluster, kubectl_missing, ok};
use http::{Method, StatusCode};
use serde_json::{Value, json};

async fn cluster() -> TestCluster {
    TestCluster::start_with(&[
        "--service-account-key-file={dir}/pki/sa.pub".to_string(),
        "--service-account-signing-key-file={dir}/pki/sa.key".to_string(),
    ])
    .await
}

/// Runs a kubectl command line (split at spaces) that must succeed.
async fn run(cluster: &TestCluster, line: &str) -> String {
    ok(cluster, &line.split_whitespace().collect::<Vec<_>>()).await
}

/// `kubectl get <what> -o json`.
async fn get(cluster: &TestCluster, what: &[&str]) -> Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", "json"]);
    serde_json::from_str(&ok(cluster, &args).await).expect("kubectl printed JSON")
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_commands_create_what_they_say() {
    if kubectl_missing() {
        return;
    }
    let cluster = cluster().await;

    let out = run(&cluster, "create namespace team-a").await;
    assert_eq!(out.trim(), "namespace/team-a created");
    let ns = get(&cluster, &["namespace", "team-a"]).await;
    assert_eq!(ns["status"]["phase"], "Active");
    assert!(
        ns["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty())
    );

    let out = run(&cluster, "create namespace ghost --dry-run=server").await;
    assert!(
        out.contains("namespace/ghost created (server dry run)"),
        "{out}"
    );
    assert!(
        !cluster
            .kubectl(&["get", "namespace", "ghost"])
            .await
            .status
            .success()
    );

    run(
        &cluster,
        "create configmap settings -n team-a --from-literal=mode=fast --from-literal=empty=",
    )
    .await;
    let cm = get(&cluster, &["configmap", "settings", "-n", "team-a"]).await;
    assert_eq!(cm["data"], json!({"mode": "fast", "empty": ""}));

    // Secret data travels as raw bytes in protobuf: binary content must survive.
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let file = cluster.dir.path().join("blob.bin");
    std::fs::write(&file, &binary).unwrap();
    ok(
        &cluster,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=p@ss w0rd",
            &format!("--from-file=blob={}", file.display()),
        ],
    )
    .await;
    let secret = get(&cluster, &["secret", "creds"]).await;
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["password"], b64(b"p@ss w0rd"));
    assert_eq!(secret["data"]["blob"], b64(&binary));

    run(&cluster, "create secret docker-registry pull --docker-server=registry.local --docker-username=u --docker-password=p").await;
    let pull = get(&cluster, &["secret", "pull"]).await;
    assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
    let config = STANDARD
        .decode(pull["data"][".dockerconfigjson"].as_str().unwrap())
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auths"]["registry.local"]["username"], "u");

    run(&cluster, "create serviceaccount builder -n team-a").await;
    let sa = get(&cluster, &["serviceaccount", "builder", "-n", "team-a"]).await;
    assert_eq!(sa["metadata"]["namespace"], "team-a");

    run(
        &cluster,
        "create deployment web --image=nginx:1.27 --replicas=3 --port=8080",
    )
    .await;
    let deploy = get(&cluster, &["deployment", "web"]).await;
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(deploy["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        deploy["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    let template = &deploy["spec"]["template"];
    assert_eq!(template["metadata"]["labels"], json!({"app": "web"}));
    let container = &template["spec"]["containers"][0];
    assert_eq!(container["name"], "nginx");
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 8080);

    // replicas is a pointer: an explicit 0 must not be defaulted to 1.
    run(
        &cluster,
        "create deployment idle --image=busybox --replicas=0 -- sleep 100",
    )
    .await;
    let idle = get(&cluster, &["deployment", "idle"]).await;
    assert_eq!(idle["spec"]["replicas"], 0);
    assert_eq!(
        idle["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["sleep", "100"])
    );

    run(&cluster, "create service clusterip web --tcp=80:8080").await;
    let svc = get(&cluster, &["service", "web"]).await;
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    let port = &svc["spec"]["ports"][0];
    assert_eq!(
        (
            &port["name"],
            &port["port"],
            &port["targetPort"],
            &port["protocol"]
        ),
        (&json!("80-8080"), &json!(80), &json!(8080), &json!("TCP"))
    );

    run(
        &cluster,
        "create service nodeport edge --tcp=443:8443 --node-port=30443",
    )
    .await;
    let edge = get(&cluster, &["service", "edge"]).await;
    assert_eq!(edge["spec"]["type"], "NodePort");
    assert_eq!(edge["spec"]["ports"][0]["nodePort"], 30443);
    assert_eq!(edge["spec"]["ports"][0]["targetPort"], 8443);

    run(
        &cluster,
        "create service externalname search --external-name=search.example.com",
    )
    .await;
    let search = get(&cluster, &["service", "search"]).await;
    assert_eq!(search["spec"]["type"], "ExternalName");
    assert_eq!(search["spec"]["externalName"], "search.example.com");

    run(
        &cluster,
        "create role reader --verb=get,list --resource=pods,deployments.apps --resource-name=web",
    )
    .await;
    let role = get(&cluster, &["role", "reader"]).await;
    assert_eq!(
        role["rules"],
        json!([
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"]},
            {"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}
        ])
    );
    run(
        &cluster,
        "create clusterrole logs --verb=get --non-resource-url=/logs/*",
    )
    .await;
    let logs = get(&cluster, &["clusterrole", "logs"]).await;
    assert_eq!(
        logs["rules"],
        json!([{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}])
    );
    run(&cluster, "create rolebinding readers --role=reader --user=bob --group=devs --serviceaccount=team-a:builder").await;
    let binding = get(&cluster, &["rolebinding", "readers"]).await;
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"})
    );
    assert_eq!(
        binding["subjects"],
        json!([
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"},
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "devs"},
            {"kind": "ServiceAccount", "name": "builder", "namespace": "team-a"}
        ])
    );
    run(
        &cluster,
        "create clusterrolebinding log-readers --clusterrole=logs --user=bob",
    )
    .await;
    let crb = get(&cluster, &["clusterrolebinding", "log-readers"]).await;
    assert_eq!(crb["roleRef"]["kind"], "ClusterRole");
    assert_eq!(crb["subjects"][0]["name"], "bob");

    // TokenRequest: audience and a pointer expirationSeconds, in the signed token.
    let token = run(
        &cluster,
        "create token builder -n team-a --audience=ci --duration=2h",
    )
    .await;
    let payload = token.trim().split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["aud"], json!(["ci"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        7200,
        "{claims}"
    );
    assert_eq!(claims["sub"], "system:serviceaccount:team-a:builder");

    // Updates of an object written through protobuf go on as JSON (label is a patch).
    run(&cluster, "label configmap settings -n team-a tier=1").await;
    let cm = get(&cluster, &["configmap", "settings", "-n", "team-a"]).await;
    assert_eq!(cm["metadata"]["labels"], json!({"tier": "1"}));
    assert_eq!(cm["data"]["mode"], "fast");
}

/// A protobuf message built by hand, as a Go client would encode it.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn bytes(mut self, number: u32, value: &[u8]) -> Self {
        self.varint(u64::from(number) << 3 | 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    fn msg(self, number: u32, value: Msg) -> Self {
        self.bytes(number, &value.0)
    }

    /// The `k8s\0` + runtime.Unknown body carrying this message.
    fn body(self, api_version: &str, kind: &str) -> Vec<u8> {
        let type_meta = Msg::default()
            .bytes(1, api_version.as_bytes())
            .bytes(2, kind.as_bytes());
        let unknown = Msg::default().msg(1, type_meta).msg(2, self);
        [b"k8s\0".as_slice(), &unknown.0].concat()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_the_server_cannot_read_is_refused_clearly() {
    let cluster = cluster().await;
    let admin = cluster.client("admin");
    let post = |path: &'static str, body: Vec<u8>| {
        let admin = admin.clone();
        async move {
            admin
                .request(
                    Method::POST,
                    path,
                    &[
                        ("content-type", "application/vnd.kubernetes.protobuf"),
                        (
                            "accept",
                            "application/vnd.kubernetes.protobuf,application/json",
                        ),
                    ],
                    body,
                )
                .await
                .expect("an answer")
        }
    };
    let name = |n: &str| Msg::default().bytes(1, n.as_bytes());

    // A field number this server's schema lacks (a newer Kubernetes field, say).
    let body = Msg::default()
        .msg(1, name("future"))
        .bytes(2, &Msg::default().bytes(1, b"k").bytes(2, b"v").0)
        .bytes(42, b"?")
        .body("v1", "ConfigMap");
    let r = post("/api/v1/namespaces/default/configmaps", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let status = r.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "BadRequest");
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("field number 42")
            && message.contains("k8s.io.api.core.v1.ConfigMap")
            && message.contains("application/json"),
        "{message}"
    );
    assert_eq!(
        admin
            .get("/api/v1/namespaces/default/configmaps/future")
            .await
            .unwrap()
            .status,
        StatusCode::NOT_FOUND,
        "nothing is stored"
    );

    // Deep inside a pod template, the path says where.
    let container = Msg::default()
        .bytes(1, b"web")
        .bytes(2, b"nginx")
        .bytes(77, b"x");
    let pod_spec = Msg::default().msg(2, container);
    let template = Msg::default().msg(2, pod_spec);
    let spec = Msg::default().msg(3, template);
    let body = Msg::default()
        .msg(1, name("web"))
        .msg(2, spec)
        .body("apps/v1", "Deployment");
    let r = post("/apis/apps/v1/namespaces/default/deployments", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("spec.template.spec.containers[0]: field number 77")
            && message.contains("k8s.io.api.core.v1.Container"),
        "{message}"
    );

    // A kind without a layout: 415, as upstream answers a body it cannot decode.
    let body = name("j").body("batch/v1", "Job");
    let r = post("/api/v1/namespaces/default/configmaps", body).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text());
    assert!(r.text().contains("batch/v1 Job"), "{}", r.text());

    // Not protobuf at all.
    let r = post("/api/v1/namespaces/default/configmaps", b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // A well-formed protobuf ConfigMap is stored and answered as JSON.
    let body = Msg::default()
        .msg(1, name("ok"))
        .msg(2, Msg::default().bytes(1, b"k").bytes(2, b"v"))
        .body("v1", "ConfigMap");
    let r = post("/api/v1/namespaces/default/configmaps", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    assert_eq!(r.json()["data"], json!({"k": "v"}));

    // Updates (PUT) take protobuf too.
    let body = Msg::default()
        .msg(1, name("ok"))
        .msg(2, Msg::default().bytes(1, b"k").bytes(2, b"w"))
        .body("v1", "ConfigMap");
    let r = admin
        .request(
            Method::PUT,
            "/api/v1/namespaces/default/configmaps/ok",
            &[("content-type", "application/vnd.kubernetes.protobuf")],
            body,
        )
        .await
        .expect("an answer");
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["data"], json!({"k": "w"}));
}

//! REST over HTTPS with client certificates: discovery, health, version, the verbs,
//! and the Status of every refusal.

mod common;

use bytes::Bytes;
use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn serves_version_health_and_discovery() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");

    let v = c.get("/version?timeout=5s").await.unwrap();
    assert_eq!(v.status, StatusCode::OK);
    assert_eq!(v.json()["minor"], "33");
    for path in ["/healthz", "/livez", "/readyz"] {
        let r = c.get(path).await.unwrap();
        assert_eq!(
            (r.status, r.text().as_str()),
            (StatusCode::OK, "ok"),
            "{path}"
        );
    }
    let api = c.get("/api").await.unwrap().json();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let apis = c.get("/apis").await.unwrap().json();
    assert_eq!(apis["kind"], "APIGroupList");
    let groups: Vec<_> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].clone())
        .collect();
    assert_eq!(
        groups,
        [
            json!("apps"),
            json!("coordination.k8s.io"),
            json!("rbac.authorization.k8s.io"),
            json!("authorization.k8s.io")
        ]
    );
    let core = c.get("/api/v1").await.unwrap().json();
    assert_eq!(core["kind"], "APIResourceList");
    assert!(
        core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "pods")
    );
    let apps = c.get("/apis/apps/v1").await.unwrap().json();
    assert_eq!(apps["groupVersion"], "apps/v1");
    assert_eq!(
        c.get("/apis/apps").await.unwrap().json()["kind"],
        "APIGroup"
    );

    // What kubectl sends for discovery: aggregated first, plain JSON as a fallback.
    let r = c
        .request(
            Method::GET,
            "/api",
            &[("accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");

    for path in [
        "/nope",
        "/apis/batch/v1",
        "/api/v1/widgets",
        "/apis/apps/v1/namespaces/a/pods",
    ] {
        let r = c.get(path).await.unwrap();
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        let s = r.json();
        assert_eq!(
            (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_i64()),
            (Some("Status"), Some("NotFound"), Some(404))
        );
        assert_eq!(
            s["message"],
            "the server could not find the requested resource"
        );
    }

    // The system namespaces exist.
    let ns = c.get("/api/v1/namespaces").await.unwrap().json();
    let names: Vec<_> = ns["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    for want in rudder_apiserver::SYSTEM_NAMESPACES {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn verbs_over_rest_with_upstream_statuses() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    let base = "/api/v1/namespaces/default/configmaps";

    // JSON, YAML and no Content-Type at all (the Python client) all create.
    let r = c
        .must(
            Method::POST,
            base,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"},"data":{"a":"1"}}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let created = r.json();
    let r = c
        .request(
            Method::POST,
            base,
            &[("content-type", "application/yaml")],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n",
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = c
        .request(Method::POST, base, &[], r#"{"metadata":{"name":"bare"}}"#)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = c
        .must(Method::POST, base, r#"{"metadata":{"name":"j"}}"#)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["reason"], "AlreadyExists");
    assert_eq!(r.json()["message"], "configmaps \"j\" already exists");

    let got = c.get(&format!("{base}/j")).await.unwrap();
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json(), created);
    let yaml = c
        .request(
            Method::GET,
            &format!("{base}/j"),
            &[("accept", "application/yaml")],
            Bytes::new(),
        )
        .await
        .unwrap();
    assert_eq!(yaml.headers["content-type"], "application/yaml");
    assert!(yaml.text().contains("name: j"), "{}", yaml.text());

    let mut update = created.clone();
    update["data"]["a"] = json!("2");
    let r = c
        .must(Method::PUT, &format!("{base}/j"), &update.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = c
        .must(Method::PUT, &format!("{base}/j"), &update.to_string())
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["reason"], "Conflict");

    let list = c
        .get(&format!("{base}?labelSelector=&limit=2"))
        .await
        .unwrap()
        .json();
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(list["metadata"]["continue"].is_string());
    let r = c
        .get(&format!("{base}?labelSelector=a%20in%20("))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["reason"], "BadRequest");
    let r = c
        .get("/api/v1/configmaps?fieldSelector=spec.nodeName%3Dx")
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["message"],
        "field label not supported: spec.nodeName"
    );

    let r = c
        .request(Method::DELETE, &format!("{base}/j"), &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["metadata"]["name"], "j");
    let r = c
        .request(
            Method::DELETE,
            &format!("{base}/j"),
            &[],
            r#"{"propagationPolicy":"Background"}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["message"], "configmaps \"j\" not found");
    assert_eq!(
        r.json()["details"],
        json!({"name": "j", "kind": "configmaps"})
    );

    let r = c
        .request(Method::DELETE, base, &[], Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 2);
    cluster.stop().await.unwrap();
}

/// method, path, headers, body, expected code, expected reason.
type BadCase = (
    Method,
    String,
    Vec<(&'static str, &'static str)>,
    String,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_input_gets_a_4xx_status_never_a_5xx() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    let base = "/api/v1/namespaces/default/pods";
    let big = format!(
        r#"{{"metadata":{{"name":"big"}},"pad":"{}"}}"#,
        "x".repeat(3 * 1024 * 1024 + 10)
    );
    let cases: Vec<BadCase> = vec![
        (
            Method::POST,
            base.into(),
            vec![],
            "{".into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            "[1,2]".into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![("content-type", "application/yaml")],
            "a: [".into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            r#"{"kind":"Service","metadata":{"name":"x"}}"#.into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            r#"{"metadata":{"name":"x","namespace":"other"}}"#.into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            r#"{"metadata":{"name":"Not_Valid"}}"#.into(),
            422,
            "Invalid",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            r#"{"metadata":{}}"#.into(),
            422,
            "Invalid",
        ),
        (
            Method::POST,
            base.into(),
            vec![("content-type", "text/plain")],
            "{}".into(),
            415,
            "UnsupportedMediaType",
        ),
        (
            Method::POST,
            format!("{base}?fieldValidation=Strict"),
            vec![],
            r#"{"metadata":{"name":"s"},"spec":{"containers":[{"name":"c","image":"i"}]},"extra":1}"#
                .into(),
            400,
            "BadRequest",
        ),
        (
            Method::POST,
            base.into(),
            vec![],
            big,
            413,
            "RequestEntityTooLarge",
        ),
        (
            Method::GET,
            format!("{base}?limit=ten"),
            vec![],
            String::new(),
            400,
            "BadRequest",
        ),
        (
            Method::GET,
            format!("{base}?continue=garbage"),
            vec![],
            String::new(),
            400,
            "BadRequest",
        ),
        (
            Method::GET,
            format!("{base}?resourceVersion=abc"),
            vec![],
            String::new(),
            400,
            "BadRequest",
        ),
        (
            Method::GET,
            format!("{base}?resourceVersion=99999999"),
            vec![],
            String::new(),
            504,
            "Timeout",
        ),
        (
            Method::GET,
            format!("{base}/x/nosuchsub"),
            vec![],
            String::new(),
            404,
            "NotFound",
        ),
        (
            Method::PUT,
            base.into(),
            vec![],
            "{}".into(),
            405,
            "MethodNotAllowed",
        ),
        (
            Method::DELETE,
            format!("{base}/x"),
            vec![],
            "{not json".into(),
            400,
            "BadRequest",
        ),
        (
            Method::GET,
            base.into(),
            vec![("accept", "application/vnd.kubernetes.protobuf")],
            String::new(),
            406,
            "NotAcceptable",
        ),
    ];
    for (method, path, headers, body, code, reason) in cases {
        let r = c
            .request(method.clone(), &path, &headers, body)
            .await
            .unwrap();
        let s = r.json();
        assert_eq!(
            (r.status.as_u16(), s["reason"].as_str()),
            (code, Some(reason)),
            "{method} {path}: {}",
            r.text()
        );
        assert_eq!(s["kind"], "Status");
        assert_eq!(s["code"], code);
    }
    cluster.stop().await.unwrap();
}

/// Client certificates are requested, not required (bearer tokens need a way in),
/// so a client without one completes TLS and gets 401 with a Status, as
/// kube-apiserver answers anonymous requests when anonymous auth is off.
#[tokio::test]
async fn clients_without_a_certificate_are_refused() {
    let cluster = TestCluster::start().await;
    let bare = cluster.client_without_certificate();
    for path in ["/version", "/api/v1/namespaces", "/healthz"] {
        let r = bare.get(path).await.unwrap();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        let s = r.json();
        assert_eq!(
            (s["kind"].as_str(), s["reason"].as_str(), s["code"].as_i64()),
            (Some("Status"), Some("Unauthorized"), Some(401))
        );
    }
    cluster.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_store_is_a_503_and_not_ready_never_a_hang() {
    let mut cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    cluster.store.kill();
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        c.get("/api/v1/namespaces/default/configmaps"),
    )
    .await
    .expect("a request with the store down must answer")
    .unwrap();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.json()["reason"], "ServiceUnavailable");
    let ready = c.get("/readyz").await.unwrap();
    assert_eq!(ready.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(ready.text().contains("[-]etcd failed"), "{}", ready.text());
    let live = c.get("/livez").await.unwrap();
    assert_eq!(live.status, StatusCode::OK);
    cluster.stop().await.unwrap();
}

/// `fieldValidation=Strict`: unknown fields are refused in upstream's words — by the
/// body decoder on create and update (400), on the field `patch` for patches (422).
#[tokio::test]
async fn strict_field_validation_words_errors_as_upstream() {
    let cluster = TestCluster::start().await;
    let c = cluster.client("admin");
    let base = "/api/v1/namespaces/default/pods";
    let strict = format!("{base}?fieldValidation=Strict");
    let colour = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
        "spec":{"containers":[{"name":"c","image":"i","colour":"red"}]}}"#;
    let message = |r: &common::Reply| r.json()["message"].as_str().unwrap().to_string();

    let created = c.must(Method::POST, &strict, colour).await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST);
    assert_eq!(created.json()["reason"], "BadRequest");
    assert_eq!(
        message(&created),
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: \
         unknown field \"spec.containers[0].colour\""
    );

    // Without Strict the field is dropped (as upstream's default Warn/Ignore would).
    let plain = c.must(Method::POST, base, colour).await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.text());

    let updated = c
        .must(
            Method::PUT,
            &format!("{base}/p?fieldValidation=Strict"),
            colour,
        )
        .await;
    assert_eq!(updated.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&updated),
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: \
         unknown field \"spec.containers[0].colour\""
    );

    let labels = |content_type: &str, body: &str| {
        let c = c.clone();
        let (content_type, body) = (content_type.to_string(), body.to_string());
        async move {
            c.request(
                Method::PATCH,
                &format!("{base}/p?fieldValidation=Strict"),
                &[("content-type", content_type.as_str())],
                body,
            )
            .await
            .unwrap()
        }
    };
    let strategic = labels(
        "application/strategic-merge-patch+json",
        r#"{"metadata":{"labels":{"a":"b"}},"spec":{"priorityClass":"x"}}"#,
    )
    .await;
    assert_eq!(strategic.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(strategic.json()["reason"], "Invalid");
    assert_eq!(
        message(&strategic),
        " \"\" is invalid: patch: Invalid value: \
         \"map[metadata:map[labels:map[a:b]] spec:map[priorityClass:x]]\": \
         strict decoding error: unknown field \"spec.priorityClass\""
    );
    assert_eq!(strategic.json()["details"]["causes"][0]["field"], "patch");

    let merge = labels(
        "application/merge-patch+json",
        r#"{"spec":{"priorityClass":"x"}}"#,
    )
    .await;
    assert_eq!(merge.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = message(&merge);
    assert!(
        text.starts_with(" \"\" is invalid: patch: Invalid value: \"{")
            && text.ends_with("}\": strict decoding error: unknown field \"spec.priorityClass\""),
        "{text}"
    );
    // Nothing was written.
    let pod = c.get(&format!("{base}/p")).await.unwrap().json();
    assert_eq!(pod["metadata"]["labels"], json!(null));
}

/// Updates and patches start from the watch cache's copy of the object: a replica
/// whose cache trails the writes of another must still refuse a stale
/// resourceVersion, accept the current one, and answer a no-op with the store's
/// object, whatever its cache holds at that moment.
#[tokio::test]
async fn writes_through_a_trailing_replica_keep_their_preconditions() {
    let cluster = TestCluster::start().await;
    let primary = cluster.client("admin");
    let replica = cluster.add_replica().await;
    let base = "/api/v1/namespaces/default/configmaps";
    let cm = |n: usize, rv: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cached", "namespace": "default", "resourceVersion": rv},
               "data": {"n": n.to_string()}})
        .to_string()
    };
    let created = primary.must(Method::POST, base, &cm(0, "")).await.json();
    let mut rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("{base}/cached");
    for n in 1..=20 {
        // The primary moves the object on; the replica hears of it a moment later.
        let stale = rv.clone();
        let moved = primary.must(Method::PUT, &path, &cm(2 * n, &rv)).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
        rv = moved.json()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        // A stale resourceVersion is a 409, also for a write that would change
        // nothing against the replica's possibly older copy.
        for body in [
            cm(2 * n + 1, &stale),
            cm(2 * n - 2, &stale),
            cm(2 * n, &stale),
        ] {
            let refused = replica.must(Method::PUT, &path, &body).await;
            assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
        }
        // A no-op with the current resourceVersion answers the current object.
        let same = replica.must(Method::PUT, &path, &cm(2 * n, &rv)).await;
        assert_eq!(same.status, StatusCode::OK, "{}", same.text());
        assert_eq!(same.json()["metadata"]["resourceVersion"], rv.as_str());
        assert_eq!(same.json()["data"]["n"], (2 * n).to_string());
        // A patch without a precondition applies to the current object.
        let patched = replica
            .request(
                Method::PATCH,
                &path,
                &[("content-type", "application/merge-patch+json")],
                json!({"data": {"p": n.to_string()}}).to_string(),
            )
            .await
            .unwrap();
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
        assert_eq!(patched.json()["data"]["n"], (2 * n).to_string());
        rv = patched.json()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
    }
    let last = primary.get(&path).await.unwrap().json();
    assert_eq!(last["metadata"]["resourceVersion"], rv.as_str());
    assert_eq!(last["data"], json!({"n": "40", "p": "20"}));
}

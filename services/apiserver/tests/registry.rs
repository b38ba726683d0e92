//! The registry suite: every verb against a real store (etcd 3.4 by default,
//! rudder-store with `RUDDER_TEST_STORE=rudder-store`), same assertions for both.

mod common;

use common::TestCluster;
use rudder_api::resource::{ResourceInfo, resolve};
use rudder_apiserver::Error;
use rudder_apiserver::admission::RequestContext;
use rudder_apiserver::registry::list::{ListOptions, RawListOptions};
use rudder_apiserver::registry::{
    CollectionRef, DeleteOptions, ObjectRef, Preconditions, Registry, WriteOptions,
};
use rudder_pki::Identity;
use serde_json::{Value, json};

fn ctx() -> RequestContext {
    RequestContext::new(Identity::new("admin", ["system:masters"]))
}

fn res(name: &str) -> &'static ResourceInfo {
    resolve(name).unwrap()
}

fn coll(resource: &str, ns: Option<&str>) -> CollectionRef {
    CollectionRef {
        resource: res(resource),
        namespace: ns.map(str::to_string),
    }
}

fn obj(resource: &str, ns: Option<&str>, name: &str) -> ObjectRef {
    ObjectRef {
        resource: res(resource),
        namespace: ns.map(str::to_string),
        name: name.to_string(),
        subresource: None,
    }
}

fn opts(raw: RawListOptions, resource: &str) -> ListOptions {
    ListOptions::parse(res(resource), &raw).unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

async fn create_cm(r: &Registry, ns: &str, name: &str, labels: Value) -> Value {
    r.create(
        &ctx(),
        &coll("cm", Some(ns)),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "labels": labels}, "data": {"k": name}}),
        &WriteOptions::default(),
    )
    .await
    .unwrap()
}

fn deploy_spec(replicas: i64) -> Value {
    json!({"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
           "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}})
}

fn rv(object: &Value) -> i64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn create_get_list_delete_round_trip() {
    let (_dir, _store, r) = TestCluster::registry().await;
    let created = create_cm(&r, "default", "one", json!({"app": "web"})).await;
    assert_eq!(created["kind"], "ConfigMap");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["uid"].as_str().unwrap().len(), 36);
    assert!(
        created["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(rv(&created) > 0);

    let got = r
        .get(&ctx(), &obj("cm", Some("default"), "one"))
        .await
        .unwrap();
    assert_eq!(got, created);

    let list = r
        .list(
            &ctx(),
            &coll("cm", Some("default")),
            &opts(RawListOptions::default(), "cm"),
        )
        .await
        .unwrap();
    assert_eq!(list["kind"], "ConfigMapList");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(names(&list), ["one"]);
    assert_eq!(
        list["items"][0].get("kind"),
        None,
        "list items carry no type"
    );
    assert!(rv(&list) >= rv(&created));

    let deleted = r
        .delete(
            &ctx(),
            &obj("cm", Some("default"), "one"),
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(deleted["metadata"]["uid"], created["metadata"]["uid"]);
    let err = r
        .get(&ctx(), &obj("cm", Some("default"), "one"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 404);
    assert_eq!(err.to_string(), "configmaps \"one\" not found");
    let err = r
        .delete(
            &ctx(),
            &obj("cm", Some("default"), "one"),
            &DeleteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 404);
}

#[tokio::test]
async fn create_conflicts_and_generated_names() {
    let (_dir, _store, r) = TestCluster::registry().await;
    create_cm(&r, "a", "dup", json!({})).await;
    let err = r
        .create(
            &ctx(),
            &coll("cm", Some("a")),
            json!({"metadata": {"name": "dup"}}),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(err.to_status().reason.as_deref(), Some("AlreadyExists"));
    assert_eq!(err.to_string(), "configmaps \"dup\" already exists");

    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let created = r
            .create(
                &ctx(),
                &coll("deploy", Some("a")),
                json!({"metadata": {"generateName": "web-"}, "spec": deploy_spec(1)}),
                &WriteOptions::default(),
            )
            .await
            .unwrap();
        let name = created["metadata"]["name"].as_str().unwrap().to_string();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert_eq!(created["metadata"]["generation"], 1);
        assert_eq!(created["apiVersion"], "apps/v1");
        seen.insert(name);
    }
    assert_eq!(seen.len(), 5);

    // A dry run stores nothing.
    r.create(
        &ctx(),
        &coll("cm", Some("a")),
        json!({"metadata": {"name": "dry"}}),
        &WriteOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        r.get(&ctx(), &obj("cm", Some("a"), "dry"))
            .await
            .unwrap_err()
            .code(),
        404
    );
}

#[tokio::test]
async fn updates_are_compare_and_swap_and_track_generation_and_status() {
    let (_dir, _store, r) = TestCluster::registry().await;
    let d = r
        .create(
            &ctx(),
            &coll("deploy", Some("a")),
            json!({"metadata": {"name": "web"}, "spec": deploy_spec(1)}),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    let web = obj("deploy", Some("a"), "web");

    let mut changed = d.clone();
    changed["spec"]["replicas"] = json!(3);
    let updated = r
        .update(&ctx(), &web, changed.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(updated["metadata"]["generation"], 2);
    assert!(rv(&updated) > rv(&d));

    // The same body again carries a stale resourceVersion.
    let err = r
        .update(&ctx(), &web, changed, &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.to_string(),
        "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
    );

    // No resourceVersion: unconditional. Labels only: generation stays.
    let mut labels_only = updated.clone();
    labels_only["metadata"]["labels"] = json!({"tier": "front"});
    labels_only["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let relabeled = r
        .update(&ctx(), &web, labels_only, &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(relabeled["metadata"]["generation"], 2);
    assert_eq!(relabeled["metadata"]["labels"]["tier"], "front");

    // A no-op update writes nothing.
    let same = r
        .update(&ctx(), &web, relabeled.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(rv(&same), rv(&relabeled));

    // Status: the main resource ignores it, the subresource takes only it.
    let mut with_status = relabeled.clone();
    with_status["status"] = json!({"replicas": 3});
    let ignored = r
        .update(&ctx(), &web, with_status.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(ignored.get("status"), None);
    let status_ref = ObjectRef {
        subresource: Some("status".into()),
        ..web.clone()
    };
    let mut status_body = ignored.clone();
    status_body["status"] = json!({"replicas": 3});
    status_body["spec"]["replicas"] = json!(99);
    let st = r
        .update(&ctx(), &status_ref, status_body, &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(st["status"], json!({"replicas": 3}));
    assert_eq!(st["spec"]["replicas"], 3);
    assert_eq!(st["metadata"]["generation"], 2);

    // Updating what does not exist is a 404.
    let err = r
        .update(
            &ctx(),
            &obj("deploy", Some("a"), "ghost"),
            json!({"metadata": {"name": "ghost"}}),
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 404);
}

#[tokio::test]
async fn lists_filter_and_paginate_at_one_revision() {
    let (_dir, _store, r) = TestCluster::registry().await;
    for (ns, name, app) in [
        ("a", "c1", "web"),
        ("a", "c2", "db"),
        ("a", "c3", "web"),
        ("ab", "c4", "web"),
        ("b", "c5", "web"),
    ] {
        create_cm(&r, ns, name, json!({"app": app})).await;
    }
    let all = RawListOptions::default();
    let in_a = r
        .list(&ctx(), &coll("cm", Some("a")), &opts(all.clone(), "cm"))
        .await
        .unwrap();
    assert_eq!(
        names(&in_a),
        ["c1", "c2", "c3"],
        "namespace a must not see ab"
    );
    let everywhere = r
        .list(&ctx(), &coll("cm", None), &opts(all.clone(), "cm"))
        .await
        .unwrap();
    assert_eq!(names(&everywhere).len(), 5);

    let web = RawListOptions {
        label_selector: "app=web".into(),
        ..Default::default()
    };
    let list = r
        .list(&ctx(), &coll("cm", None), &opts(web, "cm"))
        .await
        .unwrap();
    assert_eq!(names(&list), ["c1", "c3", "c4", "c5"]);
    let not_web = RawListOptions {
        label_selector: "app notin (web)".into(),
        field_selector: "metadata.namespace=a".into(),
        ..Default::default()
    };
    let list = r
        .list(&ctx(), &coll("cm", None), &opts(not_web, "cm"))
        .await
        .unwrap();
    assert_eq!(names(&list), ["c2"]);
    let by_name = RawListOptions {
        field_selector: "metadata.name=c4".into(),
        ..Default::default()
    };
    let list = r
        .list(&ctx(), &coll("cm", None), &opts(by_name, "cm"))
        .await
        .unwrap();
    assert_eq!(names(&list), ["c4"]);

    // Pages of two, at the first page's revision even when writes happen meanwhile.
    let mut page = RawListOptions {
        limit: "2".into(),
        ..Default::default()
    };
    let first = r
        .list(&ctx(), &coll("cm", None), &opts(page.clone(), "cm"))
        .await
        .unwrap();
    assert_eq!(names(&first), ["c1", "c2"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    create_cm(&r, "a", "c0-late", json!({})).await;
    let mut seen = names(&first);
    let mut token = first["metadata"]["continue"].as_str().unwrap().to_string();
    loop {
        page.continue_token = token.clone();
        let next = r
            .list(&ctx(), &coll("cm", None), &opts(page.clone(), "cm"))
            .await
            .unwrap();
        assert_eq!(
            next["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]
        );
        seen.extend(names(&next));
        match next["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ["c1", "c2", "c3", "c4", "c5"]);

    // Filtered pages fill up to the limit.
    let web_pages = RawListOptions {
        label_selector: "app=web".into(),
        limit: "3".into(),
        ..Default::default()
    };
    let list = r
        .list(&ctx(), &coll("cm", None), &opts(web_pages, "cm"))
        .await
        .unwrap();
    assert_eq!(names(&list), ["c1", "c3", "c4"]);
    assert!(list["metadata"]["continue"].is_string());
    assert_eq!(list["metadata"].get("remainingItemCount"), None);
}

#[tokio::test]
async fn resource_versions_exact_future_and_compacted() {
    let (_dir, _store, r) = TestCluster::registry().await;
    let first = create_cm(&r, "a", "x", json!({})).await;
    let mut second = first.clone();
    second["data"] = json!({"k": "changed"});
    let second = r
        .update(
            &ctx(),
            &obj("cm", Some("a"), "x"),
            second,
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    let exact = RawListOptions {
        resource_version: rv(&first).to_string(),
        resource_version_match: "Exact".into(),
        ..Default::default()
    };
    let old = r
        .list(&ctx(), &coll("cm", Some("a")), &opts(exact, "cm"))
        .await
        .unwrap();
    assert_eq!(old["items"][0]["data"]["k"], "x");
    assert_eq!(old["metadata"]["resourceVersion"], rv(&first).to_string());

    let future = RawListOptions {
        resource_version: (rv(&second) + 1000).to_string(),
        ..Default::default()
    };
    let err = r
        .list(&ctx(), &coll("cm", Some("a")), &opts(future, "cm"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 504);

    // Compact through the registry's own (mTLS) store connection.
    let mut kv = r.storage().client().kv_client();
    kv.compact(rv(&second), None).await.unwrap();
    let compacted = RawListOptions {
        resource_version: rv(&first).to_string(),
        resource_version_match: "Exact".into(),
        ..Default::default()
    };
    let err = r
        .list(&ctx(), &coll("cm", Some("a")), &opts(compacted, "cm"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), 410);
    assert!(matches!(err, Error::Expired(_)));
}

#[tokio::test]
async fn deletes_honour_preconditions_finalizers_and_collections() {
    let (_dir, _store, r) = TestCluster::registry().await;
    let x = create_cm(&r, "a", "x", json!({})).await;
    let wrong_uid = DeleteOptions {
        preconditions: Some(Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let err = r
        .delete(&ctx(), &obj("cm", Some("a"), "x"), &wrong_uid)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 409);
    assert!(
        err.to_string()
            .contains("Precondition failed: UID in precondition: nope"),
        "{err}"
    );

    // With a finalizer: marked, then gone when the finalizer is removed.
    let f = r
        .create(
            &ctx(),
            &coll("cm", Some("a")),
            json!({"metadata": {"name": "f", "finalizers": ["example.com/hold"]}}),
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    let marked = r
        .delete(
            &ctx(),
            &obj("cm", Some("a"), "f"),
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert!(rv(&marked) > rv(&f));
    let still = r.get(&ctx(), &obj("cm", Some("a"), "f")).await.unwrap();
    let mut released = still.clone();
    released["metadata"]["finalizers"] = json!([]);
    r.update(
        &ctx(),
        &obj("cm", Some("a"), "f"),
        released,
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.get(&ctx(), &obj("cm", Some("a"), "f"))
            .await
            .unwrap_err()
            .code(),
        404
    );

    create_cm(&r, "a", "y", json!({"drop": "yes"})).await;
    create_cm(&r, "a", "z", json!({"drop": "yes"})).await;
    let selected = RawListOptions {
        label_selector: "drop=yes".into(),
        ..Default::default()
    };
    let deleted = r
        .delete_collection(
            &ctx(),
            &coll("cm", Some("a")),
            &opts(selected, "cm"),
            &DeleteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(names(&deleted), ["y", "z"]);
    let left = r
        .list(
            &ctx(),
            &coll("cm", Some("a")),
            &opts(RawListOptions::default(), "cm"),
        )
        .await
        .unwrap();
    assert_eq!(names(&left), ["x"]);
    assert_eq!(left["items"][0]["metadata"]["uid"], x["metadata"]["uid"]);

    // Namespaces cannot be deleted as a collection.
    let err = r
        .delete_collection(
            &ctx(),
            &coll("ns", None),
            &opts(RawListOptions::default(), "ns"),
            &DeleteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 405);
}

#[tokio::test]
async fn patches_json_merge_and_strategic() {
    use rudder_apiserver::registry::PatchKind;
    let (_dir, _store, r) = TestCluster::registry().await;
    r.create(
        &ctx(),
        &coll("deploy", Some("a")),
        json!({"metadata": {"name": "web"}, "spec": deploy_spec(1)}),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let web = obj("deploy", Some("a"), "web");
    let w = WriteOptions::default();

    let merged = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Merge,
            br#"{"spec":{"replicas":4},"metadata":{"labels":{"x":"1"}}}"#,
            &w,
        )
        .await
        .unwrap();
    assert_eq!(merged["spec"]["replicas"], 4);
    assert_eq!(merged["metadata"]["labels"]["x"], "1");
    assert_eq!(merged["metadata"]["generation"], 2);

    // Strategic: containers merge by name.
    let strategic = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Strategic,
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#,
            &w,
        )
        .await
        .unwrap();
    let names: Vec<_> = strategic["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "side"]);

    let json_patched = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Json,
            br#"[{"op":"replace","path":"/spec/replicas","value":2}]"#,
            &w,
        )
        .await
        .unwrap();
    assert_eq!(json_patched["spec"]["replicas"], 2);

    // A failing test op is a 422, a malformed patch a 400, a stale RV a 409.
    let err = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Json,
            br#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
            &w,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 422);
    let err = r
        .patch(&ctx(), &web, PatchKind::Merge, b"{oops", &w)
        .await
        .unwrap_err();
    assert_eq!(err.code(), 400);
    let err = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Merge,
            br#"{"metadata":{"resourceVersion":"1"}}"#,
            &w,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 409);
    // Patching the selector of a deployment is refused by validation.
    let err = r
        .patch(
            &ctx(),
            &web,
            PatchKind::Merge,
            br#"{"spec":{"selector":{"matchLabels":{"app":"other"}}}}"#,
            &w,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 422);
    let err = r
        .patch(
            &ctx(),
            &obj("deploy", Some("a"), "ghost"),
            PatchKind::Merge,
            b"{}",
            &w,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 404);

    // The status subresource takes only status.
    let status_ref = ObjectRef {
        subresource: Some("status".into()),
        ..web.clone()
    };
    let st = r
        .patch(
            &ctx(),
            &status_ref,
            PatchKind::Merge,
            br#"{"status":{"replicas":2},"spec":{"replicas":7}}"#,
            &w,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            st["status"]["replicas"].as_i64(),
            st["spec"]["replicas"].as_i64()
        ),
        (Some(2), Some(2))
    );
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    use rudder_apiserver::registry::PatchKind;
    let (_dir, _store, r) = TestCluster::registry().await;
    r.create(
        &ctx(),
        &coll("rs", Some("a")),
        json!({"metadata": {"name": "web"}, "spec": deploy_spec(2)}),
        &WriteOptions::default(),
    )
    .await
    .unwrap();
    let scale_ref = ObjectRef {
        subresource: Some("scale".into()),
        ..obj("rs", Some("a"), "web")
    };
    let scale = r.get(&ctx(), &scale_ref).await.unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=web");

    let patched = r
        .patch(
            &ctx(),
            &scale_ref,
            PatchKind::Merge,
            br#"{"spec":{"replicas":5}}"#,
            &WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(patched["spec"]["replicas"], 5);
    let rs = r.get(&ctx(), &obj("rs", Some("a"), "web")).await.unwrap();
    assert_eq!(rs["spec"]["replicas"], 5);
    assert_eq!(rs["metadata"]["generation"], 2);

    let mut body = patched.clone();
    body["spec"]["replicas"] = json!(1);
    let updated = r
        .update(&ctx(), &scale_ref, body.clone(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(updated["spec"]["replicas"], 1);
    // The same Scale again is stale.
    let err = r
        .update(&ctx(), &scale_ref, body, &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), 409);
    let err = r
        .patch(
            &ctx(),
            &scale_ref,
            PatchKind::Merge,
            br#"{"spec":{"replicas":-3}}"#,
            &WriteOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), 422);
    let cm_scale = ObjectRef {
        subresource: Some("scale".into()),
        ..obj("cm", Some("a"), "x")
    };
    assert_eq!(r.get(&ctx(), &cm_scale).await.unwrap_err().code(), 404);
}

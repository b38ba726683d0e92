//! Scenario tests of field ownership: the sequences a cluster sees (create, apply,
//! scale, apply again, force) on plain JSON objects.

use serde_json::{Value, json};

use super::*;

const T1: &str = "2026-01-01T00:00:01Z";
const T2: &str = "2026-01-01T00:00:02Z";

fn writer<'a>(manager: &'a str, now: &'a str) -> Writer<'a> {
    Writer {
        manager,
        subresource: "",
        api_version: "apps/v1",
        now,
    }
}

fn config(replicas: Option<i64>, containers: Value) -> Value {
    let mut c = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": containers}}}});
    if let Some(r) = replicas {
        c["spec"]["replicas"] = json!(r);
    }
    c
}

fn nginx() -> Value {
    json!([{"name": "web", "image": "nginx"}])
}

fn entries(object: &Value) -> Vec<ManagedEntry> {
    managed::decode(&object["metadata"]["managedFields"]).unwrap()
}

fn owned(object: &Value, manager: &str) -> Vec<String> {
    entries(object)
        .iter()
        .filter(|e| e.manager == manager)
        .flat_map(|e| e.fields.paths())
        .map(|p| fieldset::display(&p))
        .collect()
}

fn apply_as(live: Option<&Value>, cfg: &Value, manager: &str, force: bool) -> Result<Value, Error> {
    apply(
        PatchType::Deployment,
        live,
        cfg,
        &writer(manager, T2),
        force,
        Scope::AllButStatus,
    )
}

#[test]
fn apply_creates_then_is_idempotent_then_removes_what_it_dropped() {
    let created = apply(
        PatchType::Deployment,
        None,
        &config(Some(2), nginx()),
        &writer("kubectl", T1),
        false,
        Scope::AllButStatus,
    )
    .unwrap();
    assert_eq!(created["spec"]["replicas"], 2);
    let e = entries(&created);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].operation, e[0].time.as_deref()),
        (Operation::Apply, Some(T1))
    );
    assert!(owned(&created, "kubectl").contains(&".spec.replicas".to_string()));
    assert!(!owned(&created, "kubectl").contains(&".metadata.name".to_string()));

    // The same configuration again: nothing changes, not even the entry's time.
    let again = apply_as(Some(&created), &config(Some(2), nginx()), "kubectl", false).unwrap();
    assert_eq!(again, created);

    // Dropping replicas from the configuration removes the field.
    let dropped = apply_as(Some(&created), &config(None, nginx()), "kubectl", false).unwrap();
    assert_eq!(dropped["spec"].get("replicas"), None);
    assert_eq!(entries(&dropped)[0].time.as_deref(), Some(T2));
}

#[test]
fn conflicts_name_the_owner_and_force_takes_the_field_over() {
    let created = apply_as(None, &config(Some(2), nginx()), "kubectl", false).unwrap();
    // `kubectl scale`: an Update of spec.replicas by another manager.
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    record_update(
        PatchType::Deployment,
        &mut scaled,
        Some(&created),
        &Writer {
            subresource: "scale",
            ..writer("kubectl-scale", T2)
        },
        Scope::Whole,
    )
    .unwrap();
    assert_eq!(owned(&scaled, "kubectl-scale"), vec![".spec.replicas"]);
    assert!(!owned(&scaled, "kubectl").contains(&".spec.replicas".to_string()));

    // Applying replicas again conflicts; the same value would not.
    let Err(Error::Conflicts(c)) =
        apply_as(Some(&scaled), &config(Some(3), nginx()), "kubectl", false)
    else {
        panic!("expected a conflict");
    };
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    let shared = apply_as(Some(&scaled), &config(Some(5), nginx()), "kubectl", false).unwrap();
    assert!(owned(&shared, "kubectl").contains(&".spec.replicas".to_string()));
    assert_eq!(owned(&shared, "kubectl-scale"), vec![".spec.replicas"]);

    // Dropping a shared field keeps it: the other manager still owns it.
    let kept = apply_as(Some(&shared), &config(None, nginx()), "kubectl", false).unwrap();
    assert_eq!(kept["spec"]["replicas"], 5);

    let forced = apply_as(Some(&scaled), &config(Some(3), nginx()), "kubectl", true).unwrap();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(owned(&forced, "kubectl-scale").is_empty(), "{forced}");
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let created = apply_as(None, &config(Some(2), nginx()), "a", false).unwrap();
    let other = config(Some(4), json!([{"name": "web", "image": "httpd"}]));
    let Err(Error::Conflicts(c)) = apply_as(Some(&created), &other, "b", false) else {
        panic!("expected conflicts");
    };
    assert_eq!(
        c.message(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn two_appliers_merge_containers_by_name() {
    let created = apply_as(None, &config(Some(1), nginx()), "team-a", false).unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluentd"}]}}}});
    let both = apply_as(Some(&created), &sidecar, "team-b", false).unwrap();
    let names: Vec<&str> = both["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["web", "log"]);
    // team-b drops its sidecar: only its container goes.
    let empty = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    let back = apply_as(Some(&both), &empty, "team-b", false).unwrap();
    assert_eq!(back["spec"]["template"]["spec"]["containers"], nginx());
    assert!(owned(&back, "team-b").is_empty());
}

#[test]
fn updates_record_what_they_change_and_merge_per_manager() {
    let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "1"}});
    let cm = Writer {
        api_version: "v1",
        ..writer("kubectl-create", T1)
    };
    record_update(PatchType::OtherKind, &mut created, None, &cm, Scope::Whole).unwrap();
    assert_eq!(
        created["metadata"]["managedFields"],
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": T1,
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:x": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}}])
    );
    // An unchanged update keeps the entry as it is.
    let mut same = created.clone();
    let edit = Writer {
        api_version: "v1",
        ..writer("kubectl-edit", T2)
    };
    record_update(
        PatchType::OtherKind,
        &mut same,
        Some(&created),
        &edit,
        Scope::Whole,
    )
    .unwrap();
    assert_eq!(same, created);
    // kubectl-edit takes data.x and adds data.y.
    let mut edited = created.clone();
    edited["data"] = json!({"x": "2", "y": "3"});
    record_update(
        PatchType::OtherKind,
        &mut edited,
        Some(&created),
        &edit,
        Scope::Whole,
    )
    .unwrap();
    assert_eq!(owned(&edited, "kubectl-edit"), vec![".data.x", ".data.y"]);
    assert_eq!(
        owned(&edited, "kubectl-create"),
        vec![".data", ".metadata.labels", ".metadata.labels.a"]
    );

    // `managedFields: []` resets them; bad ones are a 422.
    let mut reset = edited.clone();
    reset["metadata"]["managedFields"] = json!([]);
    record_update(
        PatchType::OtherKind,
        &mut reset,
        Some(&edited),
        &edit,
        Scope::Whole,
    )
    .unwrap();
    assert_eq!(reset["metadata"].get("managedFields"), None);
    let mut bad = edited.clone();
    bad["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Sideways"}]);
    assert!(matches!(
        record_update(
            PatchType::OtherKind,
            &mut bad,
            Some(&edited),
            &edit,
            Scope::Whole
        ),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn status_writes_own_only_status() {
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                      "spec": {"replicas": 1}});
    let mut new = live.clone();
    new["status"] = json!({"replicas": 1});
    let w = Writer {
        subresource: "status",
        ..writer("controller", T1)
    };
    record_update(
        PatchType::Deployment,
        &mut new,
        Some(&live),
        &w,
        Scope::StatusOnly,
    )
    .unwrap();
    let e = entries(&new);
    assert_eq!(
        (e[0].subresource.as_str(), e[0].fields.paths().len()),
        ("status", 1)
    );
    let applied = apply(
        PatchType::Deployment,
        Some(&new),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"replicas": 9}, "status": {"replicas": 2}}),
        &Writer {
            manager: "applier",
            ..w
        },
        true,
        Scope::StatusOnly,
    )
    .unwrap();
    // The applier took status.replicas over (forced) and owns nothing of spec.
    assert_eq!(owned(&applied, "applier"), vec![".status.replicas"]);
    assert!(owned(&applied, "controller").is_empty());
    assert!(
        entries(&applied)
            .iter()
            .all(|e| e.fields.paths().iter().all(|p| p[0] == "f:status"))
    );
}

#[test]
fn reapplying_status_with_an_ignored_spec_keeps_the_entry_time() {
    let live = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                      "spec": {"replicas": 1}});
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "spec": {"replicas": 9}, "status": {"replicas": 2}});
    let at = |now| Writer {
        subresource: "status",
        ..writer("ctl", now)
    };
    let mut stored = apply(
        PatchType::Deployment,
        Some(&live),
        &config,
        &at(T1),
        false,
        Scope::StatusOnly,
    )
    .unwrap();
    // The status write keeps the stored spec.
    stored["spec"] = live["spec"].clone();
    let again = apply(
        PatchType::Deployment,
        Some(&stored),
        &config,
        &at(T2),
        false,
        Scope::StatusOnly,
    )
    .unwrap();
    assert_eq!(entries(&again)[0].time.as_deref(), Some(T1));
    assert_eq!(again["metadata"], stored["metadata"]);
}

#[test]
fn update_entries_past_ten_fold_into_ancient_changes() {
    let mut object =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    for n in 0..12 {
        let old = object.clone();
        object["data"][format!("k{n}")] = json!("v");
        let manager = format!("m{n:02}");
        let now = format!("2026-01-01T00:00:{n:02}Z");
        let w = Writer {
            manager: &manager,
            subresource: "",
            api_version: "v1",
            now: &now,
        };
        record_update(
            PatchType::OtherKind,
            &mut object,
            Some(&old),
            &w,
            Scope::Whole,
        )
        .unwrap();
    }
    let e = entries(&object);
    assert_eq!(e.len(), 10);
    let ancient = e.iter().find(|e| e.manager == "ancient-changes").unwrap();
    assert_eq!(
        ancient
            .fields
            .paths()
            .iter()
            .map(|p| fieldset::display(p))
            .collect::<Vec<_>>(),
        vec![".data.k0", ".data.k1", ".data.k2"]
    );
    assert!(e.iter().any(|e| e.manager == "m11"));
    assert!(!e.iter().any(|e| e.manager == "m02"));
}

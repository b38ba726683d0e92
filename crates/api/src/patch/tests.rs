use super::*;
use serde_json::json;

fn smp(doc: Value, patch: Value, ty: PatchType) -> Value {
    apply_strategic_merge_patch(&doc, &patch, ty).unwrap_or_else(|e| panic!("{patch}: {e}"))
}

fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                     "finalizers": ["a", "b"], "resourceVersion": "7"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "nginx", "image": "nginx:1.25",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "terminationMessagePath": "/dev/termination-log",
                        "imagePullPolicy": "IfNotPresent"
                    }],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                    "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"
                }
            }
        }
    })
}

#[test]
fn kubectl_apply_image_change() {
    // The document kubectl 1.33 sends for `kubectl apply` after changing the image.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}});
    let out = smp(live_deployment(), patch, PatchType::Deployment);
    let mut want = live_deployment();
    want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.26");
    assert_eq!(out, want);
}

#[test]
fn merge_lists_by_key() {
    let d = PatchType::Deployment;
    let tpl = |v: Value| json!({"spec": {"template": {"spec": v}}});
    let containers = |v: &Value| v["spec"]["template"]["spec"]["containers"].clone();

    let out = smp(
        live_deployment(),
        tpl(json!({"containers": [{"name": "sidecar", "image": "busybox"}]})),
        d,
    );
    let names: Vec<_> = containers(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("nginx"), json!("sidecar")]);

    let out = smp(
        live_deployment(),
        tpl(
            json!({"containers": [{"name": "nginx", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}], "ports": [{"containerPort": 443}]}]}),
        ),
        d,
    );
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}])
    );
    assert_eq!(
        containers(&out)[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}])
    );

    let out = smp(
        live_deployment(),
        tpl(json!({"containers": [{"name": "nginx", "env": [{"name": "A", "$patch": "delete"}]}]})),
        d,
    );
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name": "B", "value": "2"}])
    );

    let out = smp(
        live_deployment(),
        tpl(json!({"containers": [{"name": "nginx", "$patch": "delete"}]})),
        d,
    );
    assert_eq!(containers(&out), json!([]));

    let out = smp(
        live_deployment(),
        tpl(json!({"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]})),
        d,
    );
    assert_eq!(containers(&out), json!([{"name": "only", "image": "x"}]));

    // Tolerations have no merge key upstream: the list is replaced.
    let out = smp(
        live_deployment(),
        tpl(json!({"tolerations": [{"key": "k2", "operator": "Exists"}]})),
        d,
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "k2", "operator": "Exists"}])
    );

    let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
    let out = smp(
        svc,
        json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        PatchType::Service,
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );

    let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}});
    let out = smp(
        pod,
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        PatchType::Pod,
    );
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}])
    );
}

#[test]
fn maps_nulls_and_directives() {
    let d = PatchType::Deployment;
    let out = smp(
        live_deployment(),
        json!({"metadata": {"labels": {"tier": "fe", "app": null}}, "spec": {"replicas": 5}}),
        d,
    );
    assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
    assert_eq!(out["spec"]["replicas"], json!(5));

    let out = smp(
        live_deployment(),
        json!({"spec": {"selector": {"$patch": "replace", "matchLabels": {"x": "y"}}}}),
        d,
    );
    assert_eq!(out["spec"]["selector"], json!({"matchLabels": {"x": "y"}}));

    let out = smp(
        live_deployment(),
        json!({"spec": {"strategy": {"$patch": "delete"}}}),
        d,
    );
    // As upstream: `$patch: delete` on a map leaves it empty (defaulting refills it).
    assert_eq!(out["spec"]["strategy"], json!({}));

    // $retainKeys drops what the new strategy no longer has.
    let out = smp(
        live_deployment(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        d,
    );
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    // Finalizers are a set: added ones are appended, $deleteFromPrimitiveList removes.
    let out = smp(
        live_deployment(),
        json!({"metadata": {"finalizers": ["b", "c"]}}),
        d,
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let out = smp(
        live_deployment(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        d,
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));

    // A new field arrives with its directives resolved.
    let out = smp(
        json!({}),
        json!({"metadata": {"labels": {"a": "b", "gone": null}}, "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}], "containers": [{"name": "c", "image": "i"}]}}}}),
        d,
    );
    assert_eq!(
        out,
        json!({"metadata": {"labels": {"a": "b"}}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    );
}

#[test]
fn set_element_order() {
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "injected"}, {"name": "b"}]}});
    // Reorder only: server-only elements keep their place relative to the others.
    let out = smp(
        pod.clone(),
        json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
        PatchType::Pod,
    );
    let names: Vec<_> = out["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["injected", "b", "a"]);

    let out = smp(
        pod,
        json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}], "containers": [{"name": "c"}]}}),
        PatchType::Pod,
    );
    let names: Vec<_> = out["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["c", "a", "injected", "b"]);

    let meta = json!({"metadata": {"finalizers": ["x", "y"]}});
    let out = smp(
        meta,
        json!({"metadata": {"$setElementOrder/finalizers": ["z", "y", "x"], "finalizers": ["z"]}}),
        PatchType::Pod,
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["z", "y", "x"]));
}

#[test]
fn bad_patches_are_errors() {
    let cases = [
        (json!([]), "a strategic merge patch must be a JSON object"),
        (
            json!({"spec": {"containers": [{"image": "x"}]}}),
            "map: {\"image\":\"x\"} does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"containers": ["x"]}}),
            "map: \"x\" does not contain declared merge key: name",
        ),
        (
            json!({"spec": {"$patch": "merge"}}),
            "unknown patch type: \"merge\" in map: {\"$patch\":\"merge\"}",
        ),
        (
            json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            "delete patch type with no merge key defined",
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
            "merging lists cannot yet be specified in the patch",
        ),
        (
            json!({"spec": {"$patch": "explode"}}),
            "unknown patch type: \"explode\" in map: {\"$patch\":\"explode\"}",
        ),
        (
            json!({"spec": {"containers": [{"name": "a", "$patch": 1}]}}),
            "unknown patch type: 1 in map: {\"$patch\":1,\"name\":\"a\"}",
        ),
        (
            json!({"spec": {"$retainKeys": "x"}}),
            "invalid patch: $retainKeys must be a list of strings, got \"x\"",
        ),
        (
            json!({"spec": {"$retainKeys": ["a"], "b": 1}}),
            "cannot find key: b in $retainKeys list [\"a\"]",
        ),
        (
            json!({"spec": {"$setElementOrder/containers": 3}}),
            "invalid patch: $setElementOrder/containers must be a list, got 3",
        ),
        (
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
            "invalid patch: $deleteFromPrimitiveList/finalizers must be a list, got \"a\"",
        ),
    ];
    let pod = json!({"spec": {"containers": [{"name": "a"}]}, "metadata": {"finalizers": ["a"]}});
    for (patch, want) in cases {
        assert_eq!(
            apply_strategic_merge_patch(&pod, &patch, PatchType::Pod),
            Err(Error::Patch(want.to_string())),
            "{patch}"
        );
    }
}

#[test]
fn json_and_merge_patches() {
    let doc = json!({"spec": {"replicas": 1, "template": {"metadata": {"labels": {"a": "b"}}}}, "metadata": {"annotations": {"x": "1"}}});
    // The shape `kubectl rollout undo` sends.
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": {"metadata": {"creationTimestamp": null, "labels": {"a": "c"}}, "spec": {"containers": [{"name": "n", "image": "i", "resources": {}}]}}},
        {"op": "replace", "path": "/metadata/annotations", "value": {"deployment.kubernetes.io/revision": "1"}}
    ]);
    let out = apply_json_patch(&doc, &patch).unwrap();
    assert_eq!(out["spec"]["template"]["metadata"]["labels"]["a"], "c");
    assert_eq!(
        out["metadata"]["annotations"],
        json!({"deployment.kubernetes.io/revision": "1"})
    );
    assert!(
        apply_json_patch(&doc, &json!({"op": "add"}))
            .unwrap_err()
            .to_string()
            .starts_with("invalid JSON patch:")
    );
    assert!(matches!(
        apply_json_patch(&doc, &json!([{"op": "remove", "path": "/nope"}])),
        Err(Error::PatchApply(_))
    ));
    assert!(
        apply_json_patch(
            &doc,
            &json!([{"op": "test", "path": "/spec/replicas", "value": 2}])
        )
        .is_err()
    );
    assert_eq!(apply_json_patch(&doc, &json!([])).unwrap(), doc);

    // The shape `kubectl scale` sends to /scale.
    let out = apply_merge_patch(
        &doc,
        &json!({"spec": {"replicas": 3}, "metadata": {"annotations": null}}),
    );
    assert_eq!(
        out,
        json!({"spec": {"replicas": 3, "template": {"metadata": {"labels": {"a": "b"}}}}, "metadata": {}})
    );
    assert_eq!(apply_merge_patch(&doc, &json!([1])), json!([1]));
}

#[test]
fn three_way_matches_kubectl_apply() {
    let config = |image: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "labels": {"app": "web"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "nginx", "image": image}]}}}})
    };
    let last = config("nginx:1.25");
    let live = live_deployment();
    let d = PatchType::Deployment;

    assert_eq!(
        three_way(Some(&last), &last, &live, d).unwrap(),
        json!({}),
        "unchanged"
    );

    let patch = three_way(Some(&last), &config("nginx:1.26"), &live, d).unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}], "containers": [{"image": "nginx:1.26", "name": "nginx"}]}}}})
    );
    let applied = smp(live.clone(), patch, d);
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.26"
    );
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent",
        "server defaults kept"
    );

    // Removing a label and a container that the last config had.
    let mut last2 = config("nginx:1.25");
    last2["metadata"]["labels"]["tier"] = json!("fe");
    last2["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "side", "image": "b"}));
    let mut live2 = live.clone();
    live2["metadata"]["labels"]["tier"] = json!("fe");
    live2["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "side", "image": "b"}));
    let patch = three_way(Some(&last2), &config("nginx:1.25"), &live2, d).unwrap();
    assert_eq!(
        patch,
        json!({"metadata": {"labels": {"tier": null}},
               "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                                              "containers": [{"$patch": "delete", "name": "side"}]}}}})
    );
    let applied = smp(live2, patch, d);
    assert_eq!(applied["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Strategy switch carries $retainKeys, as kubectl sends it.
    let mut recreate = config("nginx:1.25");
    recreate["spec"]["strategy"] = json!({"type": "Recreate"});
    let patch = three_way(Some(&last), &recreate, &live, d).unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    );
    assert_eq!(
        smp(live.clone(), patch, d)["spec"]["strategy"],
        json!({"type": "Recreate"})
    );

    // Dropping rollingUpdate from the config: the deletion carries $retainKeys too.
    let mut with_ru = config("nginx:1.25");
    with_ru["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let mut without_ru = config("nginx:1.25");
    without_ru["spec"]["strategy"] = json!({"type": "RollingUpdate"});
    let mut live_ru = live.clone();
    live_ru["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let patch = three_way(Some(&with_ru), &without_ru, &live_ru, d).unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null}}})
    );
    assert_eq!(
        smp(live_ru, patch, d)["spec"]["strategy"],
        json!({"type": "RollingUpdate"})
    );

    // A list the live object lacks is sent whole, without an order directive.
    let mut bare = live.clone();
    bare["spec"]["template"]["spec"]["containers"] = json!([]);
    let patch = three_way(Some(&last), &last, &bare, d).unwrap();
    assert_eq!(
        patch,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}})
    );

    // No last-applied: only additions/changes.
    let patch = three_way(None, &config("nginx:1.25"), &live, d).unwrap();
    assert_eq!(patch, json!({}));

    // Finalizers removed from config.
    let mut withf = config("x");
    withf["metadata"]["finalizers"] = json!(["a", "b"]);
    let mut without = config("x");
    without["metadata"]["finalizers"] = json!(["a"]);
    let live3 = smp(
        live.clone(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "x"}]}}}}),
        d,
    );
    let patch = three_way(Some(&withf), &without, &live3, d).unwrap();
    assert_eq!(
        patch,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "$setElementOrder/finalizers": ["a"]}})
    );
    assert_eq!(smp(live3, patch, d)["metadata"]["finalizers"], json!(["a"]));
}

#[test]
fn two_way() {
    let a = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "c", "image": "1"}]}});
    let b = json!({"metadata": {"labels": {"a": "1", "c": "3"}}, "spec": {"containers": [{"name": "c", "image": "2"}]}});
    let p = create_two_way_merge_patch(&a, &b, PatchType::Pod).unwrap();
    assert_eq!(
        p,
        json!({"metadata": {"labels": {"b": null, "c": "3"}},
               "spec": {"$setElementOrder/containers": [{"name": "c"}], "containers": [{"image": "2", "name": "c"}]}})
    );
    assert_eq!(smp(a, p, PatchType::Pod), b);
    assert!(create_two_way_merge_patch(&json!(1), &b, PatchType::Pod).is_err());
}

#[test]
fn strategies_follow_types_through_templates() {
    let pod_spec = field_strategy(field_strategy(PatchType::Deployment, "spec").ty, "template");
    let spec = field_strategy(pod_spec.ty, "spec");
    assert_eq!(spec.ty, PatchType::PodSpec);
    assert_eq!(
        field_strategy(PatchType::PodSpec, "containers").list,
        ListStrategy::MergeByKey("name")
    );
    assert_eq!(
        field_strategy(PatchType::Container, "volumeMounts").list,
        ListStrategy::MergeByKey("mountPath")
    );
    assert_eq!(
        field_strategy(PatchType::Container, "volumeDevices").list,
        ListStrategy::MergeByKey("devicePath")
    );
    assert_eq!(
        field_strategy(PatchType::PodSpec, "hostAliases").list,
        ListStrategy::MergeByKey("ip")
    );
    assert_eq!(
        field_strategy(PatchType::PodSpec, "topologySpreadConstraints").list,
        ListStrategy::MergeByKey("topologyKey")
    );
    assert_eq!(
        field_strategy(PatchType::ObjectMeta, "ownerReferences").list,
        ListStrategy::MergeByKey("uid")
    );
    assert_eq!(
        field_strategy(PatchType::PodSpec, "tolerations").list,
        ListStrategy::Replace
    );
    assert!(field_strategy(PatchType::PodSpec, "volumes").retain_keys);
    assert_eq!(
        PatchType::for_resource(crate::resource::resolve("rs").unwrap()),
        PatchType::ReplicaSet
    );
    assert_eq!(PatchType::for_kind("ConfigMap"), PatchType::OtherKind);
}

/// Deterministic garbage patches against a realistic object: Ok or Err, never a panic.
#[test]
fn garbage_never_panics() {
    let keys = [
        "spec",
        "metadata",
        "containers",
        "name",
        "$patch",
        "$retainKeys",
        "$setElementOrder/containers",
        "$deleteFromPrimitiveList/finalizers",
        "finalizers",
        "template",
        "image",
        "env",
    ];
    let mut seed: u64 = 0xdead_beef_cafe_f00d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    fn random_value(next: &mut dyn FnMut() -> u64, keys: &[&str], depth: u32) -> Value {
        match next() % if depth > 3 { 4 } else { 7 } {
            0 => Value::Null,
            1 => json!("delete"),
            2 => json!(["replace", "merge"][(next() % 2) as usize]),
            3 => json!(next() % 3),
            4 | 5 => {
                let mut m = Map::new();
                for _ in 0..next() % 4 {
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
    let live = live_deployment();
    for _ in 0..5_000 {
        let p = random_value(&mut next, &keys, 0);
        for ty in [PatchType::Deployment, PatchType::Pod, PatchType::OtherKind] {
            if let Ok(out) = apply_strategic_merge_patch(&live, &p, ty) {
                let _ = three_way(Some(&live), &out, &live, ty);
                let _ = create_two_way_merge_patch(&live, &out, ty);
            }
        }
        let _ = apply_json_patch(&live, &p);
        let _ = apply_merge_patch(&live, &p);
    }
}

/// Long lists from a hostile client must not make patching quadratic: 20,000
/// elements each way finishes quickly (a quadratic merge would take minutes).
#[test]
fn long_lists_stay_linear() {
    let n = 20_000;
    let original: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("c{i}"), "image": "a"}))
        .collect();
    let patch_list: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("c{}", i * 2), "image": "b"}))
        .collect();
    let order: Vec<Value> = (0..n)
        .rev()
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    let doc = json!({"spec": {"containers": original, "finalizers": []}});
    let patch = json!({"spec": {"containers": patch_list, "$setElementOrder/containers": order}});
    let out = smp(doc.clone(), patch, PatchType::Pod);
    assert_eq!(
        out["spec"]["containers"].as_array().map(Vec::len),
        Some(n + n / 2)
    );
    let finalizers: Vec<Value> = (0..n).map(|i| json!(format!("f{i}"))).collect();
    let out = smp(
        json!({"metadata": {"finalizers": finalizers}}),
        json!({"metadata": {"finalizers": ["extra"], "$deleteFromPrimitiveList/finalizers": ["f1"]}}),
        PatchType::Pod,
    );
    assert_eq!(
        out["metadata"]["finalizers"].as_array().map(Vec::len),
        Some(n)
    );
    let p = create_two_way_merge_patch(&doc, &out, PatchType::Pod).unwrap();
    assert!(p.get("spec").is_some());
}

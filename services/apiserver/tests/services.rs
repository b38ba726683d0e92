//! Services get a ClusterIP from --service-cluster-ip-range and NodePorts from
//! --service-node-port-range, keep them across updates, and give them back when
//! deleted; a taken or out-of-range address is a 422 worded as upstream's.

mod common;

use common::TestCluster;
use http::{Method, StatusCode};
use serde_json::{Value, json};

const SVCS: &str = "/api/v1/namespaces/default/services";

fn service(name: &str, spec: Value) -> String {
    let mut spec = spec;
    if spec.get("ports").is_none() {
        spec["ports"] = json!([{"port": 80, "targetPort": 8080}]);
    }
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

fn in_range(ip: &str, cidr_base: [u8; 2], prefix_octet_mask: u8) -> bool {
    let octets: Vec<u8> = ip.split('.').filter_map(|o| o.parse().ok()).collect();
    octets.len() == 4 && octets[0] == cidr_base[0] && octets[1] & prefix_octet_mask == cidr_base[1]
}

#[tokio::test]
async fn cluster_ips_and_node_ports_are_allocated_kept_and_released() {
    let cluster = TestCluster::start_with(&[
        "--service-cluster-ip-range=10.100.0.0/16".to_string(),
        "--service-node-port-range=31000-31999".to_string(),
    ])
    .await;
    let admin = cluster.client("admin");

    let r = admin
        .must(Method::POST, SVCS, &service("web", json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let web = r.json();
    let ip = web["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(in_range(&ip, [10, 100], 0xff), "{ip}");
    assert_eq!(web["spec"]["clusterIPs"], json!([ip]));
    assert_eq!(web["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(web["spec"]["ipFamilyPolicy"], "SingleStack");

    // The same address asked for again, or one outside the range: 422.
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service("twin", json!({"clusterIP": ip})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        format!(
            "Service \"twin\" is invalid: spec.clusterIPs: Invalid value: [\"{ip}\"]: failed to allocate IP {ip}: provided IP is already allocated"
        )
    );
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service("far", json!({"clusterIP": "10.200.0.5"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("The range of valid IPs is 10.100.0.0/16"),
        "{}",
        r.text()
    );

    // NodePort: one per port from the range; a taken one is refused.
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service("np", json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "nodePort": 31443}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let np = r.json();
    let first = np["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((31000..=31999).contains(&first), "{first}");
    assert_eq!(np["spec"]["ports"][1]["nodePort"], 31443);
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service(
                "np2",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31443}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(
        r.json()["message"].as_str().unwrap().ends_with(
            "spec.ports[0].nodePort: Invalid value: 31443: provided port is already allocated"
        ),
        "{}",
        r.text()
    );

    // A PUT that leaves the allocated values out keeps them (as kubectl apply relies on).
    let mut edited = np.clone();
    edited["spec"].as_object_mut().unwrap().remove("clusterIP");
    edited["spec"].as_object_mut().unwrap().remove("clusterIPs");
    edited["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("nodePort");
    edited["metadata"]["labels"] = json!({"edited": "yes"});
    let r = admin
        .must(Method::PUT, &format!("{SVCS}/np"), &edited.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["spec"]["clusterIP"], np["spec"]["clusterIP"]);
    assert_eq!(r.json()["spec"]["ports"][0]["nodePort"], first);

    // Back to ClusterIP: the node ports are freed for others.
    let mut back = r.json();
    back["spec"]["type"] = json!("ClusterIP");
    for p in back["spec"]["ports"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("nodePort");
    }
    let r = admin
        .must(Method::PUT, &format!("{SVCS}/np"), &back.to_string())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service(
                "np3",
                json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31443}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Deleting gives the address back.
    let r = admin.must(Method::DELETE, &format!("{SVCS}/web"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service("heir", json!({"clusterIP": ip})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    // Headless and ExternalName services hold nothing.
    let r = admin
        .must(
            Method::POST,
            SVCS,
            &service("headless", json!({"clusterIP": "None"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["spec"]["clusterIP"], "None");

    // The real kubectl's generator (a protobuf body) gets both, and `get` shows them.
    let out = cluster
        .kubectl(&["create", "service", "nodeport", "gen", "--tcp=8080:80"])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cluster
        .kubectl(&[
            "get",
            "service",
            "gen",
            "-o",
            "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}",
        ])
        .await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (gen_ip, gen_port) = text.split_once(' ').unwrap();
    assert!(in_range(gen_ip, [10, 100], 0xff), "{text}");
    assert!(
        (31000..=31999).contains(&gen_port.parse::<u32>().unwrap()),
        "{text}"
    );
    cluster.stop().await.unwrap();
}

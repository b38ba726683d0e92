//! ClusterIPs and NodePorts for Services, allocated when a Service is written and
//! released when it goes, as kube-apiserver's service REST does.
//!
//! Each allocation is a record in the store, created with a create-if-absent
//! compare-and-swap: `/registry/ipaddresses/<ip>` (upstream 1.33 keeps one IPAddress
//! object per allocated ClusterIP there too) and `/registry/servicenodeports/<port>`.
//! Two API servers racing for one address cannot both win, and nothing is held in
//! memory, so any number of API server replicas share the ranges.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Value, json};

use super::{Registry, Swap};
use crate::config::Cidr;
use crate::error::{Error, Result};

const IP_PREFIX: &str = "/registry/ipaddresses/";
const PORT_PREFIX: &str = "/registry/servicenodeports/";

/// The ranges Services draw from (`--service-cluster-ip-range`,
/// `--service-node-port-range`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRanges {
    /// First address of the range, as a number.
    base: u32,
    /// Number of addresses in the range.
    size: u32,
    /// The range as given, for messages.
    cidr: String,
    /// NodePorts, inclusive.
    ports: (u16, u16),
}

impl Default for ServiceRanges {
    fn default() -> Self {
        ServiceRanges::new(
            &Cidr {
                address: IpAddr::V4(Ipv4Addr::new(10, 96, 0, 0)),
                prefix: 12,
            },
            (30000, 32767),
        )
        .expect("the default ranges are valid")
    }
}

impl ServiceRanges {
    /// The ranges from the flags; IPv4 only for now, at least 8 addresses.
    pub fn new(cidr: &Cidr, ports: (u16, u16)) -> std::result::Result<Self, String> {
        let IpAddr::V4(address) = cidr.address else {
            return Err("an IPv6 service range is not supported yet".to_string());
        };
        if cidr.prefix > 29 {
            return Err(format!(
                "the service range {address}/{} is too small",
                cidr.prefix
            ));
        }
        let size = 1u32 << (32 - cidr.prefix);
        let base = u32::from(address) & !(size - 1);
        Ok(ServiceRanges {
            base,
            size,
            cidr: format!("{}/{}", Ipv4Addr::from(base), cidr.prefix),
            ports,
        })
    }

    /// Whether `ip` may be handed out: in the range, neither its network nor its
    /// broadcast address.
    fn usable(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        n > self.base && n < self.base + self.size - 1
    }

    /// The i-th usable address, counting from `start` and wrapping.
    fn nth_ip(&self, start: u32, i: u32) -> Ipv4Addr {
        let usable = self.size - 2;
        Ipv4Addr::from(self.base + 1 + (start.wrapping_add(i) % usable))
    }
}

/// What a Service needs: a ClusterIP (unless headless or ExternalName) and, for
/// NodePort and LoadBalancer, a nodePort per port.
fn wants_cluster_ip(svc: &Value) -> bool {
    svc.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
        && svc.pointer("/spec/clusterIP").and_then(Value::as_str) != Some("None")
}

fn wants_node_ports(svc: &Value) -> bool {
    matches!(
        svc.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

/// A 422 on the Service `svc`, as its validation would answer.
fn invalid(svc: &Value, field: &str, value: Value, detail: String) -> Error {
    Error::Invalid {
        resource: rudder_api::resource::by_plural("", "services")
            .expect("services are a served resource"),
        name: svc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        errors: vec![rudder_api::validation::FieldError::invalid(
            field, value, &detail,
        )],
    }
}

/// An update keeps what the old Service was given when the new body leaves it out
/// (kubectl apply and PUTs of edited manifests do): the ClusterIP and the nodePort of
/// each port that is still there.
pub fn keep_allocated(new: &mut Value, old: &Value) {
    if wants_cluster_ip(old) && wants_cluster_ip(new) {
        let empty = new
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty && let Some(ip) = old.pointer("/spec/clusterIP").cloned() {
            new["spec"]["clusterIP"] = ip;
            if let Some(ips) = old.pointer("/spec/clusterIPs").cloned() {
                new["spec"]["clusterIPs"] = ips;
            }
        }
    }
    if wants_node_ports(old) && wants_node_ports(new) {
        let old_ports = old.pointer("/spec/ports").and_then(Value::as_array);
        if let (Some(old_ports), Some(new_ports)) = (
            old_ports,
            new.pointer_mut("/spec/ports").and_then(Value::as_array_mut),
        ) {
            for port in new_ports.iter_mut().filter(|p| p.get("nodePort").is_none()) {
                let same = old_ports.iter().find(|o| {
                    o.get("port") == port.get("port")
                        && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                            == port
                                .get("protocol")
                                .and_then(Value::as_str)
                                .unwrap_or("TCP")
                });
                if let Some(node_port) = same.and_then(|o| o.get("nodePort")) {
                    port["nodePort"] = node_port.clone();
                }
            }
        }
    }
}

/// The store keys of what `svc` holds.
fn held_keys(svc: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    if wants_cluster_ip(svc)
        && let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str)
        && !ip.is_empty()
    {
        keys.push(format!("{IP_PREFIX}{ip}"));
    }
    if wants_node_ports(svc) {
        for port in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = port.get("nodePort").and_then(Value::as_u64) {
                keys.push(format!("{PORT_PREFIX}{n}"));
            }
        }
    }
    keys
}

impl Registry {
    /// Gives `svc` what it lacks (compared with `old`, the stored Service on an
    /// update) and records it; answers with the records taken, to release if the
    /// write fails.
    pub(super) async fn allocate_service(
        &self,
        svc: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>> {
        let held = old.map(held_keys).unwrap_or_default();
        let owner = json!({
            "service": format!(
                "{}/{}",
                svc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(""),
                svc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
            )
        })
        .to_string();
        let mut taken = Vec::new();
        let result = self.allocate_into(svc, &held, &owner, &mut taken).await;
        if result.is_err() {
            self.release_keys(&taken).await;
        }
        result.map(|()| taken)
    }

    async fn allocate_into(
        &self,
        svc: &mut Value,
        held: &[String],
        owner: &str,
        taken: &mut Vec<String>,
    ) -> Result<()> {
        let ranges = self.service_ranges.clone();
        if wants_cluster_ip(svc) {
            let asked = svc
                .pointer("/spec/clusterIP")
                .and_then(Value::as_str)
                .filter(|ip| !ip.is_empty())
                .map(String::from);
            let ip = match asked {
                Some(ip) if held.contains(&format!("{IP_PREFIX}{ip}")) => ip,
                Some(ip) => {
                    let parsed: Option<Ipv4Addr> = ip.parse().ok();
                    if !parsed.is_some_and(|a| ranges.usable(a)) {
                        return Err(invalid(
                            svc,
                            "spec.clusterIPs",
                            json!([ip]),
                            format!(
                                "failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                                ranges.cidr
                            ),
                        ));
                    }
                    if !self
                        .record(&format!("{IP_PREFIX}{ip}"), owner, taken)
                        .await?
                    {
                        return Err(invalid(
                            svc,
                            "spec.clusterIPs",
                            json!([ip]),
                            format!("failed to allocate IP {ip}: provided IP is already allocated"),
                        ));
                    }
                    ip
                }
                None => self.any_ip(&ranges, owner, taken).await?,
            };
            let spec = &mut svc["spec"];
            spec["clusterIP"] = json!(ip);
            spec["clusterIPs"] = json!([ip]);
            if spec.get("ipFamilies").is_none() {
                spec["ipFamilies"] = json!(["IPv4"]);
            }
            if spec.get("ipFamilyPolicy").is_none() {
                spec["ipFamilyPolicy"] = json!("SingleStack");
            }
        }
        if wants_node_ports(svc) {
            let count = svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..count {
                let asked = svc["spec"]["ports"][i]
                    .get("nodePort")
                    .and_then(Value::as_u64);
                let port = match asked {
                    Some(p) if held.contains(&format!("{PORT_PREFIX}{p}")) => p,
                    Some(p) => {
                        let field = format!("spec.ports[{i}].nodePort");
                        if p < u64::from(ranges.ports.0) || p > u64::from(ranges.ports.1) {
                            return Err(invalid(
                                svc,
                                &field,
                                json!(p),
                                format!(
                                    "provided port is not in the valid range. The range of valid ports is {}-{}",
                                    ranges.ports.0, ranges.ports.1
                                ),
                            ));
                        }
                        if !self
                            .record(&format!("{PORT_PREFIX}{p}"), owner, taken)
                            .await?
                        {
                            return Err(invalid(
                                svc,
                                &field,
                                json!(p),
                                "provided port is already allocated".to_string(),
                            ));
                        }
                        p
                    }
                    None => self.any_port(&ranges, owner, taken).await?,
                };
                svc["spec"]["ports"][i]["nodePort"] = json!(port);
            }
        }
        Ok(())
    }

    /// Creates the record `key` if absent; true when this call took it.
    async fn record(&self, key: &str, owner: &str, taken: &mut Vec<String>) -> Result<bool> {
        match self
            .storage
            .swap(key.as_bytes(), owner.as_bytes().to_vec(), 0)
            .await?
        {
            Swap::Done(_) => {
                taken.push(key.to_string());
                Ok(true)
            }
            Swap::Mismatch(_) => Ok(false),
        }
    }

    async fn any_ip(
        &self,
        ranges: &ServiceRanges,
        owner: &str,
        taken: &mut Vec<String>,
    ) -> Result<String> {
        let start = random_u32();
        for i in 0..ranges.size - 2 {
            let ip = ranges.nth_ip(start, i).to_string();
            if self
                .record(&format!("{IP_PREFIX}{ip}"), owner, taken)
                .await?
            {
                return Ok(ip);
            }
        }
        Err(invalid(
            &Value::Null,
            "spec.clusterIPs",
            Value::Null,
            format!(
                "failed to allocate a serviceIP: range is full ({})",
                ranges.cidr
            ),
        ))
    }

    async fn any_port(
        &self,
        ranges: &ServiceRanges,
        owner: &str,
        taken: &mut Vec<String>,
    ) -> Result<u64> {
        let (low, high) = (u32::from(ranges.ports.0), u32::from(ranges.ports.1));
        let span = high - low + 1;
        let start = random_u32();
        for i in 0..span {
            let port = u64::from(low + start.wrapping_add(i) % span);
            if self
                .record(&format!("{PORT_PREFIX}{port}"), owner, taken)
                .await?
            {
                return Ok(port);
            }
        }
        Err(invalid(
            &Value::Null,
            "spec.ports",
            Value::Null,
            "failed to allocate a nodePort: range is full".to_string(),
        ))
    }

    /// Frees what `old` held and `new` (None: the Service is gone) no longer does.
    pub(super) async fn release_service(&self, old: &Value, new: Option<&Value>) {
        let kept = new.map(held_keys).unwrap_or_default();
        let freed: Vec<String> = held_keys(old)
            .into_iter()
            .filter(|k| !kept.contains(k))
            .collect();
        self.release_keys(&freed).await;
    }

    /// Deletes allocation records. A record that cannot be deleted now leaks its
    /// address until an operator removes it; it never hands one address out twice.
    pub(super) async fn release_keys(&self, keys: &[String]) {
        for key in keys {
            let outcome = match self.storage.get(key.as_bytes()).await {
                Ok(Some(stored)) => self
                    .storage
                    .delete(key.as_bytes(), stored.mod_revision)
                    .await
                    .map(drop),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                tracing::warn!(key = %key, error = %e, "could not release a service allocation");
            }
        }
    }
}

fn random_u32() -> u32 {
    let mut bytes = [0u8; 4];
    // Only spreads the starting point of the scan; the store decides who wins.
    getrandom::fill(&mut bytes).unwrap_or(());
    u32::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(cidr: &str) -> ServiceRanges {
        ServiceRanges::new(&cidr.parse().unwrap(), (30000, 30002)).unwrap()
    }

    #[test]
    fn ranges_hand_out_only_host_addresses() {
        let r = ranges("10.96.0.0/29");
        let ips: Vec<String> = (0..6).map(|i| r.nth_ip(0, i).to_string()).collect();
        assert_eq!(
            ips,
            [
                "10.96.0.1",
                "10.96.0.2",
                "10.96.0.3",
                "10.96.0.4",
                "10.96.0.5",
                "10.96.0.6"
            ]
        );
        assert_eq!(r.nth_ip(0, 6).to_string(), "10.96.0.1", "wraps");
        assert!(!r.usable("10.96.0.0".parse().unwrap()));
        assert!(!r.usable("10.96.0.7".parse().unwrap()));
        assert!(!r.usable("10.97.0.1".parse().unwrap()));
        // A range given with host bits is its network.
        assert_eq!(ranges("10.96.3.4/12").cidr, "10.96.0.0/12");
        assert!(ServiceRanges::new(&"fd00::/108".parse().unwrap(), (1, 2)).is_err());
        assert!(ServiceRanges::new(&"10.0.0.0/31".parse().unwrap(), (1, 2)).is_err());
    }

    #[test]
    fn updates_keep_what_was_allocated() {
        let old = json!({"spec": {"type": "NodePort", "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"],
            "ports": [{"port": 80, "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 30053}]}});
        let mut new = json!({"spec": {"type": "NodePort",
            "ports": [{"port": 80}, {"port": 53, "protocol": "TCP"}]}});
        keep_allocated(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], "10.96.0.9");
        assert_eq!(new["spec"]["ports"][0]["nodePort"], 30080);
        assert!(
            new["spec"]["ports"][1].get("nodePort").is_none(),
            "another protocol is another port"
        );
        assert_eq!(
            held_keys(&old),
            [
                "/registry/ipaddresses/10.96.0.9",
                "/registry/servicenodeports/30080",
                "/registry/servicenodeports/30053"
            ]
        );
        let headless = json!({"spec": {"clusterIP": "None"}});
        assert!(held_keys(&headless).is_empty());
    }
}

//! What `write_cluster_certs` puts into the certificates: SANs, usages, the
//! service-account key, and what a re-run reports.

use std::net::IpAddr;
use std::path::Path;

use rudder_pki::certs::{CertsLayout, CertsOptions, write_cluster_certs};
use x509_parser::extensions::GeneralName;

/// The DNS names and IPs (as text) of a PEM certificate's SAN extension.
fn sans(cert_path: &Path) -> Vec<String> {
    let pem = std::fs::read(cert_path).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => dns.to_string(),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).unwrap()).to_string(),
                _ => IpAddr::from(<[u8; 16]>::try_from(*bytes).unwrap()).to_string(),
            },
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

#[test]
fn the_apiserver_certificate_names_loopback_kubernetes_the_server_host_and_extra_sans() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = CertsOptions::new(dir.path());
    options.server_url = "https://10.0.0.7:6443".to_string();
    options.apiserver_sans = vec!["api.example".to_string(), "192.168.1.2".to_string()];
    write_cluster_certs(&options).unwrap();

    let names = sans(&CertsLayout::new(dir.path()).pair("apiserver").0);
    for expected in [
        "localhost",
        "127.0.0.1",
        "::1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "10.0.0.7",
        "api.example",
        "192.168.1.2",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn store_member_certificates_name_the_member_loopback_and_store_sans() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = CertsOptions::new(dir.path());
    options.store_members = vec!["store-0".to_string(), "store-1".to_string()];
    options.store_sans = vec!["10.1.0.1".to_string()];
    write_cluster_certs(&options).unwrap();
    let layout = CertsLayout::new(dir.path());

    for member in ["store-0", "store-1"] {
        assert_eq!(
            sans(&layout.store_member_pair(member).0),
            [member, "localhost", "127.0.0.1", "::1", "10.1.0.1"]
        );
    }
    assert!(!layout.store_member_pair("default").0.exists());
}

#[test]
fn the_default_store_member_is_named_default() {
    let dir = tempfile::tempdir().unwrap();
    write_cluster_certs(&CertsOptions::new(dir.path())).unwrap();
    let layout = CertsLayout::new(dir.path());

    let names = sans(&layout.store_member_pair("default").0);
    assert_eq!(names, ["default", "localhost", "127.0.0.1", "::1"]);
    // A store member serves and dials: its TLS works both ways.
    layout.store_member_tls("default").server_config().unwrap();
    layout.store_member_tls("default").client_config().unwrap();
}

#[test]
fn the_service_account_key_is_an_ecdsa_p256_pair_for_es256() {
    let dir = tempfile::tempdir().unwrap();
    write_cluster_certs(&CertsOptions::new(dir.path())).unwrap();
    let (key, public) = CertsLayout::new(dir.path()).service_account_pair();

    let key_pem = std::fs::read_to_string(key).unwrap();
    assert!(
        key_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
        "not PKCS#8: {}",
        &key_pem[..30]
    );
    let pair = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    assert_eq!(pair.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
    assert_eq!(
        pair.public_key_pem(),
        std::fs::read_to_string(public).unwrap()
    );
}

#[test]
fn a_rerun_reports_every_file_as_kept() {
    let dir = tempfile::tempdir().unwrap();
    let options = CertsOptions::new(dir.path());
    let first = write_cluster_certs(&options).unwrap();
    assert!(first.ca_generated);
    assert!(first.kept.is_empty());

    let second = write_cluster_certs(&options).unwrap();

    assert!(!second.ca_generated);
    assert!(second.written.is_empty(), "{:?}", second.written);
    let mut kept = second.kept.clone();
    let mut written = first.written.clone();
    kept.sort();
    written.sort();
    assert_eq!(kept, written);
}

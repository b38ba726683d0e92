//! Who is on the other end of a mutual-TLS connection: the subject of the client
//! certificate, read the way Kubernetes reads it (CN = user, O = groups).

use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

use crate::PkiError;

/// The user and groups a client certificate names. The API server authenticates
/// with this and hands it to RBAC.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The subject's common name, e.g. `admin` or `system:node:worker-1`.
    pub user: String,
    /// Every organization (O) of the subject in order, e.g. `["system:masters"]`.
    pub groups: Vec<String>,
}

impl Identity {
    /// Builds an identity from a user and its groups.
    pub fn new(
        user: impl Into<String>,
        groups: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Identity {
            user: user.into(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    /// Reads the identity from a DER certificate. A certificate without a common name
    /// names nobody and is an error, as it is for Kubernetes.
    pub fn from_der(cert: &[u8]) -> Result<Identity, PkiError> {
        let invalid = |reason: String| PkiError::InvalidCertificate {
            what: "peer certificate".to_string(),
            reason,
        };
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|err| invalid(format!("not an X.509 certificate ({err})")))?;
        let subject = parsed.subject();
        let user = subject
            .iter_common_name()
            .next()
            .ok_or_else(|| invalid("the subject has no common name (CN)".to_string()))?
            .as_str()
            .map_err(|err| invalid(format!("the common name is not a string ({err})")))?
            .to_string();
        let groups = subject
            .iter_organization()
            .map(|attr| {
                attr.as_str()
                    .map(str::to_string)
                    .map_err(|err| invalid(format!("an organization is not a string ({err})")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Identity { user, groups })
    }

    /// The identity of the leaf of a presented chain, if there is one and it parses.
    pub fn from_chain(chain: &[CertificateDer<'_>]) -> Option<Identity> {
        chain.first().and_then(|leaf| Identity::from_der(leaf).ok())
    }
}

/// When a DER certificate stops being valid (its notAfter), in seconds since the
/// epoch; `None` when it does not parse.
pub fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(parsed.validity().not_after.timestamp())
}

/// The identity of the client that sent a tonic request over mutual TLS, or `None`
/// when the server runs without TLS or the client sent no certificate.
///
/// tonic records peer certificates only for servers configured with
/// [`crate::TlsPaths::tonic_server`] that accept TCP connections.
pub fn peer_identity<T>(req: &tonic::Request<T>) -> Option<Identity> {
    let chain = req.peer_certs()?;
    Identity::from_chain(&chain)
}

/// The identity of the client of a rustls server connection, for hyper servers that
/// accept through `tokio_rustls` (take it from `TlsStream::get_ref().1` after the
/// handshake, before handing the stream to hyper).
pub fn connection_identity(conn: &rustls::ServerConnection) -> Option<Identity> {
    Identity::from_chain(conn.peer_certificates()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert_with_subject(cn: Option<&str>, org: Option<&str>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        if let Some(org) = org {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn user_is_the_common_name_and_groups_the_organizations() {
        let der = cert_with_subject(Some("admin"), Some("system:masters"));
        assert_eq!(
            Identity::from_der(&der).unwrap(),
            Identity::new("admin", ["system:masters"])
        );
    }

    #[test]
    fn a_subject_without_organization_has_no_groups() {
        let der = cert_with_subject(Some("system:kube-scheduler"), None);
        let identity = Identity::from_der(&der).unwrap();
        assert_eq!(identity.user, "system:kube-scheduler");
        assert!(identity.groups.is_empty());
    }

    #[test]
    fn a_subject_without_common_name_is_rejected() {
        let der = cert_with_subject(None, Some("system:masters"));
        let err = Identity::from_der(&der).unwrap_err();
        assert!(err.to_string().contains("no common name"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(Identity::from_der(b"garbage").is_err());
        assert_eq!(Identity::from_chain(&[]), None);
        assert_eq!(not_after(b"garbage"), None);
    }
}

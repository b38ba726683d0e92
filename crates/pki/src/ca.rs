//! The cluster certificate authority and the certificates it issues.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;

use crate::files::{self, PUBLIC_MODE, SECRET_MODE};
use crate::{Identity, PkiError, PrivateKeyPem, subject};

/// How long the cluster CA is valid, as kubeadm: ten years.
pub const CA_VALIDITY_DAYS: u64 = 3650;
/// How long every other certificate is valid, as kubeadm: one year.
pub const LEAF_VALIDITY_DAYS: u64 = 365;
/// How far back `not_before` is set, so a peer whose clock is a little behind
/// accepts a certificate issued a moment ago.
const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// The period a certificate is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First moment the certificate is valid.
    pub not_before: SystemTime,
    /// Last moment the certificate is valid.
    pub not_after: SystemTime,
}

impl Validity {
    /// Valid from (a few minutes before) now for `days` days.
    pub fn days(days: u64) -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now - CLOCK_SKEW,
            not_after: now + DAY * u32::try_from(days).unwrap_or(u32::MAX),
        }
    }

    /// Expired yesterday: for tests that check expired certificates are refused.
    pub fn expired() -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now - DAY * 30,
            not_after: now - DAY,
        }
    }
}

/// What a certificate may be used for (its extended key usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUsage {
    /// Presented by clients: the identities (admin, scheduler, nodes, ...).
    Client,
    /// Presented by servers: the API server.
    Server,
    /// Both: store members, which serve clients and dial each other.
    Peer,
}

/// Everything the CA needs to issue one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    /// The subject's common name: the user for client certificates.
    pub common_name: String,
    /// The subject's organizations: the groups for client certificates.
    pub organizations: Vec<String>,
    /// Subject alternative names: IP addresses or DNS names (needed for `Server`/`Peer`).
    pub sans: Vec<String>,
    /// Client, server, or both.
    pub usage: CertUsage,
    pub validity: Validity,
}

/// A certificate with its private key, as PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate alone (the CA is not appended).
    pub cert_pem: String,
    /// Its private key, PKCS#8.
    pub key: PrivateKeyPem,
}

impl IssuedCert {
    /// Reads a certificate and key pair, checking both are PEM of the right kind.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<IssuedCert, PkiError> {
        let cert_pem = files::read_to_string(cert_path)?;
        parse_cert_pem(&cert_pem, &cert_path.display().to_string())?;
        let key = PrivateKeyPem::parse(
            files::read_to_string(key_path)?,
            &key_path.display().to_string(),
        )?;
        Ok(IssuedCert { cert_pem, key })
    }

    /// Writes the certificate (mode 0644) and the key (mode 0600).
    pub fn write(&self, cert_path: &Path, key_path: &Path) -> Result<(), PkiError> {
        files::write_file(key_path, self.key.expose_pem().as_bytes(), SECRET_MODE)?;
        files::write_file(cert_path, self.cert_pem.as_bytes(), PUBLIC_MODE)
    }

    /// The certificate in DER form.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, PkiError> {
        parse_cert_pem(&self.cert_pem, "certificate")
    }

    /// The identity the certificate names (CN = user, O = groups).
    pub fn identity(&self) -> Result<Identity, PkiError> {
        Identity::from_der(&self.cert_der()?)
    }

    /// Which of `required` (DNS names or IPs) the certificate's SANs lack; DNS names
    /// compare without regard to case.
    pub fn missing_sans(&self, required: &[String]) -> Result<Vec<String>, PkiError> {
        let der = self.cert_der()?;
        let invalid = |reason: String| PkiError::InvalidCertificate {
            what: "certificate".to_string(),
            reason,
        };
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|err| invalid(format!("not an X.509 certificate ({err})")))?;
        let mut dns_names = Vec::new();
        let mut ips = Vec::new();
        let extension = cert
            .subject_alternative_name()
            .map_err(|err| invalid(format!("unreadable subject alternative names ({err})")))?;
        for name in extension.iter().flat_map(|ext| &ext.value.general_names) {
            match name {
                GeneralName::DNSName(dns) => dns_names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v4));
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                        ips.push(IpAddr::from(v6));
                    }
                }
                _ => {}
            }
        }
        Ok(required
            .iter()
            .filter(|san| match san.parse::<IpAddr>() {
                Ok(ip) => !ips.contains(&ip),
                Err(_) => !dns_names.contains(&san.to_ascii_lowercase()),
            })
            .cloned()
            .collect())
    }
}

/// The cluster CA: an ECDSA P-256 key and its self-signed certificate. Every
/// certificate of the cluster is issued by it, and every peer is verified against it.
pub struct CertificateAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Makes a new CA with a fresh key, valid for [`CA_VALIDITY_DAYS`].
    pub fn generate(common_name: &str) -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(|err| PkiError::generate("CA key", err))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let validity = Validity::days(CA_VALIDITY_DAYS);
        params.not_before = validity.not_before.into();
        params.not_after = validity.not_after.into();
        let cert = params
            .self_signed(&key)
            .map_err(|err| PkiError::generate("CA certificate", err))?;
        Ok(CertificateAuthority {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads `ca.crt` and `ca.key` from a PKI directory: `<dir>/pki` after
    /// `rudderadm certs --dir <dir>` (see [`crate::certs::CertsLayout::pki_dir`]).
    pub fn load(pki_dir: &Path) -> Result<Self, PkiError> {
        Self::load_files(&pki_dir.join("ca.crt"), &pki_dir.join("ca.key"))
    }

    /// Loads a CA certificate and its key from two files.
    pub fn load_files(cert_path: &Path, key_path: &Path) -> Result<Self, PkiError> {
        let cert_pem = files::read_to_string(cert_path)?;
        let key = PrivateKeyPem::parse(
            files::read_to_string(key_path)?,
            &key_path.display().to_string(),
        )?;
        Self::from_pem(
            cert_pem,
            &key,
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    /// Builds a CA from PEM text, checking that the certificate is a CA certificate and
    /// that the key is its key. `cert_what`/`key_what` name the sources in errors.
    pub fn from_pem(
        cert_pem: String,
        key: &PrivateKeyPem,
        cert_what: &str,
        key_what: &str,
    ) -> Result<Self, PkiError> {
        let invalid_cert = |reason: String| PkiError::InvalidCertificate {
            what: cert_what.to_string(),
            reason,
        };
        let cert_der = parse_cert_pem(&cert_pem, cert_what)?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|err| invalid_cert(format!("not an X.509 certificate ({err})")))?;
        if !parsed.is_ca() {
            return Err(invalid_cert("not a CA certificate".to_string()));
        }
        let key_pair = KeyPair::from_pem(key.expose_pem()).map_err(|err| PkiError::InvalidPem {
            what: key_what.to_string(),
            reason: format!("not a usable private key ({err})"),
        })?;
        if parsed.public_key().raw != key_pair.subject_public_key_info().as_slice() {
            return Err(PkiError::InvalidPem {
                what: key_what.to_string(),
                reason: format!("the key does not belong to {cert_what}"),
            });
        }
        let issuer = Issuer::from_ca_cert_der(&cert_der, key_pair)
            .map_err(|err| invalid_cert(format!("cannot issue with it ({err})")))?;
        Ok(CertificateAuthority { cert_pem, issuer })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA key, PEM (PKCS#8).
    pub fn key_pem(&self) -> PrivateKeyPem {
        PrivateKeyPem::from_generated(self.issuer.key().serialize_pem())
    }

    /// Writes `ca.crt` (0644) and `ca.key` (0600) into `pki_dir`.
    pub fn write(&self, pki_dir: &Path) -> Result<(), PkiError> {
        files::write_file(
            &pki_dir.join("ca.key"),
            self.key_pem().expose_pem().as_bytes(),
            SECRET_MODE,
        )?;
        files::write_file(
            &pki_dir.join("ca.crt"),
            self.cert_pem.as_bytes(),
            PUBLIC_MODE,
        )
    }

    /// Issues a client certificate naming `user` in `groups` (CN and O), with a fresh key.
    /// Tests use it for arbitrary or expired identities.
    pub fn issue_client(
        &self,
        user: &str,
        groups: &[impl AsRef<str>],
        validity: Validity,
    ) -> Result<IssuedCert, PkiError> {
        self.issue(&CertRequest {
            common_name: user.to_string(),
            organizations: groups.iter().map(|g| g.as_ref().to_string()).collect(),
            sans: Vec::new(),
            usage: CertUsage::Client,
            validity,
        })
    }

    /// Issues a certificate with a fresh ECDSA P-256 key.
    pub fn issue(&self, request: &CertRequest) -> Result<IssuedCert, PkiError> {
        let what = format!("certificate for {}", request.common_name);
        let key = KeyPair::generate().map_err(|err| PkiError::generate(what.as_str(), err))?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = request
            .sans
            .iter()
            .map(|san| parse_san(san))
            .collect::<Result<_, _>>()?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, request.common_name.as_str());
        if let [only] = request.organizations.as_slice() {
            params
                .distinguished_name
                .push(DnType::OrganizationName, only.as_str());
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match request.usage {
            CertUsage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            CertUsage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            CertUsage::Peer => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.use_authority_key_identifier_extension = true;
        params.not_before = request.validity.not_before.into();
        params.not_after = request.validity.not_after.into();

        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|err| PkiError::generate(what.as_str(), err))?;
        let cert_der = if request.organizations.len() > 1 {
            let subject = subject::subject_der(&request.common_name, &request.organizations);
            subject::replace_subject(cert.der(), &subject, self.issuer.key()).map_err(|reason| {
                PkiError::InvalidCertificate {
                    what: what.clone(),
                    reason,
                }
            })?
        } else {
            cert.der().to_vec()
        };
        Ok(IssuedCert {
            cert_pem: der_to_pem(&cert_der),
            key: PrivateKeyPem::from_generated(key.serialize_pem()),
        })
    }
}

/// A service-account signing key pair: ECDSA P-256, the key PKCS#8 PEM (`sa.key`) and
/// the public key SubjectPublicKeyInfo PEM (`sa.pub`). Both load unchanged with the
/// `jsonwebtoken` crate as ES256 keys (`EncodingKey::from_ec_pem`, `DecodingKey::from_ec_pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// Signs tokens (API server, token controller).
    pub key: PrivateKeyPem,
    /// Verifies tokens.
    pub public_pem: String,
}

impl ServiceAccountKey {
    /// Makes a new key pair.
    pub fn generate() -> Result<Self, PkiError> {
        let key =
            KeyPair::generate().map_err(|err| PkiError::generate("service-account key", err))?;
        Ok(ServiceAccountKey {
            key: PrivateKeyPem::from_generated(key.serialize_pem()),
            public_pem: key.public_key_pem(),
        })
    }
}

fn parse_san(san: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = san.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    crate::certs::validate_dns_name("subject alternative name", san)?;
    let name = san
        .try_into()
        .map_err(|err: rcgen::Error| PkiError::InvalidName {
            what: "subject alternative name",
            value: san.to_string(),
            reason: err.to_string(),
        })?;
    Ok(SanType::DnsName(name))
}

pub(crate) fn parse_cert_pem(pem: &str, what: &str) -> Result<CertificateDer<'static>, PkiError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|err| PkiError::InvalidPem {
        what: what.to_string(),
        reason: format!("not a PEM certificate ({err})"),
    })
}

fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let ca = CertificateAuthority::generate("test-ca").unwrap();
        let none: [&str; 0] = [];
        for groups in [
            &none[..],
            &["system:masters"][..],
            &["dev", "ops", "qa"][..],
        ] {
            let issued = ca.issue_client("alice", groups, Validity::days(1)).unwrap();
            assert_eq!(
                issued.identity().unwrap(),
                Identity::new("alice", groups.iter().copied())
            );
        }
    }

    #[test]
    fn a_loaded_ca_issues_like_the_one_that_made_it() {
        let ca = CertificateAuthority::generate("test-ca").unwrap();
        let loaded =
            CertificateAuthority::from_pem(ca.cert_pem().to_string(), &ca.key_pem(), "c", "k")
                .unwrap();
        let issued = loaded
            .issue_client("bob", &["dev", "ops"], Validity::days(1))
            .unwrap();
        let der = issued.cert_der().unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let ca_der = parse_cert_pem(ca.cert_pem(), "ca").unwrap();
        let (_, ca_cert) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        assert_eq!(cert.issuer().as_raw(), ca_cert.subject().as_raw());
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
    }

    #[test]
    fn missing_sans_compares_ips_as_addresses_and_names_without_case() {
        let ca = CertificateAuthority::generate("ca").unwrap();
        let issued = ca
            .issue(&CertRequest {
                common_name: "server".to_string(),
                organizations: Vec::new(),
                sans: vec!["Api.Example".to_string(), "::1".to_string()],
                usage: CertUsage::Server,
                validity: Validity::days(1),
            })
            .unwrap();
        let required = ["api.example", "0:0::1", "other.example", "10.0.0.1"].map(String::from);
        assert_eq!(
            issued.missing_sans(&required).unwrap(),
            ["other.example", "10.0.0.1"]
        );
    }

    #[test]
    fn a_key_of_another_ca_is_refused() {
        let ca = CertificateAuthority::generate("a").unwrap();
        let other = CertificateAuthority::generate("b").unwrap();
        let err = CertificateAuthority::from_pem(
            ca.cert_pem().to_string(),
            &other.key_pem(),
            "ca.crt",
            "ca.key",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "ca.key: the key does not belong to ca.crt");
    }
}

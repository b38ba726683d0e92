//! Client certificates, checked the way kube-apiserver checks them: the TLS
//! handshake asks for a certificate and only proves the client holds its key
//! ([`DeferredClientVerifier`]); whether the cluster CA issued it and whether it is
//! still valid is decided per request ([`PeerCertificate::authenticate`]), so a
//! certificate from another CA, or an expired one, gets a 401 Status and an audit
//! line instead of a bare TLS alert.

use std::sync::{Arc, OnceLock};

use rudder_pki::Identity;
use rustls::RootCertStore;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::auth::authn::AuthnFailure;

/// The cluster CA's check of a presented chain: webpki path building and
/// validity at a given time, as rustls' `WebPkiClientVerifier` does it.
#[derive(Debug, Clone)]
pub struct ClientCa {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCa {
    /// The CA certificates of a PEM bundle (`--client-ca-file`); else why not.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots
                .add(cert.map_err(|_| "client CA is not PEM".to_string())?)
                .map_err(|e| format!("client CA: {e}"))?;
        }
        let webpki = WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| format!("client verifier: {e}"))?;
        Ok(ClientCa { webpki })
    }

    /// The verifier the TLS layer uses: asks for a certificate, checks possession of
    /// its key, and leaves the chain to [`PeerCertificate::authenticate`].
    pub fn handshake_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(DeferredClientVerifier {
            webpki: self.webpki.clone(),
        })
    }

    /// The identity `chain` names when the CA issued it and it is valid at `now`,
    /// and until when it stays valid; else why not, worded as upstream's x509
    /// errors. A refusal names the certificate's user only when the CA did issue
    /// it (it merely expired): a foreign certificate's CN is anyone's claim.
    fn verify(
        &self,
        chain: &[CertificateDer<'static>],
        now: UnixTime,
    ) -> Result<(Identity, u64), AuthnFailure> {
        let refuse = |reason: String, claimed_user: Option<String>| AuthnFailure {
            reason,
            claimed_user,
        };
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err(refuse("x509: no client certificate".into(), None));
        };
        let not_after = rudder_pki::not_after(leaf)
            .and_then(|t| u64::try_from(t).ok())
            .unwrap_or_default();
        if let Err(e) = self.webpki.verify_client_cert(leaf, intermediates, now) {
            let ours_but_expired = matches!(e, rustls::Error::InvalidCertificate(ref c) if is_time_error(c))
                && self
                    .webpki
                    .verify_client_cert(leaf, intermediates, unix_time(not_after))
                    .is_ok();
            let claimed = ours_but_expired
                .then(|| Identity::from_der(leaf).ok().map(|i| i.user))
                .flatten();
            return Err(refuse(x509_reason(&e), claimed));
        }
        let identity = Identity::from_der(leaf).map_err(|e| refuse(format!("x509: {e}"), None))?;
        Ok((identity, not_after))
    }
}

fn unix_time(seconds: u64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds))
}

fn is_time_error(error: &CertificateError) -> bool {
    matches!(
        error,
        CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. }
    )
}

/// Upstream's wording for a refused chain (what kube-apiserver logs, and what our
/// audit line records as the 401's reason).
fn x509_reason(error: &rustls::Error) -> String {
    match error {
        // A foreign CA with our CA's name is found, and its signature fails.
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => "x509: certificate signed by unknown authority".into(),
        rustls::Error::InvalidCertificate(c) if is_time_error(c) => {
            "x509: certificate has expired or is not yet valid".into()
        }
        rustls::Error::InvalidCertificate(e) => format!("x509: {e:?}"),
        other => format!("x509: {other}"),
    }
}

/// Lets the handshake finish whatever certificate is presented, once the client
/// has signed the handshake with its key: the chain is judged after the handshake,
/// where a refusal can be an HTTP 401 or a gRPC UNAUTHENTICATED.
#[derive(Debug)]
struct DeferredClientVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for DeferredClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Bearer-token callers present no certificate.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The chain a connection presented, verified on its first request and remembered
/// for the connection's life (a later request past the leaf's notAfter is refused).
#[derive(Debug)]
pub struct PeerCertificate {
    chain: Vec<CertificateDer<'static>>,
    verified: OnceLock<Result<(Identity, u64), AuthnFailure>>,
}

impl PeerCertificate {
    /// The chain of a finished handshake, if the client presented one.
    pub fn of(connection: &rustls::ServerConnection) -> Option<Self> {
        let chain = connection.peer_certificates()?;
        (!chain.is_empty()).then(|| PeerCertificate {
            chain: chain.iter().map(|c| c.clone().into_owned()).collect(),
            verified: OnceLock::new(),
        })
    }

    /// The identity the certificate names if `ca` issued it and it is valid at
    /// `now` (seconds since the epoch); else why not.
    pub fn authenticate(&self, ca: &ClientCa, now: u64) -> Result<Identity, AuthnFailure> {
        let verified = self
            .verified
            .get_or_init(|| ca.verify(&self.chain, unix_time(now)));
        match verified {
            Ok((identity, not_after)) if now > *not_after => Err(AuthnFailure {
                reason: "x509: certificate has expired or is not yet valid".into(),
                claimed_user: Some(identity.user.clone()),
            }),
            Ok((identity, _)) => Ok(identity.clone()),
            Err(failure) => Err(failure.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rudder_pki::{CertificateAuthority, Validity};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn peer(ca: &CertificateAuthority, user: &str, validity: Validity) -> PeerCertificate {
        let cert = ca
            .issue_client(user, &["system:masters"], validity)
            .unwrap();
        PeerCertificate {
            chain: vec![cert.cert_der().unwrap()],
            verified: OnceLock::new(),
        }
    }

    fn refusal(reason: &str, user: Option<&str>) -> Result<Identity, AuthnFailure> {
        Err(AuthnFailure {
            reason: reason.into(),
            claimed_user: user.map(str::to_string),
        })
    }

    #[test]
    fn the_cluster_ca_decides_after_the_handshake() {
        rudder_pki::install_crypto_provider();
        let ours = CertificateAuthority::generate("kubernetes").unwrap();
        let ca = ClientCa::from_pem(ours.cert_pem()).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let unknown = "x509: certificate signed by unknown authority";
        let expired = "x509: certificate has expired or is not yet valid";

        let good = peer(&ours, "admin", Validity::days(1));
        assert_eq!(
            good.authenticate(&ca, now),
            Ok(Identity::new("admin", ["system:masters"]))
        );
        // Another CA, with our CA's name or another: its CN names nobody.
        for name in ["kubernetes", "evil"] {
            let theirs = CertificateAuthority::generate(name).unwrap();
            let foreign = peer(&theirs, "admin", Validity::days(1));
            assert_eq!(
                foreign.authenticate(&ca, now),
                refusal(unknown, None),
                "{name}"
            );
        }
        let old = peer(&ours, "old", Validity::expired());
        assert_eq!(old.authenticate(&ca, now), refusal(expired, Some("old")));
        // Valid when the connection opened, expired by a later request on it.
        let short = Validity {
            not_before: SystemTime::now() - Duration::from_secs(60),
            not_after: SystemTime::now() + Duration::from_secs(3600),
        };
        let ending = peer(&ours, "kubelet", short);
        assert!(ending.authenticate(&ca, now).is_ok());
        assert_eq!(
            ending.authenticate(&ca, now + 7200),
            refusal(expired, Some("kubelet"))
        );
        assert!(ClientCa::from_pem("not a certificate").is_err());
    }
}

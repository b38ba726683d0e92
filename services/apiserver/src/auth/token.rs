//! Service-account tokens: ES256 JWTs (ECDSA P-256 with SHA-256), signed with
//! `--service-account-signing-key-file` (PKCS#8) and verified with
//! `--service-account-key-file` (SubjectPublicKeyInfo), carrying upstream's
//! claims. Signing and verifying use `ring`, the workspace's one crypto backend;
//! the JWT framing (three base64url parts) is small enough to own here, and
//! only `alg: ES256` is ever accepted (no `none`, no algorithm confusion).
//!
//! Verification is pure ([`TokenVerifier::verify`] takes the time); whether the
//! service account still exists with the token's uid is the caller's check.
//! Token text never reaches logs or errors: failures are 401 `Unauthorized`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Why a token was refused (logged at debug, never sent: the wire says only
/// `Unauthorized`, as upstream).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("malformed token")]
    Malformed,
    /// `alg` other than ES256.
    #[error("unsupported algorithm")]
    Algorithm,
    /// No configured key verifies the signature.
    #[error("invalid signature")]
    Signature,
    /// `iss` is not ours.
    #[error("wrong issuer")]
    Issuer,
    /// `aud` shares nothing with the accepted audiences.
    #[error("wrong audience")]
    Audience,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// Before `nbf`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `sub` is not `system:serviceaccount:<ns>:<name>` matching the private claims.
    #[error("not a service-account token")]
    Subject,
}

/// An object a token names in its `kubernetes.io` claim: the service account,
/// and the pod or secret it is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedObject {
    /// Name.
    pub name: String,
    /// UID at issue time; a recreated object has another and the token stops working.
    pub uid: String,
}

/// The object a bound token lives and dies with (TokenRequest's `boundObjectRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundTo {
    /// A pod in the service account's namespace.
    Pod(NamedObject),
    /// A secret in the service account's namespace.
    Secret(NamedObject),
}

/// The `kubernetes.io` private claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    /// Namespace of the service account.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: NamedObject,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<NamedObject>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<NamedObject>,
}

/// A token's claims, as upstream's projected service-account tokens carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer (`--service-account-issuer`).
    pub iss: String,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub sub: String,
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Namespace, name and uid of the service account.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaim,
}

impl Claims {
    /// Claims for the service account `namespace/name` with `uid`, valid from
    /// `now` for `seconds`.
    pub fn new(
        issuer: &str,
        audiences: Vec<String>,
        namespace: &str,
        name: &str,
        uid: &str,
        now: u64,
        seconds: u64,
    ) -> Self {
        Claims {
            iss: issuer.to_string(),
            sub: crate::auth::rbac::service_account_user(namespace, name),
            aud: audiences,
            exp: now.saturating_add(seconds),
            iat: now,
            nbf: now,
            kubernetes: KubernetesClaim {
                namespace: namespace.to_string(),
                serviceaccount: NamedObject {
                    name: name.to_string(),
                    uid: uid.to_string(),
                },
                pod: None,
                secret: None,
            },
        }
    }

    /// The same claims bound to `object`.
    pub fn bound_to(mut self, object: BoundTo) -> Self {
        match object {
            BoundTo::Pod(pod) => self.kubernetes.pod = Some(pod),
            BoundTo::Secret(secret) => self.kubernetes.secret = Some(secret),
        }
        self
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
}

/// Signs tokens with the service-account private key.
pub struct TokenSigner {
    key: EcdsaKeyPair,
    issuer: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("issuer", &self.issuer)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TokenSigner {
    /// From a PKCS#8 PEM P-256 private key.
    pub fn from_pem(pem: &[u8], issuer: &str) -> Result<Self> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
            Error::Startup("service-account signing key: not a PEM private key".into())
        })?;
        let PrivateKeyDer::Pkcs8(pkcs8) = der else {
            return Err(Error::Startup(
                "service-account signing key: must be PKCS#8 (ES256)".into(),
            ));
        };
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.secret_pkcs8_der(),
            &rng,
        )
        .map_err(|_| {
            Error::Startup("service-account signing key: not an ECDSA P-256 key".into())
        })?;
        Ok(TokenSigner {
            key,
            issuer: issuer.to_string(),
            rng,
        })
    }

    /// The issuer tokens name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The uncompressed public point, for tests pairing a verifier with this signer.
    pub fn public_point(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// The signed token.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let header = Header {
            alg: "ES256".into(),
            kid: None,
            typ: Some("JWT".into()),
        };
        let encode = |v: &dyn erased::Json| -> Result<String> { Ok(B64.encode(v.to_json()?)) };
        let signing_input = format!("{}.{}", encode(&header)?, encode(claims)?);
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| Error::Internal("signing a service-account token failed".into()))?;
        Ok(format!("{signing_input}.{}", B64.encode(sig.as_ref())))
    }
}

mod erased {
    /// Serialises without naming the type (header and claims share one closure).
    pub trait Json {
        fn to_json(&self) -> crate::error::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> crate::error::Result<Vec<u8>> {
            serde_json::to_vec(self).map_err(|e| crate::error::Error::Internal(e.to_string()))
        }
    }
}

/// Verifies tokens against the service-account public keys.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    /// Uncompressed P-256 points.
    keys: Vec<Vec<u8>>,
    issuer: String,
    audiences: Vec<String>,
}

impl TokenVerifier {
    /// From a PEM file of one or more SubjectPublicKeyInfo P-256 keys. Tokens must
    /// name `issuer` and one of `audiences`.
    pub fn from_pem(pem: &[u8], issuer: &str, audiences: Vec<String>) -> Result<Self> {
        let mut keys = Vec::new();
        for spki in SubjectPublicKeyInfoDer::pem_slice_iter(pem) {
            let spki = spki.map_err(|_| {
                Error::Startup("service-account key file: not PEM public keys".into())
            })?;
            keys.push(point_of(spki.as_ref())?);
        }
        if keys.is_empty() {
            return Err(Error::Startup(
                "service-account key file: no PUBLIC KEY found".into(),
            ));
        }
        Ok(Self::from_points(keys, issuer, audiences))
    }

    /// From uncompressed P-256 points.
    pub fn from_points(keys: Vec<Vec<u8>>, issuer: &str, audiences: Vec<String>) -> Self {
        TokenVerifier {
            keys,
            issuer: issuer.to_string(),
            audiences,
        }
    }

    /// The token's claims when its signature, issuer, audience, times and subject
    /// hold at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = B64
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "ES256" {
            return Err(TokenError::Algorithm);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + c.len()];
        let verified = self.keys.iter().any(|k| {
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, k)
                .verify(signing_input.as_bytes(), &sig)
                .is_ok()
        });
        if !verified {
            return Err(TokenError::Signature);
        }
        let claims: Claims = B64
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if claims.iss != self.issuer {
            return Err(TokenError::Issuer);
        }
        if !claims.aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(TokenError::Audience);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        if now < claims.nbf {
            return Err(TokenError::NotYetValid);
        }
        let k = &claims.kubernetes;
        if claims.sub
            != crate::auth::rbac::service_account_user(&k.namespace, &k.serviceaccount.name)
            || k.namespace.is_empty()
            || k.serviceaccount.name.is_empty()
        {
            return Err(TokenError::Subject);
        }
        Ok(claims)
    }
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo: its BIT STRING's
/// content, which for P-256 is the last 65 bytes (0x04 || X || Y).
fn point_of(spki: &[u8]) -> Result<Vec<u8>> {
    /// id-ecPublicKey and prime256v1 OIDs, as DER.
    const EC_OID: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let contains = |needle: &[u8]| spki.windows(needle.len()).any(|w| w == needle);
    if spki.len() != 91 || !contains(EC_OID) || !contains(P256_OID) {
        return Err(Error::Startup(
            "service-account key file: only ECDSA P-256 (ES256) keys are supported".into(),
        ));
    }
    let point = &spki[26..];
    if point.first() != Some(&0x04) {
        return Err(Error::Startup(
            "service-account key file: compressed points are not supported".into(),
        ));
    }
    Ok(point.to_vec())
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> TokenSigner {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        TokenSigner::from_pem(pem.as_bytes(), "https://rudder").unwrap()
    }

    fn claims(now: u64) -> Claims {
        Claims::new(
            "https://rudder",
            vec!["https://rudder".into()],
            "ci",
            "bot",
            "u-1",
            now,
            600,
        )
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let s = signer();
        let v = TokenVerifier::from_points(
            vec![s.public_point()],
            "https://rudder",
            vec!["https://rudder".into()],
        );
        let now = 1_800_000_000;
        let token = s.sign(&claims(now)).unwrap();
        let got = v.verify(&token, now + 1).unwrap();
        assert_eq!(got.sub, "system:serviceaccount:ci:bot");
        assert_eq!(got.kubernetes.serviceaccount.uid, "u-1");

        assert_eq!(v.verify(&token, now + 600), Err(TokenError::Expired));
        assert_eq!(v.verify(&token, now - 1), Err(TokenError::NotYetValid));
        // Tampered claims: the signature no longer matches.
        let parts: Vec<&str> = token.split('.').collect();
        let mut c = claims(now);
        c.kubernetes.serviceaccount.name = "admin".into();
        c.sub = "system:serviceaccount:ci:admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert_eq!(v.verify(&forged, now + 1), Err(TokenError::Signature));
        // alg none, and another key.
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(v.verify(&none, now + 1), Err(TokenError::Algorithm));
        let other = TokenVerifier::from_points(
            vec![signer().public_point()],
            "https://rudder",
            vec!["https://rudder".into()],
        );
        assert_eq!(other.verify(&token, now + 1), Err(TokenError::Signature));
        // Issuer and audience.
        let v2 = TokenVerifier::from_points(
            vec![s.public_point()],
            "https://other",
            vec!["https://rudder".into()],
        );
        assert_eq!(v2.verify(&token, now + 1), Err(TokenError::Issuer));
        let v3 = TokenVerifier::from_points(
            vec![s.public_point()],
            "https://rudder",
            vec!["vault".into()],
        );
        assert_eq!(v3.verify(&token, now + 1), Err(TokenError::Audience));
        // Subject not matching the private claim.
        let mut c = claims(now);
        c.sub = "admin".into();
        assert_eq!(
            v.verify(&s.sign(&c).unwrap(), now + 1),
            Err(TokenError::Subject)
        );
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(v.verify(junk, now).is_err(), "{junk}");
        }
    }

    #[test]
    fn reads_the_pair_rudderadm_writes() {
        let dir = tempfile::TempDir::new().unwrap();
        rudder_pki::certs::write_cluster_certs(&rudder_pki::certs::CertsOptions::new(dir.path()))
            .unwrap();
        let (key, public) = rudder_pki::certs::CertsLayout::new(dir.path()).service_account_pair();
        let s = TokenSigner::from_pem(&std::fs::read(key).unwrap(), "i").unwrap();
        let v = TokenVerifier::from_pem(&std::fs::read(public).unwrap(), "i", vec!["i".into()])
            .unwrap();
        let c = Claims::new("i", vec!["i".into()], "ns", "n", "u", 100, 600);
        assert_eq!(v.verify(&s.sign(&c).unwrap(), 101).unwrap(), c);
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert!(format!("{:?}", signer()).contains("<redacted>"));
    }
}

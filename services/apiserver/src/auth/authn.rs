//! Authentication: who a request comes from. A client certificate verified
//! against `--client-ca-file` (CN user, O groups) comes first, as upstream's
//! x509 authenticator; else an `Authorization: Bearer` service-account token
//! (signature, issuer, audience, expiry, and the service account still existing
//! with the token's uid, read from the watch cache). Nothing is anonymous: no
//! credential, or a bad one, is 401 `Unauthorized`.
//!
//! The TLS layer requests but does not require client certificates, and lets any
//! certificate whose key the client holds through ([`server_tls`],
//! [`crate::auth::x509`]): token callers can connect, and a certificate that is
//! expired or from another CA is refused here, with a 401 and an audit line, as
//! kube-apiserver does.

use std::sync::Arc;

use http::HeaderMap;
use rudder_api::keys;
use rudder_pki::{Identity, TlsPaths};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::admission::RequestContext;
use crate::auth::token::{BoundTo, Claims, TokenSigner, TokenVerifier};
use crate::auth::x509::{ClientCa, PeerCertificate};
use crate::error::{Error, Result};
use crate::watch_cache::WatchCaches;

/// Why authentication failed, for the audit line (never sent: the wire says
/// `Unauthorized` only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnFailure {
    /// A short reason (`no credentials`, `token expired`, `service account deleted`).
    pub reason: String,
    /// The user the credential claimed, when there was one.
    pub claimed_user: Option<String>,
}

/// The group every service account is in.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";

/// Authenticates requests.
pub struct Authenticator {
    client_ca: ClientCa,
    tokens: Option<TokenVerifier>,
    /// Where a token's service account, and the pod or secret it is bound to,
    /// are looked up.
    objects: Option<WatchCaches>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("tokens", &self.tokens.is_some())
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Certificates issued by `client_ca` only.
    pub fn certificates_only(client_ca: ClientCa) -> Self {
        Authenticator {
            client_ca,
            tokens: None,
            objects: None,
        }
    }

    /// Certificates, and service-account tokens verified by `tokens`, whose
    /// accounts (and bound pods and secrets) are looked up in `objects`.
    pub fn with_tokens(client_ca: ClientCa, tokens: TokenVerifier, objects: WatchCaches) -> Self {
        Authenticator {
            client_ca,
            tokens: Some(tokens),
            objects: Some(objects),
        }
    }

    /// The caller of a request on a connection that presented `certificate`. A
    /// refused certificate still lets a bearer token speak (upstream's union of
    /// authenticators: the first that succeeds wins).
    pub fn authenticate(
        &self,
        certificate: Option<&PeerCertificate>,
        headers: &HeaderMap,
    ) -> Result<RequestContext, AuthnFailure> {
        let now = crate::auth::token::now();
        let refused_certificate = match certificate.map(|c| c.authenticate(&self.client_ca, now)) {
            Some(Ok(identity)) => return Ok(RequestContext::new(identity)),
            Some(Err(failure)) => Some(failure),
            None => None,
        };
        if !headers.contains_key(http::header::AUTHORIZATION)
            && let Some(failure) = refused_certificate
        {
            return Err(failure);
        }
        self.authenticate_token(headers, now)
    }

    fn authenticate_token(
        &self,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<RequestContext, AuthnFailure> {
        let fail = |reason: &str, claimed_user: Option<String>| AuthnFailure {
            reason: reason.to_string(),
            claimed_user,
        };
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(fail("no credentials", None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| fail("unsupported Authorization header", None))?;
        let (Some(verifier), Some(objects)) = (&self.tokens, &self.objects) else {
            return Err(fail("token authentication is not configured", None));
        };
        let claims = verifier
            .verify(token, now)
            .map_err(|e| fail(&e.to_string(), None))?;
        let k = &claims.kubernetes;
        let user = claims.sub.clone();
        // The token lives as long as the objects it names, with the uids it names:
        // a deleted or recreated account, pod or secret kills it.
        let named = [
            (
                "service account",
                "serviceaccounts",
                Some(&k.serviceaccount),
            ),
            ("pod", "pods", k.pod.as_ref()),
            ("secret", "secrets", k.secret.as_ref()),
        ];
        for (what, plural, object) in named {
            let Some(object) = object else { continue };
            let stored = rudder_api::resource::by_plural("", plural)
                .and_then(|r| Some((objects.get(r)?, r)))
                .and_then(|(cache, r)| {
                    let key = keys::object_key(r, Some(&k.namespace), &object.name).ok()?;
                    cache.get(&key)
                });
            let Some(stored) = stored else {
                return Err(fail(&format!("{what} not found"), Some(user)));
            };
            if crate::registry::meta::meta_str(&stored, "uid") != object.uid {
                return Err(fail(&format!("{what} uid does not match"), Some(user)));
            }
        }
        Ok(RequestContext::new(Identity::new(
            user,
            [
                SERVICE_ACCOUNTS_GROUP.to_string(),
                format!("{SERVICE_ACCOUNTS_GROUP}:{}", k.namespace),
            ],
        )))
    }
}

/// Issues tokens for the TokenRequest API (`serviceaccounts/<name>/token`).
#[derive(Debug)]
pub struct TokenIssuer {
    signer: TokenSigner,
    /// Audiences when the request names none (upstream `--api-audiences`,
    /// defaulting to the issuer).
    default_audiences: Vec<String>,
}

/// Shortest token lifetime a TokenRequest may ask (upstream: 10 minutes).
pub const MIN_TOKEN_SECONDS: u64 = 600;
/// Lifetime when the request names none (upstream: 1 hour).
pub const DEFAULT_TOKEN_SECONDS: u64 = 3600;

impl TokenIssuer {
    /// An issuer signing with `signer`.
    pub fn new(signer: TokenSigner) -> Self {
        let default_audiences = vec![signer.issuer().to_string()];
        TokenIssuer {
            signer,
            default_audiences,
        }
    }

    /// The audiences of a token whose request names none.
    pub fn default_audiences(&self) -> &[String] {
        &self.default_audiences
    }

    /// A signed token for `namespace/name` (uid `uid`), bound to `bound` if
    /// given, and its expiry (unix seconds).
    pub fn issue(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        audiences: Option<Vec<String>>,
        seconds: Option<u64>,
        bound: Option<BoundTo>,
    ) -> Result<(String, u64)> {
        let seconds = seconds.unwrap_or(DEFAULT_TOKEN_SECONDS);
        if seconds < MIN_TOKEN_SECONDS {
            return Err(Error::BadRequest(
                "TokenRequest is invalid: spec.expirationSeconds: Invalid value: may not specify a duration less than 10 minutes".into(),
            ));
        }
        let audiences = audiences
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| self.default_audiences.clone());
        let mut claims = Claims::new(
            self.signer.issuer(),
            audiences,
            namespace,
            name,
            uid,
            crate::auth::token::now(),
            seconds,
        );
        if let Some(bound) = bound {
            claims = claims.bound_to(bound);
        }
        Ok((self.signer.sign(&claims)?, claims.exp))
    }
}

/// The serving TLS config: our certificate, and client certificates requested
/// but not required (token callers have none) and verified against the returned
/// CA per request, not in the handshake. ALPN h2 and HTTP/1.1.
pub fn server_tls(paths: &TlsPaths) -> Result<(Arc<rustls::ServerConfig>, ClientCa)> {
    rudder_pki::install_crypto_provider();
    let material = paths
        .load()
        .map_err(|e| Error::Startup(format!("serving TLS: {e}")))?;
    let bad = |what: &str| Error::Startup(format!("serving TLS: {what}"));
    let client_ca = ClientCa::from_pem(&material.ca_pem).map_err(|e| bad(&e))?;
    let chain = CertificateDer::pem_slice_iter(material.cert_pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| bad("serving certificate is not PEM"))?;
    let key = PrivateKeyDer::from_pem_slice(material.key.expose_pem().as_bytes())
        .map_err(|_| bad("serving key is not PEM"))?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(client_ca.handshake_verifier())
        .with_single_cert(chain, key)
        .map_err(|e| bad(&e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), client_ca))
}

//! A private key in PEM form, wrapped so it cannot end up in a log by accident.

use std::fmt;

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::PkiError;

/// A private key as PEM text (PKCS#8 for the keys this crate makes).
///
/// Its `Debug` prints `<redacted>` and it has no `Display`, so a key stored in a
/// config struct that gets logged with `{:?}` never leaks. Read the PEM with
/// [`PrivateKeyPem::expose_pem`] only where it is handed to a TLS library or a file.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Wraps PEM text, checking that it holds one private key (PKCS#1, PKCS#8 or SEC1).
    /// `what` names the source (usually the file) in the error.
    pub fn parse(pem: String, what: &str) -> Result<Self, PkiError> {
        PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|err| PkiError::InvalidPem {
            what: what.to_string(),
            reason: format!("not a PEM private key ({err})"),
        })?;
        Ok(PrivateKeyPem(pem))
    }

    /// Wraps PEM text produced by this crate (already known to be a key).
    pub(crate) fn from_generated(pem: String) -> Self {
        PrivateKeyPem(pem)
    }

    /// The PEM text. Named so that every place a key leaves this type stands out in review.
    pub fn expose_pem(&self) -> &str {
        &self.0
    }

    /// The key in DER form, as rustls takes it.
    pub fn to_der(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        PrivateKeyDer::from_pem_slice(self.0.as_bytes()).map_err(|err| PkiError::InvalidPem {
            what: "private key".to_string(),
            reason: format!("not a PEM private key ({err})"),
        })
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_private_key_is_redacted() {
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = key.serialize_pem();
        let wrapped = PrivateKeyPem::parse(pem.clone(), "test key").unwrap();

        assert_eq!(format!("{wrapped:?}"), "<redacted>");
        assert_eq!(format!("{wrapped:#?}"), "<redacted>");
        let in_struct = format!("{:?}", Some(&wrapped));
        assert!(!in_struct.contains("PRIVATE KEY"), "{in_struct}");
        assert_eq!(wrapped.expose_pem(), pem);
    }

    #[test]
    fn garbage_is_not_a_private_key() {
        let err = PrivateKeyPem::parse("not a key".to_string(), "ca.key").unwrap_err();
        assert!(err.to_string().starts_with("ca.key: "), "{err}");
    }
}

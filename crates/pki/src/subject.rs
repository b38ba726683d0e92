//! Subjects with several organizations (groups).
//!
//! rcgen keeps one value per attribute type in a distinguished name, but a Kubernetes
//! user may be in several groups, each an O attribute of the subject. For such
//! certificates rcgen signs one with a placeholder subject; this module puts the real
//! subject into the to-be-signed part and signs it again with the CA key. Only the
//! subject changes: serial, validity, extensions and algorithm stay as rcgen wrote them.

use rcgen::SigningKey;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_VERSION: u8 = 0xa0;
/// id-at-organizationName, 2.5.4.10.
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
/// id-at-commonName, 2.5.4.3.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The DER of a subject `O=<group>... CN=<user>`, organizations first as kubeadm and
/// openssl-made Kubernetes certificates have them.
pub(crate) fn subject_der(user: &str, groups: &[String]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for group in groups {
        rdns.extend(attribute(OID_ORGANIZATION, group));
    }
    rdns.extend(attribute(OID_COMMON_NAME, user));
    tlv(TAG_SEQUENCE, &rdns)
}

/// Replaces the subject of the signed certificate `cert_der` by `subject` and signs
/// the result with `issuer_key`, which must be the key that signed `cert_der` (the
/// signature algorithm is kept). Errors are reasons for a message.
pub(crate) fn replace_subject(
    cert_der: &[u8],
    subject: &[u8],
    issuer_key: &impl SigningKey,
) -> Result<Vec<u8>, String> {
    let malformed = || "rcgen produced a certificate this module cannot read".to_string();
    let (_, cert_content, _) = split_tlv(cert_der).ok_or_else(malformed)?;
    let (_, tbs_content, after_tbs) = split_tlv(cert_content).ok_or_else(malformed)?;
    let (signature_algorithm, _, _) = split_tlv(after_tbs).ok_or_else(malformed)?;
    if tbs_content.first() != Some(&TAG_VERSION) {
        return Err(malformed());
    }
    // TBSCertificate: version, serialNumber, signature, issuer, validity, subject, ...
    let mut rest = tbs_content;
    for _ in 0..5 {
        let (_, _, next) = split_tlv(rest).ok_or_else(malformed)?;
        rest = next;
    }
    let before_subject = &tbs_content[..tbs_content.len() - rest.len()];
    let (_, _, after_subject) = split_tlv(rest).ok_or_else(malformed)?;

    let tbs = tlv(
        TAG_SEQUENCE,
        &[before_subject, subject, after_subject].concat(),
    );
    let signature = issuer_key
        .sign(&tbs)
        .map_err(|err| format!("signing: {err}"))?;
    let mut signature_bits = vec![0u8];
    signature_bits.extend(signature);
    Ok(tlv(
        TAG_SEQUENCE,
        &[
            tbs.as_slice(),
            signature_algorithm,
            &tlv(TAG_BIT_STRING, &signature_bits),
        ]
        .concat(),
    ))
}

fn attribute(oid: &[u8], value: &str) -> Vec<u8> {
    let type_and_value = [tlv(TAG_OID, oid), tlv(TAG_UTF8_STRING, value.as_bytes())].concat();
    tlv(TAG_SET, &tlv(TAG_SEQUENCE, &type_and_value))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.extend(u8::try_from(len));
    } else {
        let bytes = len.to_be_bytes();
        let leading_zeros = bytes.iter().take_while(|byte| **byte == 0).count();
        let significant = &bytes[leading_zeros..];
        out.extend(u8::try_from(0x80 | significant.len()));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// Splits the first DER element off `input`: (whole element, its content, the rest).
fn split_tlv(input: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags never occur in certificates rcgen writes
    }
    let (&first_len, rest) = rest.split_first()?;
    let (len, rest) = if first_len < 0x80 {
        (usize::from(first_len), rest)
    } else {
        let count = usize::from(first_len & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    let header_len = input.len() - rest.len();
    Some((&input[..header_len + len], &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn lengths_use_the_long_form_from_128_bytes() {
        assert_eq!(tlv(0x04, &[7; 3]), [0x04, 3, 7, 7, 7]);
        let long = tlv(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (whole, content, rest) = split_tlv(&long).unwrap();
        assert_eq!((whole.len(), content.len(), rest.len()), (304, 300, 0));
    }

    #[test]
    fn subject_lists_every_group_then_the_user() {
        let der = subject_der("alice", &["dev".to_string(), "ops".to_string()]);
        let (_, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
        let orgs: Vec<_> = name
            .iter_organization()
            .map(|attr| attr.as_str().unwrap().to_string())
            .collect();
        assert_eq!(orgs, ["dev", "ops"]);
        let cn = name.iter_common_name().next().unwrap().as_str().unwrap();
        assert_eq!(cn, "alice");
    }
}

//! Making a CA and issuing server and client certificates (rcgen, ECDSA P-256).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

use super::TlsError;

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// The private key (PKCS#8).
    pub key: String,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem").field("key", &"<redacted>").finish()
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafRole {
    /// A server: EKU serverAuth.
    Server,
    /// A client: EKU clientAuth.
    Client,
}

impl LeafRole {
    /// File name stem in the certificate folder.
    pub fn file_stem(self) -> &'static str {
        match self {
            LeafRole::Server => "server",
            LeafRole::Client => "client",
        }
    }
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Valid from an hour ago (clock skew) for `days` days.
    pub fn days(days: u32) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(i64::from(days)),
        }
    }
}

/// Default CA lifetime: ten years.
pub const CA_DAYS: u32 = 3650;
/// Default leaf lifetime: about a year, under the 398 days browsers accept.
pub const LEAF_DAYS: u32 = 397;

/// Makes a self-signed CA that may only sign leaves (path length 0).
pub fn new_ca(common_name: &str, validity: Validity) -> Result<Pem, TlsError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Issues a leaf for `role` named `name`, signed by `ca`.
///
/// ```
/// use pingpong::tls::generate::{issue_leaf, new_ca, Validity};
/// use pingpong::tls::LeafRole;
///
/// let ca = new_ca("example CA", Validity::days(30)).unwrap();
/// let server = issue_leaf(&ca, LeafRole::Server, "web1", &["web1.lan".into(), "192.0.2.10".into()], Validity::days(30)).unwrap();
/// assert!(server.cert.starts_with("-----BEGIN CERTIFICATE-----"));
/// ```
///
/// The subject CN is `name`; the SANs are `sans` (DNS names or IP addresses), and
/// `name` itself when `sans` is empty. Every leaf carries at least one SAN.
pub fn issue_leaf(
    ca: &Pem,
    role: LeafRole,
    name: &str,
    sans: &[String],
    validity: Validity,
) -> Result<Pem, TlsError> {
    let issuer = issuer(ca)?;
    let params = leaf_params(
        role,
        distinguished_name(name),
        san_list(name, sans)?,
        validity,
    );
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A certificate signing request made on the machine that will use the leaf:
/// its key never leaves that machine.
#[derive(Clone)]
pub struct Request {
    /// The request (PEM, `CERTIFICATE REQUEST`).
    pub csr: String,
    /// The private key (PKCS#8 PEM).
    pub key: String,
}

/// Makes a key and a request for a `role` leaf named `name` with `sans` (the
/// same rules as [`issue_leaf`]).
pub fn new_request(role: LeafRole, name: &str, sans: &[String]) -> Result<Request, TlsError> {
    // A request carries the subject, the names and the purpose; the CA sets
    // the rest when it signs.
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name);
    params.subject_alt_names = san_list(name, sans)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match role {
        LeafRole::Server => ExtendedKeyUsagePurpose::ServerAuth,
        LeafRole::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    let key = KeyPair::generate()?;
    let csr = params.serialize_request(&key)?.pem()?;
    Ok(Request {
        csr,
        key: key.serialize_pem(),
    })
}

/// Signs a request (checked first: its signature must verify) as a `role` leaf
/// valid for `validity`, with `ca`. Only the request's subject, names and key
/// are taken; the purpose, key usage and validity are this CA's. Returns the
/// certificate (PEM).
pub fn sign_request(
    ca: &Pem,
    csr_pem: &str,
    role: LeafRole,
    validity: Validity,
) -> Result<String, TlsError> {
    let issuer = issuer(ca)?;
    let mut request = rcgen::CertificateSigningRequestParams::from_pem(csr_pem)?;
    let subject = request.params.distinguished_name.clone();
    let sans = request.params.subject_alt_names.clone();
    if sans.is_empty() {
        return Err(TlsError::InvalidName {
            name: "(the request)".into(),
            reason: "it carries no subject alternative name; make it with `pingpong certs request`"
                .into(),
        });
    }
    request.params = leaf_params(role, subject, sans, validity);
    Ok(request.signed_by(&issuer)?.pem())
}

fn issuer(ca: &Pem) -> Result<Issuer<'static, KeyPair>, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key)?;
    Ok(Issuer::from_ca_cert_pem(&ca.cert, ca_key)?)
}

/// `sans` parsed, or `name` alone when there are none: every leaf carries at
/// least one SAN.
fn san_list(name: &str, sans: &[String]) -> Result<Vec<SanType>, TlsError> {
    if sans.is_empty() {
        return Ok(vec![parse_san(name)?]);
    }
    sans.iter().map(|s| parse_san(s)).collect()
}

fn leaf_params(
    role: LeafRole,
    subject: DistinguishedName,
    sans: Vec<SanType>,
    validity: Validity,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match role {
        LeafRole::Server => ExtendedKeyUsagePurpose::ServerAuth,
        LeafRole::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(random_serial());
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params
}

/// The SANs of a zero-config server certificate: its name, this machine's host
/// name and `<host>.local`, `localhost` and the loopback addresses.
pub fn default_server_sans(name: &str) -> Vec<String> {
    let mut sans = vec![name.to_string()];
    if let Some(host) = local_hostname() {
        sans.push(format!("{}.local", first_label(&host)));
        sans.push(host);
    }
    sans.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    let mut seen = std::collections::HashSet::new();
    sans.retain(|s| seen.insert(s.to_ascii_lowercase()));
    sans
}

/// This machine's host name, if it is usable as a DNS name.
pub fn local_hostname() -> Option<String> {
    let host = gethostname::gethostname().into_string().ok()?;
    let host = host.trim().trim_end_matches(".local").to_string();
    (!host.is_empty() && is_dns_name(&host)).then_some(host)
}

/// The first label of this machine's host name (`web1` of
/// `web1.example.com`): the name it has on the link over mDNS (`web1.local`)
/// and a server's default instance name, as avahi names a machine.
pub fn local_host_label() -> Option<String> {
    local_hostname().map(|host| first_label(&host).to_string())
}

/// `web1` of `web1.example.com`.
fn first_label(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

fn parse_san(s: &str) -> Result<SanType, TlsError> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    if !is_dns_name(s) {
        return Err(TlsError::InvalidName {
            name: s.to_string(),
            reason:
                "not a DNS name or IP address (letters, digits, '-', '.' and a leading '*.' only)"
                    .into(),
        });
    }
    let ia5 = s
        .to_string()
        .try_into()
        .map_err(|e: rcgen::Error| TlsError::InvalidName {
            name: s.to_string(),
            reason: e.to_string(),
        })?;
    Ok(SanType::DnsName(ia5))
}

/// A DNS name as certificates carry it: labels of letters, digits and hyphens, an
/// optional leading wildcard label, at most 253 characters.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    let s = s.strip_prefix("*.").unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "pingpong");
    dn
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte to strip
    SerialNumber::from_slice(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::pem::parse_x509_pem;
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

    #[test]
    fn the_link_name_is_the_host_names_first_label() {
        assert_eq!(first_label("web1.example.com"), "web1");
        assert_eq!(first_label("web1"), "web1");
    }

    fn parse(pem: &str) -> Vec<u8> {
        let (_, pem) = parse_x509_pem(pem.as_bytes()).unwrap();
        pem.contents
    }

    /// The EKU flags (server, client) and SANs of a PEM leaf.
    fn eku_and_sans(pem: &str) -> ((bool, bool), Vec<String>) {
        let der = parse(pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert!(!cert.is_ca());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        let sans = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(ip) => format!("{ip:?}"),
                other => format!("{other:?}"),
            });
        ((eku.server_auth, eku.client_auth), sans.collect())
    }

    #[test]
    fn ca_is_a_constrained_ca() {
        let ca = new_ca("test CA", Validity::days(1)).unwrap();
        let der = parse(&ca.cert);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let bc = cert.basic_constraints().unwrap().unwrap().value;
        assert!(bc.ca);
        assert_eq!(bc.path_len_constraint, Some(0));
        assert!(cert.key_usage().unwrap().unwrap().value.key_cert_sign());
    }

    #[test]
    fn leaves_carry_the_right_eku_and_sans() {
        let ca = new_ca("test CA", Validity::days(1)).unwrap();
        let server = issue_leaf(
            &ca,
            LeafRole::Server,
            "srv",
            &["srv.example".into(), "10.0.0.1".into()],
            Validity::days(1),
        )
        .unwrap();
        let (eku, sans) = eku_and_sans(&server.cert);
        assert_eq!(eku, (true, false));
        assert_eq!(sans.len(), 2);

        let client = issue_leaf(&ca, LeafRole::Client, "alice", &[], Validity::days(1)).unwrap();
        let (eku, sans) = eku_and_sans(&client.cert);
        assert_eq!(eku, (false, true));
        assert_eq!(sans, vec!["alice".to_string()]);
    }

    #[test]
    fn bad_names_are_refused() {
        let ca = new_ca("test CA", Validity::days(1)).unwrap();
        let err = issue_leaf(&ca, LeafRole::Client, "Alice Smith", &[], Validity::days(1));
        assert!(matches!(err, Err(TlsError::InvalidName { .. })));
    }

    #[test]
    fn zero_config_sans_cover_loopback_and_localhost() {
        let sans = default_server_sans("pingpong");
        for want in ["pingpong", "localhost", "127.0.0.1", "::1"] {
            assert!(
                sans.iter().any(|s| s == want),
                "{want} missing from {sans:?}"
            );
        }
    }
}

//! Writing certificate material to the certificate folder, and the zero-config
//! development CA.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use std::path::PathBuf;

use time::OffsetDateTime;

use super::generate::{self, LeafRole, Pem, Validity};
use super::inspect::{self, CertInfo};
use super::{CertPaths, TlsError};
use crate::platform;

/// Common name of the generated development CA.
pub const DEV_CA_NAME: &str = "pingpong development CA";
/// Name of the generated development client certificate.
pub const DEV_CLIENT_NAME: &str = "pingpong-client";

/// Writes `contents` to `path`: mode 0600 when `secret`, else 0644. Refuses to
/// replace an existing file unless `force`.
pub fn write_file(path: &Path, contents: &str, secret: bool, force: bool) -> Result<(), TlsError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check_folder(dir)?;
        platform::create_private_folder(dir).map_err(|e| TlsError::io(dir, e))?;
    }
    if force {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TlsError::io(path, e)),
        }
    }
    let mut file = platform::create_file(
        path,
        secret,
        OpenOptions::new().write(true).create_new(true),
    )
    .map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => TlsError::AlreadyExists {
            path: path.to_path_buf(),
        },
        _ => TlsError::io(path, e),
    })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| TlsError::io(path, e))
}

fn write_pair(cert: &Path, key: &Path, pem: &Pem, force: bool) -> Result<(), TlsError> {
    if !force {
        for path in [cert, key] {
            if path.exists() {
                return Err(TlsError::AlreadyExists {
                    path: path.to_path_buf(),
                });
            }
        }
    }
    write_file(key, &pem.key, true, force)?;
    write_file(cert, &pem.cert, false, force)
}

/// Creates a new CA in the folder (`ca.pem`, `ca.key`).
pub fn init_ca(
    paths: &CertPaths,
    common_name: &str,
    days: u32,
    force: bool,
) -> Result<(), TlsError> {
    let ca = generate::new_ca(common_name, Validity::days(days))?;
    write_pair(&paths.ca_cert(), &paths.ca_key(), &ca, force)
}

/// Reads the folder's CA certificate and key, for issuing.
pub fn load_ca(paths: &CertPaths) -> Result<Pem, TlsError> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => TlsError::NoCa {
                dir: paths.dir.clone(),
            },
            _ => TlsError::io(path, e),
        })
    };
    Ok(Pem {
        cert: read(&paths.ca_cert())?,
        key: read(&paths.ca_key())?,
    })
}

/// Fails with [`TlsError::NotAFolder`] when `dir` exists and is not a folder.
pub fn check_folder(dir: &Path) -> Result<(), TlsError> {
    if dir.exists() && !dir.is_dir() {
        return Err(TlsError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// The folder's CA, checked before it signs anything: its key must be the
/// certificate's, and a leaf valid for `validity` must not outlive it. A leaf
/// asked to live as long as its CA (the same `--days`, made a moment later)
/// ends with it: `validity` is clamped by up to a day; beyond that, refused.
fn signing_ca(paths: &CertPaths, role: LeafRole, validity: &mut Validity) -> Result<Pem, TlsError> {
    if paths.ca_cert().exists() && !paths.ca_key().exists() {
        return Err(TlsError::CaKeyElsewhere {
            dir: paths.dir.clone(),
            role: role.file_stem(),
        });
    }
    let ca = load_ca(paths)?;
    if !inspect::key_matches(&paths.ca_cert(), &paths.ca_key())? {
        return Err(TlsError::CaKeyMismatch {
            cert: paths.ca_cert(),
            key: paths.ca_key(),
        });
    }
    let info = CertInfo::from_file(&paths.ca_cert())?;
    if validity.not_after > info.not_after
        && validity.not_after - info.not_after <= time::Duration::days(1)
    {
        validity.not_after = info.not_after;
    }
    if validity.not_after > info.not_after {
        let now = OffsetDateTime::now_utc();
        return Err(TlsError::OutlivesCa {
            days: u32::try_from((validity.not_after - validity.not_before).whole_days())
                .unwrap_or(u32::MAX),
            ca: paths.ca_cert(),
            ca_until: inspect::date(info.not_after),
            max_days: info.days_left(now).max(0),
        });
    }
    Ok(ca)
}

/// Issues a leaf signed by the folder's CA and writes it as `server.*` or `client.*`.
pub fn issue(
    paths: &CertPaths,
    role: LeafRole,
    name: &str,
    sans: &[String],
    mut validity: Validity,
    force: bool,
) -> Result<(), TlsError> {
    let ca = signing_ca(paths, role, &mut validity)?;
    let leaf = generate::issue_leaf(&ca, role, name, sans, validity)?;
    write_pair(&paths.leaf_cert(role), &paths.leaf_key(role), &leaf, force)
}

/// Issues a leaf for another machine: writes it, its key and a copy of
/// `ca.pem` into `out`, a folder to copy there as its certificate folder.
pub fn issue_bundle(
    paths: &CertPaths,
    out: &CertPaths,
    role: LeafRole,
    name: &str,
    sans: &[String],
    mut validity: Validity,
    force: bool,
) -> Result<(), TlsError> {
    let ca = signing_ca(paths, role, &mut validity)?;
    let leaf = generate::issue_leaf(&ca, role, name, sans, validity)?;
    write_pair(&out.leaf_cert(role), &out.leaf_key(role), &leaf, force)?;
    write_file(&out.ca_cert(), &ca.cert, false, force)
}

/// Where [`request`] writes the request of `role`: `server.csr` / `client.csr`.
pub fn request_path(paths: &CertPaths, role: LeafRole) -> PathBuf {
    paths.dir.join(format!("{}.csr", role.file_stem()))
}

/// On a machine without the CA: makes this machine's key (kept here, 0600)
/// and a signing request to take to the CA machine ([`sign`]).
pub fn request(
    paths: &CertPaths,
    role: LeafRole,
    name: &str,
    sans: &[String],
    force: bool,
) -> Result<PathBuf, TlsError> {
    let request = generate::new_request(role, name, sans)?;
    let (key, csr) = (paths.leaf_key(role), request_path(paths, role));
    if !force && key.exists() {
        return Err(TlsError::AlreadyExists { path: key });
    }
    write_file(&key, &request.key, true, force)?;
    write_file(&csr, &request.csr, false, force)?;
    Ok(csr)
}

/// On the CA machine: signs the request in `csr` as a `role` leaf and writes it
/// with a copy of `ca.pem` into `out`, to copy back to the machine that made
/// the request. Returns the certificate's path.
pub fn sign(
    paths: &CertPaths,
    csr: &Path,
    role: LeafRole,
    mut validity: Validity,
    out: &CertPaths,
    force: bool,
) -> Result<PathBuf, TlsError> {
    let ca = signing_ca(paths, role, &mut validity)?;
    let text = fs::read_to_string(csr).map_err(|e| TlsError::io(csr, e))?;
    let cert = generate::sign_request(&ca, &text, role, validity).map_err(|e| match e {
        TlsError::Generate(error) => TlsError::BadRequest {
            path: csr.to_path_buf(),
            reason: match error {
                rcgen::Error::CouldNotParseCertificationRequest => {
                    "it is not a PEM certificate request".into()
                }
                rcgen::Error::InvalidCertificationRequestSignature => {
                    "its signature does not verify (changed after it was made?)".into()
                }
                other => other.to_string(),
            },
        },
        TlsError::InvalidName { reason, .. } => TlsError::BadRequest {
            path: csr.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    let path = out.leaf_cert(role);
    write_file(&path, &cert, false, force)?;
    write_file(&out.ca_cert(), &ca.cert, false, force)?;
    Ok(path)
}

/// Fills an empty folder with a CA named `ca_name` and two leaves for one machine:
/// a server certificate for `localhost` (and this host's names and the loopback
/// addresses) and a client certificate. For demos, examples, tests and benchmarks.
pub fn init_single_host(paths: &CertPaths, ca_name: &str, days: u32) -> Result<(), TlsError> {
    init_ca(paths, ca_name, days, false)?;
    let server_sans = generate::default_server_sans("localhost");
    issue(
        paths,
        LeafRole::Server,
        "localhost",
        &server_sans,
        Validity::days(days),
        false,
    )?;
    issue(
        paths,
        LeafRole::Client,
        DEV_CLIENT_NAME,
        &[],
        Validity::days(days),
        false,
    )
}

/// Makes sure the folder holds a CA and the leaf of `role`, creating a development
/// CA and leaves when they are missing. Returns a one-line description of what was
/// created, or `None` when everything was already there.
pub fn ensure_development_pki(
    paths: &CertPaths,
    role: LeafRole,
) -> Result<Option<String>, TlsError> {
    check_folder(paths.dir())?;
    // Everything this role needs is there: nothing to write, so a read-only
    // folder (a Kubernetes Secret) works.
    if paths.ca_cert().exists() && paths.leaf_cert(role).exists() && paths.leaf_key(role).exists() {
        return Ok(None);
    }
    // A CA kept elsewhere: this machine's leaf comes from there, and no
    // development CA is ever made beside a ca.pem.
    if paths.ca_cert().exists() && !paths.ca_key().exists() {
        if paths.leaf_cert(role).exists() || paths.leaf_key(role).exists() {
            return Ok(None); // half a pair: the file check names the missing one
        }
        return Err(TlsError::LeafMissing {
            dir: paths.dir.clone(),
            role: role.file_stem(),
        });
    }
    // Two servers started at once on an empty folder must not both create a CA.
    let _lock = FolderLock::acquire(paths.dir()).map_err(|error| match error {
        TlsError::Io { error, .. }
            if matches!(
                error.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            TlsError::ReadOnlyFolder {
                dir: paths.dir.clone(),
                missing: missing_files(paths, role),
                role: role.file_stem(),
                error,
            }
        }
        other => other,
    })?;
    let mut created = Vec::new();
    if !paths.ca_cert().exists() && !paths.ca_key().exists() {
        init_ca(paths, DEV_CA_NAME, generate::CA_DAYS, false)?;
        created.push("a development CA");
    }
    for leaf in [LeafRole::Server, LeafRole::Client] {
        let wanted = leaf == role || !created.is_empty();
        if wanted && !paths.leaf_cert(leaf).exists() && !paths.leaf_key(leaf).exists() {
            let (name, sans) = match leaf {
                LeafRole::Server => {
                    let name = generate::local_hostname().unwrap_or_else(|| "localhost".into());
                    let sans = generate::default_server_sans(&name);
                    (name, sans)
                }
                LeafRole::Client => (DEV_CLIENT_NAME.to_string(), Vec::new()),
            };
            issue(
                paths,
                leaf,
                &name,
                &sans,
                Validity::days(generate::LEAF_DAYS),
                false,
            )?;
            created.push(match leaf {
                LeafRole::Server => "a server certificate",
                LeafRole::Client => "a client certificate",
            });
        }
    }
    Ok((!created.is_empty()).then(|| {
        format!(
            "created {} in {} (zero-config development setup; see `pingpong certs --help`)",
            join_and(&created),
            paths.dir.display()
        )
    }))
}

/// The files of `role`'s material that `paths` lacks, for a message.
fn missing_files(paths: &CertPaths, role: LeafRole) -> String {
    let wanted = [paths.ca_cert(), paths.leaf_cert(role), paths.leaf_key(role)];
    let names: Vec<String> = wanted
        .iter()
        .filter(|path| !path.exists())
        .filter_map(|path| path.file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    join_and(&names)
}

/// An exclusive advisory lock on `<dir>/.lock` (`flock` on Unix,
/// `LockFileEx` on Windows), released when dropped (its file is closed).
struct FolderLock {
    _file: std::fs::File,
}

impl FolderLock {
    fn acquire(dir: &Path) -> Result<Self, TlsError> {
        platform::create_private_folder(dir).map_err(|e| TlsError::io(dir, e))?;
        let path = dir.join(".lock");
        let file = platform::create_file(
            &path,
            true,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(|e| TlsError::io(&path, e))?;
        // Blocks until the lock is ours.
        file.lock().map_err(|e| TlsError::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    /// File modes: what Unix checks (src/platform/unix.rs).
    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn keys_are_private_and_certs_readable() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path().join("pki"));
        init_ca(&paths, "t", 1, false).unwrap();
        issue(&paths, LeafRole::Client, "c", &[], Validity::days(1), false).unwrap();
        assert_eq!(mode(&paths.ca_key()), 0o600);
        assert_eq!(mode(&paths.leaf_key(LeafRole::Client)), 0o600);
        assert_eq!(mode(&paths.ca_cert()), 0o644);
        assert_eq!(mode(paths.dir()), 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path());
        init_ca(&paths, "t", 1, false).unwrap();
        let before = fs::read_to_string(paths.ca_cert()).unwrap();
        assert!(matches!(
            init_ca(&paths, "t", 1, false),
            Err(TlsError::AlreadyExists { .. })
        ));
        assert_eq!(before, fs::read_to_string(paths.ca_cert()).unwrap());
        init_ca(&paths, "t", 1, true).unwrap();
        assert_ne!(before, fs::read_to_string(paths.ca_cert()).unwrap());
        assert_eq!(mode(&paths.ca_key()), 0o600);
    }

    #[test]
    fn issuing_without_a_ca_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path());
        let err = issue(&paths, LeafRole::Server, "s", &[], Validity::days(1), false).unwrap_err();
        assert!(err.to_string().contains("pingpong certs init"), "{err}");
    }

    #[test]
    fn concurrent_zero_config_starts_share_one_ca() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path());
        let created: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        ensure_development_pki(&paths, LeafRole::Server)
                            .unwrap()
                            .is_some()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
    }

    #[test]
    fn development_pki_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let paths = CertPaths::new(dir.path());
        let msg = ensure_development_pki(&paths, LeafRole::Client)
            .unwrap()
            .unwrap();
        assert!(msg.contains("development CA"), "{msg}");
        for role in [LeafRole::Server, LeafRole::Client] {
            assert!(paths.leaf_cert(role).exists() && paths.leaf_key(role).exists());
        }
        assert_eq!(
            ensure_development_pki(&paths, LeafRole::Server).unwrap(),
            None
        );
    }
}

//! `pingpong certs`: make a CA, issue server and client certificates (here, or
//! as a bundle for another machine), request and sign them across machines,
//! and show what a folder holds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Subcommand, ValueEnum};

use super::output::say;
use pingpong::tls::generate::{self, Validity};
use pingpong::tls::inspect::{self, CertInfo};
use pingpong::tls::{store, CertPaths, LeafRole};

/// Days of validity: at least one (zero would make a certificate that has
/// already expired).
fn days_arg() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..)
}

#[derive(Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a CA (ca.pem, ca.key). Keep ca.key on this machine only.
    Init {
        /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// CA common name.
        #[arg(long, default_value = "pingpong CA")]
        name: String,
        /// Days of validity.
        #[arg(long, default_value_t = generate::CA_DAYS, value_parser = days_arg())]
        days: u32,
        /// Replace existing files (every certificate the old CA signed stops
        /// being trusted).
        #[arg(long)]
        force: bool,
    },
    /// Issue a server or client certificate signed by the CA: into the folder,
    /// or with --out as a bundle for another machine.
    Issue {
        /// server (serverAuth) or client (clientAuth).
        role: Role,
        /// Subject name; also the SAN when no --san is given (servers: see below).
        #[arg(long)]
        name: String,
        /// Subject alternative name, DNS name or IP address (repeatable). A server with
        /// no --san gets its name, this host's name and HOST.local, localhost and loopback.
        #[arg(long = "san", value_name = "DNS-or-IP")]
        sans: Vec<String>,
        /// Certificate folder holding the CA (default: $PINGPONG_HOME, else
        /// ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Write the certificate, its key and a copy of ca.pem into this new
        /// folder instead: copy it to the other machine as its certificate folder.
        #[arg(long, value_name = "BUNDLE")]
        out: Option<PathBuf>,
        /// Days of validity (no longer than the CA's).
        #[arg(long, default_value_t = generate::LEAF_DAYS, value_parser = days_arg())]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// On a machine without the CA: make this machine's key and a signing
    /// request (ROLE.key stays here; take ROLE.csr to the CA machine).
    Request {
        /// server (serverAuth) or client (clientAuth).
        role: Role,
        /// Subject name; also the SAN when no --san is given.
        #[arg(long)]
        name: String,
        /// Subject alternative name, DNS name or IP address (repeatable).
        #[arg(long = "san", value_name = "DNS-or-IP")]
        sans: Vec<String>,
        /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// On the CA machine: sign a request made with `certs request`.
    Sign {
        /// server (serverAuth) or client (clientAuth).
        role: Role,
        /// The request file (ROLE.csr) copied from the other machine.
        csr: PathBuf,
        /// Certificate folder holding the CA (default: $PINGPONG_HOME, else
        /// ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Folder for ROLE.pem and a copy of ca.pem, to copy back (default: a
        /// folder named after the certificate's subject, here).
        #[arg(long, value_name = "BUNDLE")]
        out: Option<PathBuf>,
        /// Days of validity (no longer than the CA's).
        #[arg(long, default_value_t = generate::LEAF_DAYS, value_parser = days_arg())]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Show what a certificate folder holds: names, purpose, issuer, expiry,
    /// whether each certificate chains to ca.pem and each key matches.
    Show {
        /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Role {
    Server,
    Client,
}

impl Role {
    fn leaf(self) -> LeafRole {
        match self {
            Role::Server => LeafRole::Server,
            Role::Client => LeafRole::Client,
        }
    }
}

fn home(dir: Option<PathBuf>) -> CertPaths {
    CertPaths::new(dir.unwrap_or_else(pingpong::tls::default_home))
}

/// Runs `pingpong certs ...`.
pub(crate) fn run(cmd: CertsCommand) -> Result<ExitCode> {
    match cmd {
        CertsCommand::Init {
            dir,
            name,
            days,
            force,
        } => init(&home(dir), &name, days, force),
        CertsCommand::Issue {
            role,
            name,
            sans,
            dir,
            out,
            days,
            force,
        } => issue(&home(dir), out, role.leaf(), &name, sans, days, force),
        CertsCommand::Request {
            role,
            name,
            sans,
            dir,
            force,
        } => {
            let paths = home(dir);
            let role = role.leaf();
            let csr = store::request(&paths, role, &name, &sans, force)?;
            let stem = role.file_stem();
            say!(
                "wrote {} (key mode 0600, stays here) and {}",
                paths.leaf_key(role).display(),
                csr.display()
            );
            say!("next: copy {stem}.csr to the CA machine, run `pingpong certs sign {stem} {stem}.csr` there,");
            say!(
                "      and copy the {stem}.pem and ca.pem it writes into {}",
                paths.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Sign {
            role,
            csr,
            dir,
            out,
            days,
            force,
        } => sign(&home(dir), &csr, role.leaf(), out, days, force),
        CertsCommand::Show { dir } => {
            for line in show(&home(dir)) {
                say!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init(paths: &CertPaths, name: &str, days: u32, force: bool) -> Result<ExitCode> {
    let orphans: Vec<String> = [LeafRole::Server, LeafRole::Client]
        .into_iter()
        .map(|role| paths.leaf_cert(role))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect();
    store::init_ca(paths, name, days, force)?;
    say!(
        "created CA {:?}: {} and {} (key mode 0600)",
        name,
        paths.ca_cert().display(),
        paths.ca_key().display()
    );
    if force && !orphans.is_empty() {
        eprintln!(
            "pingpong: warning: the old CA is gone: {} and every certificate it signed on other \
             machines are no longer trusted. Fix: reissue them (`pingpong certs issue ... --force`) \
             and copy the new ca.pem to every machine",
            orphans.join(" and ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn issue(
    paths: &CertPaths,
    out: Option<PathBuf>,
    role: LeafRole,
    name: &str,
    sans: Vec<String>,
    days: u32,
    force: bool,
) -> Result<ExitCode> {
    let sans = match role {
        LeafRole::Server if sans.is_empty() && out.is_none() => generate::default_server_sans(name),
        // Another machine: its name, and the name mDNS gives it.
        LeafRole::Server if sans.is_empty() => vec![name.to_string(), format!("{name}.local")],
        _ => sans,
    };
    let validity = Validity::days(days);
    let shown = if sans.is_empty() {
        name.to_string()
    } else {
        sans.join(", ")
    };
    let stem = role.file_stem();
    match out {
        None => {
            store::issue(paths, role, name, &sans, validity, force)?;
            say!(
                "issued {stem} certificate {name:?} (SAN {shown}): {} and {} (key mode 0600)",
                paths.leaf_cert(role).display(),
                paths.leaf_key(role).display()
            );
        }
        Some(out) => {
            refuse_ca_folder(paths, &out)?;
            let bundle = CertPaths::new(&out);
            store::issue_bundle(paths, &bundle, role, name, &sans, validity, force)?;
            say!(
                "issued {stem} certificate {name:?} (SAN {shown}) into {}: {stem}.pem, {stem}.key (mode 0600), ca.pem",
                out.display()
            );
            say!("next: copy {} to the other machine and use it as its PINGPONG_HOME (or --dir); ca.key stays here", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn sign(
    paths: &CertPaths,
    csr: &Path,
    role: LeafRole,
    out: Option<PathBuf>,
    days: u32,
    force: bool,
) -> Result<ExitCode> {
    let out = match out {
        Some(out) => out,
        None => {
            // A folder named after the subject, so that it never lands on this
            // machine's own server.pem or client.pem.
            let subject = request_subject(csr).unwrap_or_else(|| "signed".into());
            PathBuf::from(format!("{subject}-{}", role.file_stem()))
        }
    };
    refuse_ca_folder(paths, &out)?;
    let bundle = CertPaths::new(&out);
    let cert = store::sign(paths, csr, role, Validity::days(days), &bundle, force)?;
    let info = CertInfo::from_file(&cert)?;
    say!(
        "signed {} certificate {:?} (SAN {}), valid until {}: {} and {}",
        role.file_stem(),
        info.subject,
        info.sans.join(", "),
        inspect::date(info.not_after),
        cert.display(),
        bundle.ca_cert().display()
    );
    say!("next: copy both into the certificate folder of the machine that made the request");
    Ok(ExitCode::SUCCESS)
}

/// The subject common name of a request file, if it can be read.
fn request_subject(csr: &Path) -> Option<String> {
    let text = std::fs::read_to_string(csr).ok()?;
    let request = rcgen::CertificateSigningRequestParams::from_pem(&text).ok()?;
    request
        .params
        .distinguished_name
        .iter()
        .find_map(|(kind, value)| match (kind, value) {
            (rcgen::DnType::CommonName, rcgen::DnValue::Utf8String(s)) => Some(s.clone()),
            (rcgen::DnType::CommonName, rcgen::DnValue::PrintableString(s)) => {
                Some(s.as_str().to_string())
            }
            _ => None,
        })
        .filter(|s| !s.is_empty() && !s.contains('/'))
}

/// A bundle written into the CA's own folder would overwrite its leaves.
fn refuse_ca_folder(paths: &CertPaths, out: &Path) -> Result<()> {
    let same = match (paths.dir.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        bail!(
            "{} is the CA's own certificate folder. Fix: give --out a new folder for the other machine",
            out.display()
        );
    }
    Ok(())
}

/// One line per file of the folder.
fn show(paths: &CertPaths) -> Vec<String> {
    let now = time::OffsetDateTime::now_utc();
    let mut lines = vec![format!("certificate folder {}", paths.dir.display())];
    let ca = CertInfo::from_file(&paths.ca_cert()).ok();
    let files: [(PathBuf, Option<PathBuf>, &str); 3] = [
        (paths.ca_cert(), Some(paths.ca_key()), "CA"),
        (
            paths.leaf_cert(LeafRole::Server),
            Some(paths.leaf_key(LeafRole::Server)),
            "server",
        ),
        (
            paths.leaf_cert(LeafRole::Client),
            Some(paths.leaf_key(LeafRole::Client)),
            "client",
        ),
    ];
    for (cert, key, what) in files {
        let name = cert
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let line = match CertInfo::from_file(&cert) {
            Err(_) if !cert.exists() => format!("{name:<11} missing"),
            Err(error) => format!("{name:<11} unreadable: {error}"),
            Ok(info) => describe(&info, what, ca.as_ref(), now),
        };
        lines.push(line);
        if let Some(key) = key {
            let key_name = key
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let status = match (key.exists(), cert.exists()) {
                (false, _) if what == "CA" => {
                    "missing (fine: the CA signs on another machine)".to_string()
                }
                (false, _) => "missing".to_string(),
                (true, false) => "present, without its certificate".to_string(),
                (true, true) => match inspect::key_matches(&cert, &key) {
                    Ok(true) => format!("matches {name}"),
                    Ok(false) => format!("DOES NOT MATCH {name}"),
                    Err(error) => format!("unreadable: {error}"),
                },
            };
            lines.push(format!("{key_name:<11} {status}"));
        }
    }
    lines
}

fn describe(
    info: &CertInfo,
    what: &str,
    ca: Option<&CertInfo>,
    now: time::OffsetDateTime,
) -> String {
    let days = info.days_left(now);
    let validity = if info.expired(now) {
        format!("EXPIRED on {}", inspect::date(info.not_after))
    } else {
        format!(
            "valid until {} ({days} days)",
            inspect::date(info.not_after)
        )
    };
    if what == "CA" {
        return format!("{:<11} CA {:?}, {validity}", "ca.pem", info.subject);
    }
    let purpose = match (info.server_auth, info.client_auth) {
        (true, true) => "serverAuth+clientAuth",
        (true, false) => "serverAuth",
        (false, true) => "clientAuth",
        (false, false) => "no EKU",
    };
    let chains = match ca {
        Some(ca) if info.signed_by(ca) => "chains to ca.pem".to_string(),
        Some(_) => "DOES NOT chain to ca.pem".to_string(),
        None => "no ca.pem to check against".to_string(),
    };
    format!(
        "{:<11} {what} {:?}, SAN {}, {purpose}, issued by {:?}, {validity}, {chains}",
        format!("{what}.pem"),
        info.subject,
        if info.sans.is_empty() {
            "-".to_string()
        } else {
            info.sans.join(", ")
        },
        info.issuer
    )
}

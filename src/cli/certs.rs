//! `pingpong certs`: make a CA, issue server and client certificates.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Subcommand, ValueEnum};

use super::output::say;
use pingpong::tls::generate::{self, Validity};
use pingpong::tls::{store, CertPaths, LeafRole};

#[derive(Subcommand)]
pub(crate) enum CertsCommand {
    /// Create a CA (ca.pem, ca.key).
    Init {
        /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// CA common name.
        #[arg(long, default_value = "pingpong CA")]
        name: String,
        /// Days of validity.
        #[arg(long, default_value_t = generate::CA_DAYS)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Issue a server or client certificate signed by the CA.
    Issue {
        /// server (serverAuth) or client (clientAuth).
        role: Role,
        /// Subject name; also the SAN when no --san is given (servers: see below).
        #[arg(long)]
        name: String,
        /// Subject alternative name, DNS name or IP address (repeatable). A server with
        /// no --san gets its name, this host's name and NAME.local, localhost and loopback.
        #[arg(long = "san", value_name = "DNS-or-IP")]
        sans: Vec<String>,
        /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Days of validity.
        #[arg(long, default_value_t = generate::LEAF_DAYS)]
        days: u32,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Role {
    Server,
    Client,
}

/// Runs `pingpong certs ...`.
pub(crate) fn run(cmd: CertsCommand) -> Result<ExitCode> {
    let home =
        |dir: Option<PathBuf>| CertPaths::new(dir.unwrap_or_else(pingpong::tls::default_home));
    match cmd {
        CertsCommand::Init {
            dir,
            name,
            days,
            force,
        } => {
            let paths = home(dir);
            store::init_ca(&paths, &name, days, force)?;
            say!(
                "created CA {:?}: {} and {} (key mode 0600)",
                name,
                paths.ca_cert().display(),
                paths.ca_key().display()
            );
        }
        CertsCommand::Issue {
            role,
            name,
            sans,
            dir,
            days,
            force,
        } => {
            let paths = home(dir);
            let (role, sans) = match role {
                Role::Server if sans.is_empty() => {
                    (LeafRole::Server, generate::default_server_sans(&name))
                }
                Role::Server => (LeafRole::Server, sans),
                Role::Client => (LeafRole::Client, sans),
            };
            store::issue(&paths, role, &name, &sans, Validity::days(days), force)?;
            let shown = if sans.is_empty() {
                name.clone()
            } else {
                sans.join(", ")
            };
            say!(
                "issued {} certificate {:?} (SAN {}): {} and {} (key mode 0600)",
                role.file_stem(),
                name,
                shown,
                paths.leaf_cert(role).display(),
                paths.leaf_key(role).display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

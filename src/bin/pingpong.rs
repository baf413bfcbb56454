//! The `pingpong` command: parses arguments and calls the library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use pingpong::client::find::Finder;
use pingpong::client::probe::probe_all;
use pingpong::client::recover::{ping_with_recovery, RecoveryObserver, Target};
use pingpong::client::report::{self, SessionFacts};
use pingpong::client::{
    ClientError, ClientSession, Connector, PingEvent, PingOptions, PingRun, PingSummary,
};
use pingpong::discovery::dns::{self, DnsConfig, DnsQuery};
use pingpong::discovery::mdns::{Browser, SERVICE_TYPE};
use pingpong::discovery::{
    parse_target, AddressFamily, Candidate, Discovery, DiscoveryConfig, DiscoveryEvent, MdnsBrowse,
    SourceEvent,
};
use pingpong::server::{MdnsOptions, Server, ServerConfig};
use pingpong::tls::generate::{self, Validity};
use pingpong::tls::{store, CertPaths, LeafRole, TlsMaterial};
use pingpong::web::{WebAgent, WebConfig};

/// Zero-config peer discovery with a mutually-authenticated WebTransport ping-pong.
#[derive(Parser)]
#[command(name = "pingpong", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a server, answering pings over mTLS WebTransport.
    Server(ServerArgs),
    /// Ping a server: the one given, or the first one discovered.
    Client(ClientArgs),
    /// List the servers that can be seen (mDNS, DNS SRV/DNS-SD), once or as they come and go.
    Discover(DiscoverArgs),
    /// Run a server and a client in one process: a complete mTLS ping-pong, no setup.
    Demo(DemoArgs),
    /// A live dashboard in the browser: discovers servers, pings each over mTLS once a second.
    Web(WebArgs),
    /// Make a CA and issue server and client certificates.
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// Where certificates come from.
#[derive(Args)]
struct TlsArgs {
    /// Certificate folder (default: $PINGPONG_HOME, else ~/.local/share/pingpong).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Own certificate (PEM); default: server.pem / client.pem in the folder.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Own private key (PEM); default: server.key / client.key in the folder.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// CA certificate that peers must chain to (PEM); default: ca.pem in the folder.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

impl TlsArgs {
    /// The files to use; with no flag at all, a development CA is created if the
    /// folder is empty.
    fn material(&self, role: LeafRole) -> Result<TlsMaterial> {
        let paths = CertPaths::new(self.dir.clone().unwrap_or_else(pingpong::tls::default_home));
        if self.cert.is_none() && self.ca.is_none() {
            if let Some(created) = store::ensure_development_pki(&paths, role)? {
                eprintln!("pingpong: {created}");
            }
        }
        let defaults = TlsMaterial::from_dir(&paths, role);
        let material = TlsMaterial {
            cert: self.cert.clone().unwrap_or(defaults.cert),
            key: self.key.clone().unwrap_or(defaults.key),
            ca: self.ca.clone().unwrap_or(defaults.ca),
        };
        for (what, path) in [
            ("certificate", &material.cert),
            ("key", &material.key),
            ("CA certificate", &material.ca),
        ] {
            if !path.exists() {
                bail!(
                    "{what} file {} does not exist. Fix: pass --{} FILE, or create it with `pingpong certs`",
                    path.display(),
                    match what { "certificate" => "cert", "key" => "key", _ => "ca" }
                );
            }
        }
        Ok(material)
    }
}

#[derive(Args)]
struct ServerArgs {
    /// Address to listen on (UDP). `[::]` is dual-stack and falls back to 0.0.0.0.
    #[arg(long, default_value_t = pingpong::server::config::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// WebTransport path of the service; other paths get 404.
    #[arg(long, default_value = pingpong::server::config::DEFAULT_PATH, value_parser = parse_path)]
    path: String,
    /// Instance name sent to clients and advertised (default: the host name).
    #[arg(long)]
    instance: Option<String>,
    /// Do not advertise over mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Serve /healthz, /readyz and /metrics (Prometheus) over HTTP on ADDR.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Most sessions served at once; more clients get "server full".
    #[arg(long, default_value_t = pingpong::server::config::DEFAULT_MAX_SESSIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_sessions: usize,
    /// Seconds a draining server (SIGTERM/SIGINT) gives its sessions to move.
    #[arg(long, default_value = "5", value_parser = parse_seconds)]
    drain_timeout: Duration,
    /// Serve only clients whose certificate carries NAME as its common name or
    /// a subject alternative name (repeatable; default: any client of the CA).
    #[arg(long = "allow-client", value_name = "NAME")]
    allow_clients: Vec<String>,
    #[command(flatten)]
    mdns: MdnsArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

/// mDNS settings shared by the commands that use it.
#[derive(Args)]
struct MdnsArgs {
    /// Use mDNS only on this interface (repeatable; default: every interface).
    #[arg(long = "mdns-interface", value_name = "NAME")]
    interfaces: Vec<String>,
}

/// Where to look for servers (client and discover).
#[derive(Args)]
struct SourceArgs {
    /// Resolve SRV records at NAME (`_pingpong._udp.` is prepended unless NAME
    /// starts with a `_service._udp.` label; short names use the search list).
    #[arg(long, value_name = "NAME", env = "PINGPONG_DNS")]
    dns: Option<String>,
    /// Browse unicast DNS-SD: PTR `_pingpong._udp.DOMAIN` (repeatable).
    #[arg(long = "dns-sd", value_name = "DOMAIN")]
    dns_sd: Vec<String>,
    /// DNS server to ask (repeatable; default: the system's, from /etc/resolv.conf).
    #[arg(long = "dns-server", value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    dns_servers: Vec<SocketAddr>,
    /// Seconds to wait for a DNS answer.
    #[arg(long, default_value = "2", value_parser = parse_positive_seconds)]
    dns_timeout: Duration,
    /// Browse mDNS as well when a DNS source is given (without one, mDNS is used).
    #[arg(long = "mdns")]
    with_mdns: bool,
    #[command(flatten)]
    mdns: MdnsArgs,
}

impl SourceArgs {
    fn config(&self) -> DiscoveryConfig {
        let mut dns: Vec<DnsQuery> = self
            .dns
            .iter()
            .map(|n| DnsQuery::Srv(dns::srv_name(n)))
            .collect();
        dns.extend(
            self.dns_sd
                .iter()
                .map(|d| DnsQuery::Browse(dns::browse_name(d))),
        );
        let mdns = (dns.is_empty() || self.with_mdns).then(|| MdnsBrowse {
            service_type: SERVICE_TYPE.to_string(),
            interfaces: self.mdns.interfaces.clone(),
        });
        DiscoveryConfig {
            mdns,
            dns,
            dns_config: DnsConfig {
                servers: self.dns_servers.clone(),
                timeout: self.dns_timeout,
            },
        }
    }
}

fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{s:?} is not IP or IP:PORT"))
}

#[derive(Args)]
struct DiscoverArgs {
    /// Seconds to listen before printing the snapshot.
    #[arg(long, default_value = "2", value_parser = parse_positive_seconds)]
    timeout: Duration,
    /// Keep running and print servers as they appear (+), change (=) and leave (-).
    #[arg(long)]
    watch: bool,
    /// Output JSON: an array (snapshot) or one object per line (--watch).
    #[arg(long)]
    json: bool,
    /// Connect to each server found (mTLS + Hello, like the client) and show the
    /// handshake time or why it is unusable.
    #[arg(long, conflicts_with = "watch")]
    probe: bool,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

#[derive(Args)]
struct PingArgs {
    /// Number of pings; 0 pings until interrupted (Ctrl-C prints the summary).
    #[arg(short = 'c', long, default_value_t = 10)]
    count: u64,
    /// Seconds between pings (fractions allowed; 0 sends as fast as the window allows).
    #[arg(short = 'i', long, default_value = "1", value_parser = parse_seconds)]
    interval: Duration,
    /// Payload bytes per ping.
    #[arg(short = 's', long, default_value_t = 56, value_parser = clap::value_parser!(u32).range(0..=PingOptions::MAX_PAYLOAD as i64))]
    size: u32,
    /// Seconds to wait for each pong.
    #[arg(short = 'W', long, default_value = "2", value_parser = parse_positive_seconds)]
    timeout: Duration,
    /// Most pings unanswered at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    in_flight: u32,
    /// Output: one JSON object per line.
    #[arg(long)]
    json: bool,
}

impl PingArgs {
    fn options(&self) -> PingOptions {
        PingOptions {
            count: (self.count > 0).then_some(self.count),
            interval: self.interval,
            payload_size: self.size as usize,
            timeout: self.timeout,
            in_flight: self.in_flight as usize,
            suspect_after: None,
        }
    }
}

#[derive(Args)]
struct ClientArgs {
    /// Server: https://HOST:PORT/PATH, HOST:PORT or HOST (port 4433, path /pingpong).
    /// Without it, a server is discovered (mDNS, or --dns / --dns-sd).
    url: Option<String>,
    /// Seconds to wait for a server to be discovered (connects as soon as one is).
    #[arg(long, default_value = "2", value_parser = parse_positive_seconds)]
    discover_timeout: Duration,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    ping: PingArgs,
    /// Name the server certificate must carry (default: the host connected to).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
    /// Seconds to keep trying to get a session back after losing one (0: do
    /// not reconnect).
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    reconnect_timeout: Duration,
    /// Seconds allowed to connect and complete the handshake.
    #[arg(long, default_value = "5", value_parser = parse_positive_seconds)]
    connect_timeout: Duration,
    /// Use IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Use IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
    /// Protocol version offered in Hello (for testing servers).
    #[arg(long, hide = true)]
    protocol_version: Option<u16>,
    #[command(flatten)]
    tls: TlsArgs,
}

#[derive(Args)]
struct WebArgs {
    /// Address of the dashboard page (HTTP); the live updates use a UDP port on
    /// the same address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve other machines too (the address is not loopback). The token still
    /// guards the live data, but the page travels over plain HTTP.
    #[arg(long)]
    allow_remote: bool,
    #[command(flatten)]
    sources: SourceArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

#[derive(Args)]
struct DemoArgs {
    /// Number of pings.
    #[arg(short = 'c', long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Seconds between pings.
    #[arg(short = 'i', long, default_value = "0.2", value_parser = parse_seconds)]
    interval: Duration,
}

#[derive(Subcommand)]
enum CertsCommand {
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
enum Role {
    Server,
    Client,
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{s:?} must be between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_positive_seconds(s: &str) -> Result<Duration, String> {
    let d = parse_seconds(s)?;
    if d.is_zero() {
        return Err("must be more than 0 seconds".into());
    }
    Ok(d)
}

fn parse_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.contains(char::is_whitespace) {
        return Err("a path starts with '/' and has no spaces".into());
    }
    Ok(s.to_string())
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output
    // goes away (`pingpong discover --watch | head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Server(_) | Command::Web(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                &anyhow::anyhow!("cannot start the async runtime: {e}"),
                false,
            )
        }
    };
    let json = matches!(&cli.command, Command::Client(c) if c.ping.json);
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => fail(&error, json),
    }
}

fn fail(error: &anyhow::Error, json: bool) -> ExitCode {
    let message = format!("{error:#}");
    if json {
        println!(
            "{}",
            serde_json::json!({ "event": "error", "message": message })
        );
    }
    eprintln!("pingpong: error: {message}");
    ExitCode::from(2)
}

fn init_logging(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Server(args) => run_server(args).await,
        Command::Client(args) => run_client(args).await,
        Command::Discover(args) => run_discover(args).await,
        Command::Demo(args) => run_demo(args).await,
        Command::Web(args) => run_web(args).await,
        Command::Certs(cmd) => run_certs(cmd),
    }
}

async fn run_server(args: ServerArgs) -> Result<ExitCode> {
    let mut config = ServerConfig::new(args.tls.material(LeafRole::Server)?);
    config.listen = args.listen;
    config.path = args.path;
    if let Some(instance) = args.instance {
        config.instance = instance;
    }
    config.drain_timeout = args.drain_timeout;
    config.max_sessions = args.max_sessions;
    config.metrics = args.metrics;
    config.allowed_clients = args.allow_clients;
    if !args.no_mdns {
        config.mdns = Some(MdnsOptions {
            interfaces: args.mdns.interfaces,
            ..MdnsOptions::default()
        });
    }
    let shutdown = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let server = Server::bind(config)?;
    println!(
        "pingpong server listening on {} path {} instance {:?} cert sha256:{}",
        server.local_addr(),
        server.path(),
        server.info().instance,
        server.fingerprint()
    );
    if let Some(name) = server.mdns_name() {
        println!("pingpong server advertising {name} over mDNS");
    }
    if let Some(addr) = server.metrics_addr() {
        println!("pingpong server metrics on http://{addr}/metrics (and /healthz, /readyz)");
    }
    std::io::stdout().flush().ok();
    server.run(shutdown).await;
    println!("pingpong server stopped");
    Ok(ExitCode::SUCCESS)
}

async fn run_client(args: ClientArgs) -> Result<ExitCode> {
    let material = args.tls.material(LeafRole::Client)?;
    let mut connector = Connector::new(&material, args.server_name.as_deref())?
        .with_connect_timeout(args.connect_timeout);
    if let Some(version) = args.protocol_version {
        connector = connector.with_protocol_version(version);
    }
    if args.ipv4 {
        connector = connector.with_family(AddressFamily::V4);
    } else if args.ipv6 {
        connector = connector.with_family(AddressFamily::V6);
    }
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let target = match &args.url {
        Some(url) => Target::Fixed(parse_target(url)?),
        None => {
            let config = args.sources.config();
            // A DNS answer (or its failure) takes up to the DNS timeout over UDP, then
            // again over TCP: wait for it rather than give up first.
            let discover_timeout = if config.mdns.is_none() {
                args.discover_timeout
                    .max(config.dns_config.timeout * 2 + Duration::from_secs(1))
            } else {
                args.discover_timeout
            };
            Target::Discovered {
                finder: Finder::new(Discovery::start(&config)?),
                discover_timeout,
            }
        }
    };
    let result = ping_target(
        &connector,
        target,
        &args.ping,
        args.reconnect_timeout,
        &stop,
    )
    .await;
    connector.shutdown().await;
    Ok(exit_code(&result?))
}

async fn run_web(args: WebArgs) -> Result<ExitCode> {
    let material = args.tls.material(LeafRole::Client)?;
    let connector = Connector::new(&material, None)?;
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let agent = WebAgent::bind(
        WebConfig {
            listen: args.listen,
            allow_remote: args.allow_remote,
            discovery: args.sources.config(),
        },
        connector,
    )?;
    println!("pingpong web: open {}", agent.url());
    println!("pingpong web: the token in this URL changes at every start; Ctrl-C stops the agent");
    std::io::stdout().flush().ok();
    agent.run(stop).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_discover(args: DiscoverArgs) -> Result<ExitCode> {
    let stop = pingpong::shutdown::on_signals().context("cannot install signal handlers")?;
    let mut discovery = Discovery::start(&args.sources.config())?;
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut seen: Vec<Candidate> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    if !args.watch && !args.json {
        eprintln!("pingpong: listening for {:?}...", args.timeout);
    }
    loop {
        let next = tokio::select! {
            next = discovery.next() => next,
            _ = tokio::time::sleep_until(deadline), if !args.watch => None,
            _ = stop.cancelled() => None,
        };
        let event = match next {
            None => break,
            Some(SourceEvent::Problem(problem)) => {
                let at = timestamp();
                if args.watch && args.json {
                    println!(
                        "{}",
                        serde_json::json!({"event": "problem", "time": at, "message": problem.to_string()})
                    );
                } else if args.watch {
                    println!("! {at} warning: {problem}");
                }
                warnings.push(problem.to_string());
                continue;
            }
            Some(SourceEvent::Event(event)) => event,
        };
        if args.watch {
            let at = timestamp();
            if args.json {
                println!("{}", report::discovery_event_json(&event, &at));
            } else {
                println!(
                    "{} {at} {}",
                    report::event_sign(&event),
                    report::candidate_line(event.candidate())
                );
            }
            std::io::stdout().flush().ok();
        }
        let key = event.candidate().key.clone();
        seen.retain(|c| c.key != key);
        if !matches!(event, DiscoveryEvent::Removed(_)) {
            seen.push(event.candidate().clone());
        }
    }
    discovery.shutdown();
    if !args.watch {
        for warning in &warnings {
            if args.json {
                eprintln!("pingpong: warning: {warning}");
            }
        }
    }
    if !args.watch {
        seen.sort_by(|a, b| a.instance.cmp(&b.instance));
        let probes = if args.probe {
            let connector = Connector::new(&args.tls.material(LeafRole::Client)?, None)?
                .with_connect_timeout(Duration::from_secs(2));
            Some(probe_all(&connector, &seen).await)
        } else {
            None
        };
        if args.json {
            let all: Vec<_> = seen
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut value = report::candidate_json(c);
                    if let Some(probes) = &probes {
                        value["probe"] = probes[i].json();
                    }
                    value
                })
                .collect();
            println!("{}", serde_json::Value::Array(all));
        } else {
            if seen.is_empty() {
                println!("no pingpong servers found within {:?}", args.timeout);
            } else {
                let probe_header = if probes.is_some() { "  PROBE" } else { "" };
                println!("{}{probe_header}", report::candidate_header());
                for (i, candidate) in seen.iter().enumerate() {
                    let probe = probes
                        .as_ref()
                        .map(|p| format!("  {}", p[i].text()))
                        .unwrap_or_default();
                    println!("{}{probe}", report::candidate_line(candidate));
                }
            }
            for warning in &warnings {
                println!("warning: {warning}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Wall-clock time of day, UTC, to the millisecond.
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// Prints a run as it happens: ping(8)-style text or JSON lines.
struct Printer {
    json: bool,
    payload_size: usize,
    url: String,
    remote: Option<SocketAddr>,
}

impl Printer {
    fn line(&self, text: impl std::fmt::Display) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

impl RecoveryObserver for Printer {
    fn connected(&mut self, candidate: &Candidate, session: &ClientSession, reconnect: bool) {
        self.url = candidate.url();
        let remote = session.remote_address();
        self.remote = Some(remote);
        let facts = SessionFacts {
            url: &self.url,
            remote,
            source: candidate.source,
            welcome: session.welcome(),
            server_identity: session.server_identity(),
            payload_size: self.payload_size,
        };
        match (self.json, reconnect) {
            (true, false) => self.line(report::header_json(&facts)),
            (false, false) => self.line(report::header_line(&facts)),
            (true, true) => {
                let mut value = report::header_json(&facts);
                value["event"] = "reconnected".into();
                self.line(value);
            }
            (false, true) => self.line(format!("reconnected: {}", report::header_line(&facts))),
        }
    }

    fn ping_event(&mut self, event: &PingEvent) {
        if self.json {
            self.line(report::event_json(event));
        } else if let Some(remote) = self.remote {
            self.line(report::event_line(event, remote));
        }
    }

    fn session_lost(&mut self, error: &ClientError) {
        if self.json {
            self.line(serde_json::json!({"event": "session_lost", "reason": error.to_string()}));
        }
        eprintln!("pingpong: session lost: {error}; reconnecting");
    }

    fn candidate_failed(&mut self, candidate: &Candidate, error: &ClientError) {
        eprintln!(
            "pingpong: skipping {} ({}): {error}",
            candidate.instance,
            candidate.url()
        );
    }
}

/// Pings `target` as `ping` says, reconnecting through failures, printing as it
/// goes; prints the summary.
async fn ping_target(
    connector: &Connector,
    mut target: Target,
    ping: &PingArgs,
    reconnect_timeout: Duration,
    stop: &CancellationToken,
) -> Result<PingSummary> {
    let mut options = ping.options();
    if !reconnect_timeout.is_zero() {
        // A ping unanswered for a quarter of -W (between 250 ms and 1 s) means the
        // server is gone: reconnect and resend rather than wait it out.
        options.suspect_after =
            Some((options.timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(1)));
    }
    let mut run = PingRun::new(&options);
    let mut printer = Printer {
        json: ping.json,
        payload_size: ping.size as usize,
        url: String::new(),
        remote: None,
    };
    let result = ping_with_recovery(
        connector,
        &mut target,
        &mut run,
        stop,
        reconnect_timeout,
        &mut printer,
    )
    .await;
    target.shutdown();
    let summary = run.summary();
    if summary.transmitted == 0 && printer.remote.is_none() {
        // Never connected: the error alone says it.
        result?;
        return Ok(summary);
    }
    let mut out = std::io::stdout().lock();
    if ping.json {
        writeln!(out, "{}", report::summary_json(&summary))?;
    } else {
        writeln!(out)?;
        for line in report::summary_lines(&printer.url, &summary) {
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    result?;
    Ok(summary)
}

fn exit_code(summary: &PingSummary) -> ExitCode {
    if summary.lost == 0 && summary.received == summary.transmitted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// How long the demo waits for mDNS to find its own server: registration
/// probing takes about a second.
const DEMO_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

async fn run_demo(args: DemoArgs) -> Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("pingpong-demo-")
        .tempdir()?;
    let paths = CertPaths::new(dir.path());
    store::init_single_host(&paths, "pingpong demo CA", 1)?;
    println!(
        "demo: throwaway CA, server and client certificates in {}",
        dir.path().display()
    );

    let mut config = ServerConfig::new(TlsMaterial::from_dir(&paths, LeafRole::Server));
    config.listen = "[::]:0".parse()?;
    config.instance = format!("pingpong-demo-{}", std::process::id());
    config.mdns = Some(MdnsOptions::default());
    let server = Server::bind(config)?;
    let addr = server.local_addr();
    let server_id = server.info().server_id;
    println!(
        "demo: server listening on port {} and advertising {} over mDNS (it requires a client certificate from the demo CA)",
        addr.port(),
        server.mdns_name().unwrap_or_default()
    );
    let shutdown = pingpong::shutdown::on_signals()?;
    let server_task = tokio::spawn(server.run(shutdown.child_token()));

    let connector = Connector::new(&TlsMaterial::from_dir(&paths, LeafRole::Client), None)?;
    let (browser, mut events) = Browser::start(SERVICE_TYPE, &[])?;
    let deadline = tokio::time::Instant::now() + DEMO_DISCOVERY_TIMEOUT;
    let mut found = None;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
        if let DiscoveryEvent::Added(c) | DiscoveryEvent::Updated(c) = event {
            if c.txt.as_ref().and_then(|t| t.server_id) == Some(server_id) {
                found = Some(c);
                break;
            }
        }
    }
    browser.shutdown();
    let candidate = match found {
        Some(candidate) => {
            println!(
                "demo: found {} over mDNS at {}",
                candidate.instance,
                candidate.url()
            );
            candidate
        }
        None => {
            println!(
                "demo: mDNS did not find the server within {DEMO_DISCOVERY_TIMEOUT:?} (no multicast-capable network interface?); connecting to 127.0.0.1:{} directly",
                addr.port()
            );
            parse_target(&format!("https://localhost:{}/pingpong", addr.port()))?
        }
    };
    let ping = PingArgs {
        count: args.count,
        interval: args.interval,
        size: 56,
        timeout: Duration::from_secs(2),
        in_flight: 64,
        json: false,
    };
    let result = ping_target(
        &connector,
        Target::Fixed(candidate),
        &ping,
        Duration::from_secs(5),
        &shutdown,
    )
    .await;
    connector.shutdown().await;
    shutdown.cancel();
    let _ = server_task.await;
    Ok(exit_code(&result?))
}

fn run_certs(cmd: CertsCommand) -> Result<ExitCode> {
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
            println!(
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
            println!(
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

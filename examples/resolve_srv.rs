//! Resolve SRV records (RFC 2782) and print the targets in the order a client
//! would try them: lowest priority first, weighted random within a priority.
//!
//! ```sh
//! cargo run --example resolve_srv -- _pingpong._udp.pingpong.default.svc.cluster.local
//! cargo run --example resolve_srv -- _ldap._tcp.example.org --dns-server 192.0.2.53:53
//! ```

use pingpong::discovery::dns::{DnsConfig, DnsQuery, DnsResolver};
use pingpong::discovery::srv::{order, SrvInfo};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut name = None;
    let mut config = DnsConfig::default(); // the system resolver, 2 s timeout
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dns-server" => config
                .servers
                .push(args.next().ok_or("--dns-server IP:PORT")?.parse()?),
            other => name = Some(other.to_string()),
        }
    }
    let name = name.ok_or("usage: resolve_srv NAME [--dns-server IP:PORT]")?;

    let resolver = DnsResolver::new(&config)?;
    let found = resolver.resolve(&DnsQuery::Srv(name.clone())).await?;
    let ordered = order(
        &found.candidates,
        |c| {
            c.srv.unwrap_or(SrvInfo {
                priority: 0,
                weight: 0,
            })
        },
        &mut rand::rng(),
    );
    println!("{name}: {} target(s), TTL {:?}", ordered.len(), found.ttl);
    for (i, c) in ordered.iter().enumerate() {
        let srv = c.srv.unwrap_or(SrvInfo {
            priority: 0,
            weight: 0,
        });
        let addresses: Vec<String> = c.addresses.iter().map(ToString::to_string).collect();
        println!(
            "{}. {}:{} priority {} weight {} -> {}",
            i + 1,
            c.host,
            c.port,
            srv.priority,
            srv.weight,
            addresses.join(", ")
        );
    }
    Ok(())
}

//! Advertise a service of your own type over mDNS, with a TXT record.
//!
//! ```sh
//! cargo run --example advertise -- _myapp._tcp.local. my-instance 8080 --for 30
//! ```
//! Defaults: `_example._tcp.local.`, instance `example`, port 9999, until Ctrl-C.
//! (mDNS talks to the whole LAN: run it where that is what you want.)

use std::time::Duration;

use pingpong::discovery::mdns::{Advertisement, Advertiser};
use pingpong::discovery::publisher::Publisher;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (positional, run_for) = args();
    let service_type = positional
        .first()
        .cloned()
        .unwrap_or_else(|| "_example._tcp.local.".into());
    let instance = positional
        .get(1)
        .cloned()
        .unwrap_or_else(|| "example".into());
    let port: u16 = positional.get(2).map_or(Ok(9999), |p| p.parse())?;

    let advertiser = Advertiser::start(&Advertisement {
        service_type,
        instance,
        // A service listening on every IPv6 and IPv4 address: all of them are
        // advertised (`0.0.0.0` would advertise the IPv4 ones, one IP that IP).
        listen: (std::net::Ipv6Addr::UNSPECIFIED, port).into(),
        txt: vec![
            ("version".into(), "1".into()),
            ("hello".into(), "world".into()),
        ],
        interfaces: Vec::new(), // every interface
    })?;
    println!("advertising {} on port {port}", advertiser.fullname());
    // From here on, any publisher is used alike (the server holds its mDNS
    // advertisement and its DNS registration this way).
    let publisher: Box<dyn Publisher> = Box::new(advertiser);

    match run_for {
        Some(limit) => {
            tokio::time::sleep(limit / 2).await;
            publisher.update_txt(&[
                ("version".into(), "1".into()),
                ("hello".into(), "again".into()),
            ])?;
            println!("TXT updated");
            tokio::time::sleep(limit / 2).await;
        }
        None => tokio::signal::ctrl_c().await?,
    }
    publisher.withdraw().await; // sends the goodbye (TTL 0)
    println!("goodbye sent");
    Ok(())
}

/// Positional arguments, and `--for SECS`.
fn args() -> (Vec<String>, Option<Duration>) {
    let mut positional = Vec::new();
    let mut run_for = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--for" {
            run_for = args
                .next()
                .and_then(|s| s.parse().ok())
                .map(Duration::from_secs_f64);
        } else {
            positional.push(arg);
        }
    }
    (positional, run_for)
}

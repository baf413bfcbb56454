//! Watch a service type over mDNS and print services as they come (+), change
//! (=) and go (-), with their addresses and TXT.
//!
//! ```sh
//! cargo run --example browse -- _myapp._tcp.local. --for 10
//! ```
//! Default type: `_example._tcp.local.`; runs until Ctrl-C.

use std::time::Duration;

use pingpong::discovery::{Discovery, DiscoveryConfig, DiscoveryEvent, MdnsBrowse, SourceEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut service_type = "_example._tcp.local.".to_string();
    let mut run_for = Duration::from_secs(86_400);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--for" => run_for = Duration::from_secs_f64(args.next().ok_or("--for SECS")?.parse()?),
            other => service_type = other.to_string(),
        }
    }

    // The sources pingpong's client merges, here mDNS alone for another type;
    // `dns` would add unicast DNS-SD queries to the same stream.
    let mut discovery = Discovery::start(&DiscoveryConfig {
        mdns: Some(MdnsBrowse {
            service_type: service_type.clone(),
            interfaces: Vec::new(), // every interface
        }),
        ..DiscoveryConfig::default()
    })?;
    println!("browsing {service_type}");
    let stop = tokio::time::sleep(run_for);
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            event = discovery.next() => match event {
                Some(SourceEvent::Event(e)) => e,
                Some(SourceEvent::Problem(problem)) => {
                    eprintln!("{problem}");
                    continue;
                }
                Some(SourceEvent::Settled) => continue,
                None => break,
            },
            _ = &mut stop => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let (sign, c) = match &event {
            DiscoveryEvent::Added(c) => ('+', c),
            DiscoveryEvent::Updated(c) => ('=', c),
            DiscoveryEvent::Removed(c, _) => ('-', c),
        };
        let addresses: Vec<String> = c.addresses.iter().map(ToString::to_string).collect();
        let txt: Vec<String> = c
            .txt_pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "{sign} {} {} [{}] {}",
            c.instance,
            c.host,
            addresses.join(", "),
            txt.join(" ")
        );
    }
    discovery.shutdown();
    Ok(())
}

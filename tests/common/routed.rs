//! Two subnets joined by a router, named on the router: the shape of an
//! office or lab where mDNS stops at the router and servers register
//! themselves in DNS.

use super::named::{NAMED_A, NAMED_B, ZONE};
use super::{Lan, Netns};

/// Subnet A (`10.81.0.0/24`, servers) and subnet B (`10.82.0.0/24`,
/// clients), each a bridge, routed by `router` (no multicast routing: mDNS
/// does not cross). Every host's resolver is named on the router, search
/// domain [`ZONE`].
pub struct Routed {
    pub router: Netns,
    pub a: Lan,
    pub b: Lan,
}

impl Routed {
    /// `servers` hosts on A (`10.81.0.1..`), `clients` hosts on B.
    pub fn new(servers: usize, clients: usize) -> Self {
        let a = Lan::on_subnet(servers, "10.81.0");
        let b = Lan::on_subnet(clients, "10.82.0");
        let router = Netns::new();
        router.sysctl("net.ipv4.ip_forward=1");
        for (lan, link, address) in [(&a, "up-a", NAMED_A), (&b, "up-b", NAMED_B)] {
            lan.bridge.ip(&[
                "link",
                "add",
                link,
                "type",
                "veth",
                "peer",
                "name",
                link,
                "netns",
                &router.name,
            ]);
            lan.bridge.ip(&["link", "set", link, "master", "br0", "up"]);
            router.ip(&["addr", "add", &format!("{address}/24"), "dev", link]);
            router.ip(&["link", "set", link, "up"]);
            for host in &lan.hosts {
                host.ip(&["route", "add", "default", "via", address]);
                host.set_resolv_conf(&format!("nameserver {address}\nsearch {ZONE}\n"));
            }
        }
        Self { router, a, b }
    }

    /// Starts `program` on the router.
    pub fn on_router(&self, program: &str) -> std::process::Command {
        self.router.command(program)
    }
}

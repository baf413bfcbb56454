//! The README's "Kubernetes and other DNS" section, run as written in a
//! namespace shaped like a pod's: a resolv.conf with the cluster's search list
//! and `ndots:5`, dnsmasq answering as CoreDNS does for a headless Service (and
//! for a unicast DNS-SD zone, `example.org`) on 127.0.0.1 and on the cluster
//! DNS address 10.96.0.10, and two real server pods. Every `pingpong` line of
//! its first shell block runs as written (environment assignments included)
//! and must reach the pods; anything else in the block fails the test.

// Linux only (network namespaces, signals, the lab's tools): on other
// systems this test crate is empty (README, "What is tested where").
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cluster::{pki, pod, POD_RESOLV_CONF, SVC};
use common::dnsmasq::Dnsmasq;
use common::readme;
use common::*;

const PODS: [&str; 2] = ["127.0.0.2", "127.0.0.3"];

/// The first shell block of the section (the DNS commands; the second is
/// kubectl, checked by tests/kubernetes_manifests.rs).
fn dns_lines() -> Vec<String> {
    let lines = readme::commands("Kubernetes and other DNS: SRV and DNS-SD");
    let end = lines
        .iter()
        .position(|l| l.starts_with("kubectl"))
        .unwrap_or(lines.len());
    lines[..end].to_vec()
}

#[test]
fn the_dns_section_runs_as_written() {
    let netns = Netns::new();
    netns.set_resolv_conf(POD_RESOLV_CONF);
    netns.ip(&["addr", "add", "10.96.0.10/32", "dev", "lo"]);
    let dir = tempfile::tempdir().unwrap();
    let (home, server_dir) = pki(dir.path(), &[format!("*.{SVC}"), "web1.example.org".into()]);
    let pods: Vec<ServerProcess> = PODS
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            pod(
                &netns,
                &home,
                &server_dir,
                &format!("{ip}:0"),
                &format!("pingpong-{i}"),
                &[],
            )
        })
        .collect();
    // CoreDNS's answer for two ready pods, and a DNS-SD zone with one server.
    let mut records = String::from("local=/example.org/\nlisten-address=10.96.0.10\n");
    for (i, (ip, pod)) in PODS.iter().zip(&pods).enumerate() {
        records += &format!(
            "srv-host=_pingpong._udp.{SVC},pingpong-{i}.{SVC},{},0,50\nhost-record=pingpong-{i}.{SVC},{ip}\n",
            pod.addr.port()
        );
    }
    records += &format!(
        "ptr-record=_pingpong._udp.example.org,web1._pingpong._udp.example.org\n\
         srv-host=web1._pingpong._udp.example.org,web1.example.org,{}\n\
         txt-record=web1._pingpong._udp.example.org,\"v=1\",\"path=/pingpong\",\"state=serving\"\n\
         host-record=web1.example.org,{}\n",
        pods[0].addr.port(),
        PODS[0]
    );
    let _dns = Dnsmasq::start(&netns, dir.path(), &records);

    let lines = dns_lines();
    let mut ran = 0;
    for command in &lines {
        let words: Vec<&str> = command.split_whitespace().collect();
        let (env, words): (Vec<&str>, Vec<&str>) = words
            .iter()
            .partition(|w| w.contains('=') && !w.starts_with('-'));
        assert_eq!(
            words.first(),
            Some(&"pingpong"),
            "README line `{command}`: not a pingpong command"
        );
        let mut process = netns.command(bin());
        process
            .args(&words[1..])
            .env("PINGPONG_HOME", &home)
            .env_remove("PINGPONG_DNS");
        for assignment in env {
            let (name, value) = assignment.split_once('=').unwrap();
            process.env(name, value);
        }
        match words.get(1) {
            Some(&"client") => {
                let stdout = readme::succeeds(command, process);
                readme::assert_all_answered(command, &stdout, 10);
            }
            Some(&"discover") if words.contains(&"--watch") => {
                // It watches until stopped: both pods must appear first.
                let mut child = process.stdout(Stdio::piped()).spawn().unwrap();
                let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
                let deadline = Instant::now() + Duration::from_secs(20);
                let mut seen = String::new();
                while !(seen.contains("pingpong-0") && seen.contains("pingpong-1")) {
                    assert!(Instant::now() < deadline, "`{command}` showed: {seen}");
                    let line = lines.next().expect("discover --watch ended").unwrap();
                    seen += &line;
                    seen.push('\n');
                }
                send_signal(&child, libc::SIGINT);
                assert!(child.wait().unwrap().success(), "`{command}`");
            }
            _ => panic!("README line `{command}`: this test does not know it"),
        }
        ran += 1;
    }
    assert_eq!(ran, 5, "{lines:?}");
}

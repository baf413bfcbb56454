"""Cross-checks of deploy/kubernetes that schemas cannot make.

Usage: check_manifests.py DIR            exits non-zero with one line per problem
       check_manifests.py DIR --srv NS   prints the SRV owner name of the Service in NS
"""

import pathlib
import sys

import yaml


def load(directory: pathlib.Path) -> list[dict]:
    docs = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("examples/*.yaml")]):
        if path.name == "kustomization.yaml":
            continue
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def srv_name(docs: list[dict], namespace: str) -> str:
    """The SRV owner name CoreDNS serves for the headless Service's UDP port."""
    service = next(d for d in docs if d["kind"] == "Service")
    port = next(p for p in service["spec"]["ports"] if p["protocol"] == "UDP")
    name = service["metadata"]["name"]
    return f"_{port['name']}._udp.{name}.{namespace}.svc.cluster.local"


def main() -> int:
    directory = pathlib.Path(sys.argv[1])
    docs = load(directory)
    if len(sys.argv) == 4 and sys.argv[2] == "--srv":
        print(srv_name(docs, sys.argv[3]))
        return 0
    by_kind: dict[str, list[dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
        if "namespace" in doc["metadata"]:
            print(f"{doc['kind']}/{doc['metadata']['name']}: must be namespace-agnostic")
            return 1
    problems = []
    service = by_kind["Service"][0]["spec"]
    if service.get("clusterIP") != "None":
        problems.append("the Service must be headless (clusterIP: None)")
    if service.get("publishNotReadyAddresses") is not False:
        problems.append("the Service must not publish not-ready addresses")
    if not any(p["name"] == "pingpong" and p["protocol"] == "UDP" for p in service["ports"]):
        problems.append("the Service needs a UDP port named pingpong (the SRV name)")
    pod = by_kind["StatefulSet"][0]["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    drain = next(int(a.split("=")[1]) for a in args if a.startswith("--drain-timeout="))
    metrics = next((a.split("=", 1)[1] for a in args if a.startswith("--metrics=")), "")
    if not metrics.startswith("[::]:"):
        problems.append("--metrics must bind [::] (dual-stack, IPv4 fallback) to work on IPv6 clusters")
    if pod["terminationGracePeriodSeconds"] <= drain:
        problems.append("terminationGracePeriodSeconds must exceed --drain-timeout")
    job = by_kind["Job"][0]["spec"]
    if "ttlSecondsAfterFinished" not in job:
        problems.append("the client Job needs ttlSecondsAfterFinished (it would stay forever)")
    client = job["template"]["spec"]["containers"][0]
    dns = next((e["value"] for e in client.get("env", []) if e["name"] == "PINGPONG_DNS"), "")
    if not dns.endswith("."):
        problems.append("the client Job's PINGPONG_DNS must be fully qualified (trailing dot)")
    secrets = {c["spec"]["secretName"] for c in by_kind["Certificate"]}
    for kind in ("StatefulSet", "Job"):
        spec = by_kind[kind][0]["spec"]["template"]["spec"]
        for volume in spec["volumes"]:
            if "secret" in volume and volume["secret"]["secretName"] not in secrets:
                problems.append(f"{kind} mounts {volume['secret']['secretName']}, which no Certificate makes")
    # cert-manager objects (no schema offline): the fields they require.
    issuers = {i["metadata"]["name"]: i["spec"] for i in by_kind["Issuer"]}
    for name, spec in issuers.items():
        if not ("selfSigned" in spec or "secretName" in spec.get("ca", {})):
            problems.append(f"Issuer {name} is neither selfSigned nor a CA issuer with a secretName")
        if "secretName" in spec.get("ca", {}) and spec["ca"]["secretName"] not in {
            c["spec"]["secretName"] for c in by_kind["Certificate"] if c["spec"].get("isCA")
        }:
            problems.append(f"Issuer {name} uses a CA secret no CA Certificate makes")
    for cert in by_kind["Certificate"]:
        spec = cert["spec"]
        name = cert["metadata"]["name"]
        if not spec.get("secretName") or spec.get("issuerRef", {}).get("name") not in issuers:
            problems.append(f"Certificate {name} needs a secretName and an issuerRef to an Issuer here")
        if not spec.get("isCA") and not (spec.get("dnsNames") or spec.get("ipAddresses")):
            problems.append(f"Certificate {name} needs a SAN (dnsNames)")
    usages = {c["metadata"]["name"]: c["spec"].get("usages", []) for c in by_kind["Certificate"]}
    if "server auth" not in usages.get("pingpong-server", []) or "client auth" not in usages.get("pingpong-client", []):
        problems.append("server and client certificates need server auth / client auth usages")
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        if not any(k.startswith("app.kubernetes.io/") for k in labels):
            problems.append(f"{doc['kind']}/{doc['metadata']['name']} has no app.kubernetes.io labels")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

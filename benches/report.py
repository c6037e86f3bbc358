"""Side-by-side table of pssession's criterion results and the Python anchors of one `cargo xtask bench` run.

Usage: python3 report.py CRITERION_DIR ANCHOR_RESULTS_DIR

CRITERION_DIR is `<target>/criterion`; ANCHOR_RESULTS_DIR holds the JSON lines written by ../shared/bench/*.py.
Each row pairs one criterion benchmark with the anchor measurement of the same work on the same input and prints
throughput and the ratio (how many times faster pssession is). Rows whose counterpart is missing are left out and
listed at the end, so a partial run never prints a misleading ratio.
"""

import json
import os
import statistics
import sys


def criterion_results(root):
    """{full_id: (median seconds, throughput dict)} for every benchmark under root."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
        estimates = json.load(open(os.path.join(dirpath, "estimates.json")))
        out[bench["full_id"]] = (estimates["median"]["point_estimate"] / 1e9, bench.get("throughput") or {})
    return out


def anchor_results(root):
    """[record] of every result line of every anchor script."""
    out = []
    for name in sorted(os.listdir(root)):
        if name.endswith(".jsonl"):
            for line in open(os.path.join(root, name)):
                record = json.loads(line)
                if record.get("kind") == "result":
                    out.append(record)
    return out


def find(anchors, **want):
    for record in anchors:
        if all(record.get(k) == v for k, v in want.items()):
            return record
    return None


def rate(seconds, amount):
    return amount / seconds if seconds else 0.0


def fmt_rate(value, unit):
    if unit == "B":
        return f"{value / 1e9:.2f} GB/s" if value >= 1e9 else f"{value / 1e6:.1f} MB/s"
    return f"{value / 1e6:.2f} M/s" if value >= 1e6 else f"{value / 1e3:.1f} k/s"


def fragment_rows(ours, anchors):
    """Rows for benches/benches/psrp_fragment.rs against bench_fragment.py."""
    rows = []
    for full_id, (seconds, throughput) in sorted(ours.items()):
        parts = full_id.split("/")
        if parts[0] in ("fragment", "defragment") and len(parts) >= 3:
            op, workload = parts[0], parts[1]
            feed = parts[2] if op == "defragment" else None
            size = int(parts[-1])
            amount, unit = (throughput.get("Bytes"), "B")
            want = dict(op=op, workload=workload, frag_size=size)
            if feed:
                want["feed"] = feed
            peers = {lib: find(anchors, lib=lib, **want) for lib in ("psrpcore", "pypsrp")}
            ours_rate = rate(seconds, amount)
            peer_rates = {lib: (r["bytes"] / r["median_s"] if r else None) for lib, r in peers.items()}
            rows.append((full_id, ours_rate, peer_rates, unit))
        elif parts[0] == "fragment+defragment":
            workload, size = parts[1], int(parts[2])
            amount, unit = throughput.get("Elements"), "msg"
            peer_rates = {}
            for lib in ("psrpcore", "pypsrp"):
                f = find(anchors, op="fragment", lib=lib, workload=workload, frag_size=size)
                d = find(anchors, op="defragment", lib=lib, workload=workload, frag_size=size, feed="per-payload")
                peer_rates[lib] = f["items"] / (f["median_s"] + d["median_s"]) if f and d else None
            rows.append((full_id, rate(seconds, amount), peer_rates, unit))
        elif parts[0] == "memcpy":
            rows.append((full_id, rate(seconds, throughput.get("Bytes")), {}, "B"))
    return rows


def wsman_rows(ours, anchors):
    """Rows for benches/benches/wsman_receive.rs against bench_wsman.py (pypsrp's WinRS.receive on the same bytes)."""
    rows = []
    for full_id, (seconds, throughput) in sorted(ours.items()):
        parts = full_id.split("/")
        if parts[0] == "wsman_receive" and len(parts) == 2:
            peer = find(anchors, op="receive", lib="pypsrp", envelope=parts[1])
            peer_rate = peer["bytes"] / peer["median_s"] if peer else None
            rows.append((full_id, rate(seconds, throughput.get("Bytes")), {"pypsrp": peer_rate}, "B"))
    return rows


def clixml_rows(ours, anchors):
    """Rows for benches/benches/clixml.rs against bench_clixml.py (the same 10,000 PSCustomObjects, in objects/s).

    Per-object deserialization pairs with both libraries' per-object measurements, the <Objs> document with
    psrpcore's deserialize_clixml; serialization has no anchor and is listed for scale."""
    rows = []
    for full_id, (seconds, throughput) in sorted(ours.items()):
        parts = full_id.split("/")
        if parts[0] != "clixml" or len(parts) != 3:
            continue
        op, mode = parts[1], parts[2]
        amount = throughput.get("Elements")
        peers = {}
        if op == "deserialize":
            libs = ("psrpcore", "pypsrp") if mode == "per-object" else ("psrpcore",)
            for lib in libs:
                peer = find(anchors, op="deserialize", lib=lib, mode=mode)
                peers[lib] = peer["items"] / peer["median_s"] if peer else None
        rows.append((full_id, rate(seconds, amount), peers, "obj"))
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ours = criterion_results(sys.argv[1])
    anchors = anchor_results(sys.argv[2])
    rows = fragment_rows(ours, anchors) + wsman_rows(ours, anchors) + clixml_rows(ours, anchors)
    print("| work | pssession | psrpcore | pypsrp | × psrpcore | × pypsrp |")
    print("|---|---|---|---|---|---|")
    missing = []
    for name, ours_rate, peers, unit in rows:
        cells = []
        ratios = []
        for lib in ("psrpcore", "pypsrp"):
            peer = peers.get(lib)
            cells.append(fmt_rate(peer, unit) if peer else "–")
            ratios.append(f"{ours_rate / peer:,.0f}×" if peer else "–")
            if lib in peers and peer is None:
                missing.append(f"{name} ({lib})")
        print(f"| {name} | {fmt_rate(ours_rate, unit)} | {cells[0]} | {cells[1]} | {ratios[0]} | {ratios[1]} |")
    if missing:
        print("\nno anchor measurement for: " + ", ".join(missing))


if __name__ == "__main__":
    main()

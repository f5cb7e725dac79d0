#!/usr/bin/env python3
"""Our training step against PyTorch's on the same machine in one run: runs our Google Benchmark program
(hg_bench_train_step_cpu in <build>/bench, or hg_bench_train_step_cuda in <build>/bench/cuda) with
--benchmark_out JSON, then train_step.py for the same models and batches (each in its own process),
prints a table of both times and the ratio ours / PyTorch (below 1: ours is faster), and writes the
rows as JSON and CSV. Our rows are matched by the model and batch parsed from the benchmark name
(e.g. train_step_cpu/original/batch:16). With --plot, also a PNG of examples/s against batch size.

  python3 bench/peers/compare.py --build build --device cpu --models original --batches 16
  python3 bench/peers/compare.py --build build --device cuda --models original,dfl-h128 --batches 16,64
  python3 bench/peers/compare.py --plot-only results.json --plot examples.png

--device cpu compares with PyTorch mode cpu (--threads, default 2, for both programs; --malloc tuned,
the default, gives both the glibc malloc settings of train_step.py); --device cuda with the modes
cuda-fp32, cuda-tf32-cl and cuda-compile (--modes picks). --rounds N alternates ours and PyTorch N times
and reports the median of each (for shared machines). --ours-program runs another copy of our program
(e.g. .gpu-prebuilt/bin/hg_bench_train_step_cuda, with LD_LIBRARY_PATH=.gpu-prebuilt/lib);
--ours-json reads an existing benchmark JSON instead of running it; --no-ours runs PyTorch only.
On the CPU each row records the share of the machine's CPU other processes took meanwhile and the
cores the program itself kept busy (from /proc/stat and getrusage).
"""
import argparse
import csv
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_step  # noqa: E402  (its malloc settings; it imports torch only when it runs)
MODELS = ("original", "dfl-h128")  # models.py's architectures; also what the benchmark names use
DEFAULT_MODES = {"cpu": ["cpu"], "cuda": ["cuda-fp32", "cuda-tf32-cl", "cuda-compile"]}


def parse_benchmark_name(name):
    """(model, batch) from a benchmark name such as 'train_step_cpu/original/batch:16', or None.
    The model is a '/'-separated part naming one of MODELS (dfl_h128 is read as dfl-h128); the batch
    is the number of a 'batch:N' part, else the last part that is a plain number."""
    parts = name.split("/")
    model = None
    for p in parts:
        q = p.replace("_", "-")
        if q in MODELS:
            model = q
    batch = None
    for p in parts:
        m = re.fullmatch(r"batch[:=_]?(\d+)", p)
        if m:
            batch = int(m.group(1))
    if batch is None:
        for p in reversed(parts):
            if re.fullmatch(r"\d+", p):
                batch = int(p)
                break
    if model is None or batch is None:
        return None
    return model, batch


TIME_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def read_our_rows(path):
    """The rows of a Google Benchmark JSON file: one per (benchmark, model, batch), with ms per
    iteration from the ms_per_iter counter (else the reported real time). Aggregates (repetitions)
    replace the single runs by their median when present."""
    with open(path) as f:
        data = json.load(f)
    rows, medians = {}, {}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            print("compare: our benchmark %s failed: %s" % (b.get("name"), b.get("error_message")), file=sys.stderr)
            continue
        run_name = b.get("run_name", b.get("name", ""))
        key = parse_benchmark_name(run_name)
        if key is None:
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        ms = b.get("ms_per_iter")
        if ms is None:
            ms = b["real_time"] * TIME_UNIT_MS[b.get("time_unit", "ns")]
        row = {"impl": "ours", "mode": run_name.split("/")[0], "benchmark": run_name, "model": key[0],
               "batch": key[1], "ms_per_iter": ms, "examples_per_s": b.get("examples_per_s", 2e3 * key[1] / ms),
               "tflops": b.get("tflops"), "step_gflop": b.get("step_gflop"), "iters": b.get("iterations")}
        if b.get("run_type") == "aggregate":
            medians[run_name] = row
        else:
            rows.setdefault(run_name, []).append(row)
    out = []
    for name, rs in rows.items():
        if name in medians:
            out.append(medians[name])
        else:
            # repetitions without aggregates: the median run by time
            rs = sorted(rs, key=lambda r: r["ms_per_iter"])
            out.append(rs[len(rs) // 2])
    for name, r in medians.items():
        if name not in rows:
            out.append(r)
    return out, data.get("context", {})


def our_program(build, device):
    sub = os.path.join("bench", "cuda") if device == "cuda" else "bench"
    exe = os.path.join(build, sub, "hg_bench_train_step_%s" % device)
    if not os.path.isfile(exe):
        raise SystemExit("compare: %s is missing: build the target hg_bench_train_step_%s in %s first"
                         % (exe, device, build))
    return exe


def run_ours(args, work):
    exe = args.ours_program or our_program(args.build, args.device)
    cases = "|".join("%s/batch:%d" % (m, b) for m in args.models for b in args.batches)
    out = os.path.join(work, "ours.json")
    cmd = [exe, "--benchmark_filter=/(%s)(/|$)" % cases, "--benchmark_out=%s" % out, "--benchmark_out_format=json"]
    if args.min_time:
        cmd.append("--benchmark_min_time=%g" % args.min_time)
    if args.repetitions > 1:
        cmd.append("--benchmark_repetitions=%d" % args.repetitions)
    cmd += args.ours_arg
    env = dict(os.environ)
    if args.device == "cpu":
        env["OMP_NUM_THREADS"] = str(args.threads)  # our CPU backend uses omp_get_max_threads() threads
        if args.malloc == "tuned":
            env = train_step.with_malloc_tunables(env)
    print("compare: running " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)
    if not os.path.isfile(out):  # e.g. the CUDA program without a GPU prints why and exits 0
        raise SystemExit("compare: %s wrote no results to %s" % (exe, out))
    return out


def run_pytorch(args, model, batch, mode, work):
    out = os.path.join(work, "pytorch_%s_%s_%d.json" % (mode, model, batch))
    cmd = [args.python, os.path.join(HERE, "train_step.py"), "--model", model, "--batch", str(batch), "--mode", mode,
           "--threads", str(args.threads), "--json", out]
    if args.warmup:
        cmd += ["--warmup", str(args.warmup)]
    if args.iters:
        cmd += ["--iters", str(args.iters)]
    if args.cpu_capability and mode == "cpu":
        cmd += ["--cpu-capability", args.cpu_capability]
    if mode == "cpu":
        cmd += ["--malloc", args.malloc]
    cmd += args.pytorch_arg
    print("compare: running " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        print("compare: PyTorch %s %s batch %d failed (exit %d)" % (mode, model, batch, proc.returncode),
              file=sys.stderr)
        return None
    if not os.path.isfile(out):
        print("compare: PyTorch %s %s batch %d wrote no result" % (mode, model, batch), file=sys.stderr)
        return None
    with open(out) as f:
        return json.load(f)


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def median_rows(raw):
    """One row per (implementation, mode or benchmark, model, batch): the median round by time."""
    groups = {}
    for r in raw:
        key = (r["impl"], r.get("benchmark", r["mode"]), r["model"], r["batch"])
        groups.setdefault(key, []).append(r)
    out = []
    for rs in groups.values():
        rs = sorted(rs, key=lambda r: r["ms_per_iter"])
        row = dict(rs[(len(rs) - 1) // 2])
        row["rounds"] = len(rs)
        out.append(row)
    return out


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "n/a"


def table(rows):
    """Text table: per model and batch, every (ours, PyTorch mode) pair with the ratio of times."""
    lines = ["| model | batch/side | ours | ours ms/iter | PyTorch mode | PyTorch ms/iter | ours / PyTorch | "
             "ours ex/s | PyTorch ex/s | PyTorch TFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["model"], r["batch"]) for r in rows}, key=lambda k: (MODELS.index(k[0])
                                                                            if k[0] in MODELS else 99, k[1]))
    for model, batch in keys:
        ours = [r for r in rows if r["impl"] == "ours" and (r["model"], r["batch"]) == (model, batch)] or [None]
        peers = [r for r in rows if r["impl"] == "pytorch" and (r["model"], r["batch"]) == (model, batch)] or [None]
        for o in ours:
            for p in peers:
                ratio = "%.2f" % (o["ms_per_iter"] / p["ms_per_iter"]) if o and p else "-"
                lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    model, batch, o["benchmark"] if o else "-", "%.1f" % o["ms_per_iter"] if o else "-",
                    p["mode"] if p else "-", "%.1f" % p["ms_per_iter"] if p else "-", ratio,
                    "%.1f" % o["examples_per_s"] if o else "-", "%.1f" % p["examples_per_s"] if p else "-",
                    "%.3f" % p["tflops"] if p else "-"))
    return "\n".join(lines)


CSV_FIELDS = ("impl", "mode", "benchmark", "model", "batch", "ms_per_iter", "ratio_to_ours", "examples_per_s", "tflops",
              "step_gflop", "peak_memory_mib", "iters", "device", "threads", "others_cpu_percent", "cores_used", "rounds", "torch")


def write_results(rows, meta, path_json, path_csv, raw=None):
    ours = {(r["model"], r["batch"]): r["ms_per_iter"] for r in rows if r["impl"] == "ours"}
    for r in rows:
        if r["impl"] == "pytorch" and (r["model"], r["batch"]) in ours:
            r["ratio_to_ours"] = ours[(r["model"], r["batch"])] / r["ms_per_iter"]
    with open(path_json, "w") as f:
        json.dump({"meta": meta, "rows": rows, "runs": raw if raw is not None else rows}, f, indent=2)
        f.write("\n")
    with open(path_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)


def plot(rows, path, title=""):
    """examples/s against batch size per side: one panel per model, one line per implementation/mode."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("compare: the plot needs matplotlib (Debian: python3-matplotlib, bench/peers/setup-cpu.sh)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in MODELS if any(r["model"] == m for r in rows)]
    if not models:
        raise SystemExit("compare: nothing to plot")
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        series = {}
        for r in rows:
            if r["model"] == model:
                label = ("ours " + r["mode"]) if r["impl"] == "ours" else ("PyTorch " + r["mode"])
                series.setdefault(label, []).append((r["batch"], r["examples_per_s"]))
        for label, pts in sorted(series.items()):
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                    linestyle="-" if label.startswith("ours") else "--", label=label)
        batches = sorted({r["batch"] for r in rows if r["model"] == model})
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches)
        ax.set_xticklabels([str(b) for b in batches])
        ax.set_xlabel("batch per side")
        ax.set_ylabel("examples/s (both sides)")
        ax.set_title(model + (" - " + title if title else ""))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print("compare: wrote " + path)


def csv_list(text, convert=str):
    return [convert(v) for v in text.split(",") if v]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--build", help="our build folder (holding bench/hg_bench_train_step_cpu or "
                                    "bench/cuda/hg_bench_train_step_cuda)")
    ap.add_argument("--ours-program", default=None,
                    help="our benchmark executable, instead of the one in --build (e.g. a prebuilt copy)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--models", type=csv_list, default=["original"], help="comma-separated (default original)")
    ap.add_argument("--batches", type=lambda s: csv_list(s, int), default=[16],
                    help="batch sizes per side, comma-separated (default 16)")
    ap.add_argument("--modes", type=csv_list, default=None, help="PyTorch modes (default: all of the device)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of both programs (default 2)")
    ap.add_argument("--cpu-capability", default=None, help="ATEN_CPU_CAPABILITY for PyTorch on the CPU")
    ap.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                    help="CPU: glibc malloc settings of both programs (train_step.py's MALLOC_TUNABLES, or glibc's "
                         "defaults)")
    ap.add_argument("--warmup", type=int, default=None, help="PyTorch warm-up iterations (train_step.py default)")
    ap.add_argument("--iters", type=int, default=None, help="PyTorch timed iterations (train_step.py default)")
    ap.add_argument("--min-time", type=float, default=None, help="--benchmark_min_time (seconds) for ours")
    ap.add_argument("--repetitions", type=int, default=1, help="--benchmark_repetitions for ours")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run ours and PyTorch alternately this many times; rows are the medians (default 1)")
    ap.add_argument("--ours-arg", action="append", default=[], help="extra argument for our program (repeatable)")
    ap.add_argument("--pytorch-arg", action="append", default=[], help="extra argument for train_step.py (repeatable)")
    ap.add_argument("--ours-json", default=None, help="read our results from this benchmark JSON instead of running")
    ap.add_argument("--no-ours", action="store_true", help="run PyTorch only")
    ap.add_argument("--python", default=sys.executable, help="the Python with torch (default: this one)")
    ap.add_argument("--out", default="peers_results", help="output prefix: <out>.json and <out>.csv")
    ap.add_argument("--plot", default=None, help="also write this PNG (examples/s against batch size)")
    ap.add_argument("--plot-only", default=None, metavar="RESULTS_JSON", help="plot an earlier run's JSON and exit")
    args = ap.parse_args(argv)

    if args.plot_only:
        with open(args.plot_only) as f:
            data = json.load(f)
        plot(data["rows"], args.plot or os.path.splitext(args.plot_only)[0] + ".png",
             data.get("meta", {}).get("device", ""))
        return 0
    for m in args.models:
        if m not in MODELS:
            ap.error("unknown model '%s' (%s)" % (m, ", ".join(MODELS)))
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")
    if not args.batches or min(args.batches) < 1:
        ap.error("--batches needs sizes >= 1")
    modes = args.modes or DEFAULT_MODES[args.device]
    for mode in modes:
        if mode not in DEFAULT_MODES[args.device]:
            ap.error("mode '%s' is not a %s mode (%s)" % (mode, args.device, ", ".join(DEFAULT_MODES[args.device])))
    if not args.no_ours and not args.ours_json and not args.build and not args.ours_program:
        ap.error("--build (or --ours-program) is needed to run our benchmark (or --ours-json FILE, or --no-ours)")

    meta = {"malloc": args.malloc if args.device == "cpu" else "n/a", "device": args.device, "models": args.models, "batches": args.batches, "modes": modes,
            "threads": args.threads, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "loadavg_start": loadavg()}
    raw = []
    with tempfile.TemporaryDirectory(prefix="hg_peers_") as work:
        for rnd in range(args.rounds):
            # Ours and PyTorch alternate round by round, so a change of the machine's load meanwhile
            # falls on both; each row is the median over the rounds.
            if not args.no_ours:
                if args.ours_json:
                    path, others = args.ours_json, None
                else:
                    machine0, child0, wall0 = train_step.machine_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
                    path = run_ours(args, work)
                    machine1, child1, wall1 = train_step.machine_cpu_seconds(), children_cpu_seconds(), time.perf_counter()
                    others = None
                    cores_used = (child1 - child0) / (wall1 - wall0)
                    if machine0 is not None and machine1 is not None:
                        busy_others = max(0.0, (machine1 - machine0) - (child1 - child0))
                        others = 100.0 * busy_others / ((wall1 - wall0) * (os.cpu_count() or 1))
                ours, context = read_our_rows(path)
                ours = [r for r in ours if r["model"] in args.models and r["batch"] in args.batches]
                if not ours:
                    print("compare: no row of %s matches the models %s and batches %s"
                          % (path, args.models, args.batches), file=sys.stderr)
                for r in ours:
                    r["round"] = rnd
                    if not args.ours_json:
                        # CPU seconds / wall seconds of the whole program run (set-up and warm-up included)
                        r["cores_used"] = cores_used
                    if others is not None:
                        # over the whole program run (set-up and warm-up included)
                        r["others_cpu_percent"] = others
                raw += ours
                meta["ours_context"] = context
            for model in args.models:
                for batch in args.batches:
                    for mode in modes:
                        r = run_pytorch(args, model, batch, mode, work)
                        if r is not None:
                            r["round"] = rnd
                            if "cpu_s_per_iter" in r:
                                r["cores_used"] = r["cpu_s_per_iter"] / (r["ms_per_iter"] * 1e-3)
                            raw.append(r)
                            rows = median_rows(raw)
                            # written after every run, so an interrupted run keeps what it measured
                            write_results(rows, meta, args.out + ".json", args.out + ".csv", raw)
    rows = median_rows(raw)
    meta["loadavg_end"] = loadavg()
    print()
    print(table(rows))
    print()
    print("load average (1, 5, 15 min): start %s, end %s" % (meta["loadavg_start"], meta["loadavg_end"]))
    others = ["%s %s %s/%d: others %.0f%%, itself %.2f cores" % (r["impl"], r["mode"], r["model"], r["batch"],
                                                                  r["others_cpu_percent"], r.get("cores_used", 0))
              for r in rows if "others_cpu_percent" in r]
    if others:
        print("CPU taken by other processes (share of the whole machine) and by the program itself (cores) during "
              "each run: " + "; ".join(others))
    write_results(rows, meta, args.out + ".json", args.out + ".csv", raw)
    print("compare: wrote %s.json and %s.csv" % (args.out, args.out))
    if args.plot:
        plot(rows, args.plot, args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())

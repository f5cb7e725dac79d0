#!/usr/bin/env python3
"""Times one whole face-swap training iteration in PyTorch, the peer of bench/train_step.hpp: both sides
(shared encoder; decoder A on batch A, decoder B on batch B), each forward, SSIM + MSE face-masked loss
(losses.py) and backward, then one Adam step over all parameters (lr 5e-5, betas 0.9 / 0.999, eps 1e-7 in
the Keras/faceswap placement, as include/hourglass/optim/config.hpp's adam()).

Modes:
  cpu            CPU, eager, float32 (--threads, default 2)
  cuda-fp32      GPU, eager, float32 with TF32 off (cuDNN and matmul)
  cuda-tf32-cl   GPU, eager, TF32 on, channels_last tensors
  cuda-compile   GPU, torch.compile of model + loss, TF32 on
The batches are uniform random in [0, 1] (faces, targets and the face mask), made once. With --data host
(the default, as ours) they sit in (pinned) host memory and are copied to the device every iteration;
--data device keeps them on the device. The optimizer is torch.optim.Adam, fused kernels on the GPU and
the per-tensor loop on the CPU (--adam); zero_grad sets gradients to None. Each timed iteration ends with a device synchronization.
On the CPU the process runs with glibc malloc settings that keep freed memory (MALLOC_TUNABLES below;
--malloc default turns that off), and it reports the CPU seconds it used per iteration and the share of
the machine's CPU that other processes took meanwhile (from /proc/stat), for shared machines.

Prints ms per iteration (mean and median), examples/s (both sides' faces), achieved TFLOP/s (FLOPs
counted as models.py and include/hourglass/layers/flops.hpp count them: 3x the forward) and, on the GPU,
the peak memory allocated; --json writes the same as one JSON object.

Example:  python3 bench/peers/train_step.py --model original --batch 16 --mode cpu --threads 2
"""
import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

MODES = ("cpu", "cuda-fp32", "cuda-tf32-cl", "cuda-compile")

# glibc malloc settings for the CPU runs: with its defaults glibc returns every large freed block to the
# system (mmap'd blocks at once, the heap top above 128 KiB) and the next iteration faults every page
# in again; on the 2-core machine that costs PyTorch's CPU step about 30 % (4.5 s -> 3.2 s for
# 'original' at batch 16). Both thresholds are needed: the mmap one keeps big blocks in the heap, the
# trim one keeps the heap from shrinking. compare.py gives our program the same environment.
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", default="original", help="original or dfl-h128 (default original)")
    ap.add_argument("--batch", type=int, default=16, help="faces per side (default 16)")
    ap.add_argument("--mode", default="cpu", choices=MODES)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (cpu mode; default 2)")
    ap.add_argument("--warmup", type=int, default=None,
                    help="untimed iterations first (default: 2 on the CPU, 10 on the GPU, 20 with torch.compile)")
    ap.add_argument("--iters", type=int, default=None, help="timed iterations (default: 5 on the CPU, 50 on the GPU)")
    ap.add_argument("--data", choices=("host", "device"), default="host",
                    help="where the batches live: host (copied to the device every iteration, as ours) or device")
    ap.add_argument("--loss-sync", action="store_true",
                    help="read both sides' losses to the host after the backward passes, before the optimizer "
                         "step (ours does, for its non-finite check)")
    ap.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                    help="channels_last tensors (auto: on for cuda-tf32-cl only)")
    ap.add_argument("--zero-grad", choices=("none", "zeros"), default="none",
                    help="gradients between iterations: freed (none, PyTorch's default) or set to zeros")
    ap.add_argument("--adam", choices=("auto", "foreach", "fused", "loop"), default="auto",
                    help="Adam kernels: foreach (multi-tensor), fused (GPU only) or loop (one tensor at a time); "
                         "auto: fused on the GPU, loop on the CPU")
    ap.add_argument("--compile-mode", default="default",
                    help="torch.compile mode for cuda-compile (default, reduce-overhead, max-autotune)")
    ap.add_argument("--cpu-capability", default=None,
                    help="set ATEN_CPU_CAPABILITY (e.g. avx2, avx512) before torch loads")
    ap.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                    help="cpu mode: run with GLIBC_TUNABLES=%s (tuned, the default) or glibc's defaults"
                    % MALLOC_TUNABLES.replace("%", "%%"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the result to this file")
    ap.add_argument("--check", action="store_true",
                    help="only check the Adam update against ours (Keras eps placement) and exit")
    args = ap.parse_args(argv)
    if args.batch < 1:
        ap.error("--batch must be >= 1, got %d" % args.batch)
    if args.threads < 1:
        ap.error("--threads must be >= 1, got %d" % args.threads)
    gpu = args.mode != "cpu"
    if args.warmup is None:
        args.warmup = 20 if args.mode == "cuda-compile" else (10 if gpu else 2)
    if args.iters is None:
        args.iters = 50 if gpu else 5
    if args.warmup < 1 or args.iters < 1:
        ap.error("--warmup and --iters must be >= 1")
    return args


def with_malloc_tunables(env):
    """env with MALLOC_TUNABLES added to GLIBC_TUNABLES (kept as it is when it already sets them)."""
    current = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.mmap_threshold" in current:
        return env
    env = dict(env)
    env["GLIBC_TUNABLES"] = (current + ":" if current else "") + MALLOC_TUNABLES
    return env


def configure_environment(args):
    """What must be set before torch is imported: the thread pools and the CPU kernel capability; and
    before the process starts: glibc's malloc settings (read once at start-up, hence the re-exec)."""
    if args.mode == "cpu" and args.malloc == "tuned" and platform.system() == "Linux":
        env = with_malloc_tunables(os.environ)
        if env is not os.environ:
            sys.stdout.flush()
            os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)
    if args.mode == "cpu":
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    if args.cpu_capability:
        os.environ["ATEN_CPU_CAPABILITY"] = args.cpu_capability


def machine_cpu_seconds():
    """Busy CPU seconds of the whole machine so far (all cores, from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def process_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def keras_adam_eps(eps, beta2, step):
    """PyTorch's Adam divides by sqrt(v) / sqrt(1 - beta2^t) + eps'; ours (Keras, epsilon-hat) multiplies
    the step by sqrt(1 - beta2^t) and divides by sqrt(v) + eps. They are the same update when
    eps' = eps / sqrt(1 - beta2^t), set before every step."""
    return eps / math.sqrt(1.0 - beta2 ** step)


def check_keras_adam(steps=5, tolerance=1e-10):
    """torch.optim.Adam with keras_adam_eps set before every step against the Keras-form update of
    include/hourglass/math/optim_rules.hpp (adam_update with epsilon-hat) written out, in float64, with
    gradients small enough (1e-4) that eps matters. Returns the largest relative difference."""
    import torch

    worst = 0.0
    for foreach in (True, False):
        worst = max(worst, _keras_adam_difference(torch, foreach, steps))
    if not worst <= tolerance:
        raise AssertionError("Adam with the per-step eps differs from the Keras form by %.3g (relative)" % worst)
    return worst


def _keras_adam_difference(torch, foreach, steps):
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(1000, dtype=torch.float64, generator=gen)
    q = start.clone().requires_grad_(True)
    lr, beta1, beta2, eps = 5e-5, 0.9, 0.999, 1e-7
    opt = torch.optim.Adam([q], lr=lr, betas=(beta1, beta2), eps=eps, foreach=foreach)
    m, v, w = torch.zeros_like(start), torch.zeros_like(start), start.clone()
    worst = 0.0
    for t in range(1, steps + 1):
        g = torch.randn(1000, dtype=torch.float64, generator=gen) * 1e-4
        q.grad = g.clone()
        for group in opt.param_groups:
            group["eps"] = keras_adam_eps(eps, beta2, t)
        opt.step()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (v.sqrt() + eps)
        worst = max(worst, float((q.detach() - w).abs().max() / (w - start).abs().max()))
    return worst


def run(args):
    import torch

    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import losses
    import models

    gpu = args.mode != "cpu"
    if gpu and not torch.cuda.is_available():
        raise SystemExit("train_step: mode %s needs a CUDA device; torch %s sees none" % (args.mode, torch.__version__))
    if args.model not in models.ARCHITECTURES:
        raise SystemExit("train_step: unknown model '%s' (%s)" % (args.model, ", ".join(models.ARCHITECTURES)))
    device = torch.device("cuda" if gpu else "cpu")
    if gpu:
        tf32 = args.mode != "cuda-fp32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    else:
        torch.set_num_threads(args.threads)
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and args.mode == "cuda-tf32-cl")
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    torch.manual_seed(args.seed)
    model = models.SwapModel(args.model).to(device=device, memory_format=fmt)
    loss_fn = losses.FaceSwapLoss().to(device)
    params = list(model.parameters())
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    # On the CPU (torch 1.13) the multi-tensor path was 2-4 % slower than the loop here.
    adam_impl = args.adam if args.adam != "auto" else ("fused" if gpu else "loop")
    opt_kind = {"fused": {"fused": True}, "foreach": {"foreach": True}, "loop": {"foreach": False}}[adam_impl]
    opt = torch.optim.Adam(params, lr=5e-5, betas=(beta1, beta2), eps=eps, **opt_kind)

    def side_loss(x, target, mask, side):
        return loss_fn(model(x, side), target, mask)

    step_fn = side_loss
    if args.mode == "cuda-compile":
        step_fn = torch.compile(side_loss, mode=args.compile_mode)

    n, size = args.batch, model.arch.input
    gen = torch.Generator().manual_seed(args.seed + 1)

    def batch():
        x = torch.rand(n, 3, size, size, generator=gen)
        t = torch.rand(n, 3, size, size, generator=gen)
        m = torch.rand(n, 1, size, size, generator=gen)
        out = []
        for v in (x, t, m):
            v = v.contiguous(memory_format=fmt)
            if args.data == "device":
                v = v.to(device)
            elif gpu:
                v = v.pin_memory()
            out.append(v)
        return out

    batches = [batch(), batch()]
    state = {"step": 0}

    def iteration():
        opt.zero_grad(set_to_none=args.zero_grad == "none")
        values = []
        for side in (0, 1):
            x, t, m = (v.to(device, non_blocking=True) for v in batches[side])
            loss = step_fn(x, t, m, side)
            loss.backward()
            values.append(loss.detach())
        if args.loss_sync:
            values = [v.item() for v in values]
        state["step"] += 1
        for g in opt.param_groups:
            g["eps"] = keras_adam_eps(eps, beta2, state["step"])
        opt.step()
        return values

    def sync():
        if gpu:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    first = None
    for _ in range(args.warmup):
        values = iteration()
        if first is None:
            first = [float(v) for v in values]
    sync()
    warmup_s = time.perf_counter() - t0
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    times = []
    load_before = loadavg()
    machine0, own0, wall0 = machine_cpu_seconds(), process_cpu_seconds(), time.perf_counter()
    for _ in range(args.iters):
        start = time.perf_counter()
        values = iteration()
        sync()
        times.append(time.perf_counter() - start)
    machine1, own1, wall1 = machine_cpu_seconds(), process_cpu_seconds(), time.perf_counter()
    last = [float(v) for v in values]
    if not all(math.isfinite(v) for v in first + last):
        raise SystemExit("train_step: non-finite loss (first %s, last %s)" % (first, last))

    mean_s = sum(times) / len(times)
    flops = models.iteration_flops(model, n)
    result = {
        "impl": "pytorch",
        "mode": args.mode,
        "model": args.model,
        "batch": n,
        "ms_per_iter": mean_s * 1e3,
        "ms_median": statistics.median(times) * 1e3,
        "ms_min": min(times) * 1e3,
        "ms_max": max(times) * 1e3,
        "examples_per_s": 2.0 * n / mean_s,
        "tflops": flops / mean_s * 1e-12,
        "step_gflop": flops * 1e-9,
        "iters": args.iters,
        "warmup": args.warmup,
        "warmup_s": warmup_s,
        "loss_first": first,
        "loss_last": last,
        "parameters": models.parameter_count(model),
        "data": args.data,
        "channels_last": channels_last,
        "zero_grad": args.zero_grad,
        "adam": adam_impl,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if gpu:
        result["device"] = torch.cuda.get_device_name(0)
        result["peak_memory_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
        result["tf32"] = args.mode != "cuda-fp32"
        result["cudnn"] = torch.backends.cudnn.version()
    else:
        result["device"] = platform.processor() or platform.machine()
        result["threads"] = torch.get_num_threads()
        result["cpu_capability"] = os.environ.get("ATEN_CPU_CAPABILITY", "default")
        result["glibc_tunables"] = os.environ.get("GLIBC_TUNABLES", "")
        # The machine may be shared: how much CPU this process got, and how much the others took.
        cores = os.cpu_count() or 1
        result["cpu_s_per_iter"] = (own1 - own0) / args.iters
        if machine0 is not None and machine1 is not None:
            others = max(0.0, (machine1 - machine0) - (own1 - own0))
            result["others_cpu_percent"] = 100.0 * others / ((wall1 - wall0) * cores)
        result["loadavg_before"], result["loadavg_after"] = load_before, loadavg()
    return result


def describe(r):
    text = ("pytorch %s %s batch %d: %.1f ms/iter (median %.1f, min %.1f, max %.1f over %d), %.1f examples/s, "
            "%.3f TFLOP/s (%.1f GFLOP/iter)" % (r["mode"], r["model"], r["batch"], r["ms_per_iter"], r["ms_median"],
                                                 r["ms_min"], r["ms_max"], r["iters"], r["examples_per_s"],
                                                 r["tflops"], r["step_gflop"]))
    if "peak_memory_mib" in r:
        text += ", peak memory %.0f MiB" % r["peak_memory_mib"]
    if "threads" in r:
        text += ", %d threads" % r["threads"]
    if "cpu_s_per_iter" in r:
        text += ", %.2f CPU s/iter" % r["cpu_s_per_iter"]
    if "others_cpu_percent" in r:
        text += ", other processes took %.0f%% of the machine's CPU" % r["others_cpu_percent"]
    return text + " [torch %s, %s]" % (r["torch"], r["device"])


def main(argv=None):
    args = parse_args(argv)
    if args.check:
        worst = check_keras_adam()
        print("Adam with eps / sqrt(1 - beta2^t) equals our Keras-form update (largest relative difference "
              "%.2e)" % worst)
        return 0
    configure_environment(args)
    result = run(args)
    print(describe(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

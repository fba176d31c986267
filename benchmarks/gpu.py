"""GPU training-step benchmark at XLM-R Base shape: tokens/s, MFU and peak memory, ours vs HF.

On one CUDA device, in bf16-mixed (autocast bf16, fp32 master weights, fused AdamW), each variant
trains for --warmup untimed and --steps timed steps on the same masked batches:

  ours eager       XLMRForMaskedLM, LM head on the ~15% target positions only
  ours compiled    the same under torch.compile
  HF (sdpa)        transformers' XLMRobertaForMaskedLM, full-vocabulary logits at every position
  HF compiled      with --hf-compile

MFU = achieved model FLOP/s / the device's peak dense bf16 FLOP/s (both printed; --peak-tflops
overrides the table below). Each model's FLOPs are the ones it performs (`train_flops_per_token`),
so ours, which skips 85% of the LM head, counts fewer FLOPs per token than HF: compare tokens/s for
speed, MFU for how well each uses the device. With more than one visible device, --ddp also runs
ours (eager) under DistributedDataParallel on 1 and on all devices and prints the scaling efficiency.

    python benchmarks/gpu.py                    # L12 H768 A12, vocab 250002, seq 512, batch 16
    python benchmarks/gpu.py --batch 32 --hf-compile --ddp
Budget: about 3-5 minutes on one H100-class device (compilation is most of it).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step_throughput import build_hf, build_ours, make_batches  # noqa: E402

HF_NAME = "HF XLMRobertaForMaskedLM (sdpa)"
# Dense bf16 tensor-core peak per device, TFLOP/s (vendor data sheets; SXM parts where both exist).
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100": 989.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=250002)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per variant (compilation happens here)")
    p.add_argument("--peak-tflops", type=float, help="the device's peak dense bf16 TFLOP/s (default: looked up by name)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant of ours")
    p.add_argument("--hf-compile", action="store_true", help="also run HF under torch.compile")
    p.add_argument("--no-hf", action="store_true", help="skip transformers' model")
    p.add_argument("--ddp", action="store_true", help="with >1 visible device: DDP scaling of ours (eager)")
    p.add_argument("--device", default="cuda", help="cuda; cpu only exercises the code path (fp32, for tests)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.hidden % args.heads:
        p.error(f"--hidden {args.hidden} is not divisible by --heads {args.heads}")
    return args


def train_flops_per_token(layers: int, hidden: int, vocab: int, seq: int, head_fraction: float) -> float:
    """Model FLOPs of one training step per input token: 3x the forward (forward + backward).

    Forward per token and layer: QKV and output projections 4*H*H multiply-adds, FFN 2*H*4H, so
    2 * 12 * H^2 FLOPs; attention scores and the weighted sum 2 * 2 * seq * H. The LM head (dense
    H*H and the tied decoder H*V) runs on `head_fraction` of the positions: ~0.15 for ours, 1 for HF.
    Embedding lookups, LayerNorm, softmax and GELU are left out, as is usual for MFU.
    """
    body = layers * (24 * hidden * hidden + 4 * seq * hidden)
    head = head_fraction * (2 * hidden * hidden + 2 * hidden * vocab)
    return 3.0 * (body + head)


def peak_tflops(device_name: str, override: float | None) -> float | None:
    if override:
        return override
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key in device_name:
            return PEAK_BF16_TFLOPS[key]
    return None


def make_optimizer(model: torch.nn.Module, fused: bool) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=1e-4, betas=(0.9, 0.98), eps=1e-6, fused=fused)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def ours_loss(model, input_ids, labels) -> torch.Tensor:
    return model(input_ids, labels=labels)[1]


def hf_loss(model, input_ids, labels) -> torch.Tensor:
    return model(input_ids=input_ids, labels=labels).loss


def time_variant(model, loss_fn, batches, args, device) -> dict:
    """Median step time, last loss and peak memory of `model` trained on `batches`, forward under autocast."""
    opt = make_optimizer(model, fused=device.type == "cuda")
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(args.warmup + args.steps):
        input_ids, labels = batches[step % len(batches)]
        synchronize(device)
        started = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = loss_fn(model, input_ids, labels)
        loss.backward()
        opt.step()
        synchronize(device)
        if step >= args.warmup:
            times.append(time.perf_counter() - started)
    loss = loss.item()
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return {"step_s": statistics.median(times), "loss": loss, "peak_bytes": peak}


def variants(args) -> list[tuple[str, callable, callable, float]]:
    """(name, build model, loss function, LM-head fraction) for each variant asked for."""
    out = [("ours eager", lambda: build_ours(args), ours_loss, 0.15)]
    if not args.no_compile:
        out.append(("ours torch.compile", lambda: torch.compile(build_ours(args)), ours_loss, 0.15))
    if not args.no_hf:
        out.append((HF_NAME, lambda: build_hf(args)[0], hf_loss, 1.0))
        if args.hf_compile:
            out.append(("HF torch.compile", lambda: torch.compile(build_hf(args)[0]), hf_loss, 1.0))
    return out


def run_single_device(args, device: torch.device) -> list[dict]:
    batches = [(x.to(device), y.to(device)) for x, y in make_batches(4, args.batch, args.seq, args.vocab, args.seed)]
    tokens = args.batch * args.seq
    peak = peak_tflops(torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", args.peak_tflops)
    rows = []
    for name, build, loss_fn, head_fraction in variants(args):
        torch.manual_seed(args.seed)
        model = build().to(device).train()
        started = time.perf_counter()
        result = time_variant(model, loss_fn, batches, args, device)
        flops = train_flops_per_token(args.layers, args.hidden, args.vocab, args.seq, head_fraction)
        tokens_per_s = tokens / result["step_s"]
        rows.append({
            "variant": name,
            "tokens_per_s": tokens_per_s,
            "step_ms": result["step_s"] * 1000,
            "tflops": flops * tokens_per_s / 1e12,
            "mfu": flops * tokens_per_s / (peak * 1e12) if peak else None,
            "peak_gib": result["peak_bytes"] / 2**30,
            "loss": result["loss"],
            "wall_s": time.perf_counter() - started,
        })
        print(format_row(rows[-1]), flush=True)
        del model
    return rows


def format_row(row: dict) -> str:
    mfu = f"{100 * row['mfu']:5.1f}%" if row["mfu"] is not None else "    ?"
    return (f"{row['variant']:34s} {row['tokens_per_s']:10.0f} tok/s {row['step_ms']:8.1f} ms/step "
            f"{row['tflops']:7.1f} TFLOP/s  MFU {mfu}  peak {row['peak_gib']:6.2f} GiB  loss {row['loss']:.3f}  "
            f"({row['wall_s']:.0f} s incl. warm-up)")


def ddp_worker(rank: int, world_size: int, args, results) -> None:
    import torch.distributed as dist

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517")
    dist.init_process_group("nccl", rank=rank, world_size=world_size)
    device = torch.device("cuda", rank)
    torch.cuda.set_device(device)
    batches = [(x.to(device), y.to(device))
               for x, y in make_batches(4, args.batch, args.seq, args.vocab, args.seed + rank)]
    torch.manual_seed(args.seed)
    model = torch.nn.parallel.DistributedDataParallel(build_ours(args).to(device).train(), device_ids=[rank])
    result = time_variant(model, ours_loss, batches, args, device)
    if rank == 0:
        results[world_size] = world_size * args.batch * args.seq / result["step_s"]
    dist.destroy_process_group()


def run_ddp_scaling(args) -> None:
    import torch.multiprocessing as mp

    n = torch.cuda.device_count()
    results = mp.Manager().dict()
    for world_size in (1, n):
        mp.spawn(ddp_worker, args=(world_size, args, results), nprocs=world_size, join=True)
    efficiency = results[n] / (n * results[1])
    print(f"DDP, ours eager: 1 device {results[1]:.0f} tok/s, {n} devices {results[n]:.0f} tok/s, "
          f"scaling efficiency {100 * efficiency:.1f}% (per-device batch {args.batch} x {args.seq})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no CUDA device is visible, nothing to measure (run it on a GPU machine)")
        return 0
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        name = torch.cuda.get_device_name(device)
        peak = peak_tflops(name, args.peak_tflops)
        print(f"device: {name} x{torch.cuda.device_count()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
              f"peak dense bf16 {peak or '?'} TFLOP/s" + ("" if peak else " (unknown device: pass --peak-tflops)"))
    print(f"shape: L{args.layers} H{args.hidden} A{args.heads} vocab {args.vocab}, seq {args.seq}, batch {args.batch} "
          f"({args.batch * args.seq} tokens/step); {args.warmup} warm-up + {args.steps} timed steps per variant; "
          f"{'bf16-mixed, fused AdamW' if device.type == 'cuda' else 'fp32 (CPU code-path check)'}")
    for head_fraction, who in ((0.15, "ours"), (1.0, "HF")):
        flops = train_flops_per_token(args.layers, args.hidden, args.vocab, args.seq, head_fraction)
        print(f"model FLOPs per token, training ({who}, LM head on {head_fraction:.0%} of positions): {flops / 1e9:.3f} GFLOP")
    rows = run_single_device(args, device)
    by_name = {row["variant"]: row for row in rows}
    hf = by_name.get(HF_NAME)
    if hf:
        for row in rows:
            if row is not hf:
                print(f"{row['variant']} / HF (sdpa), tokens/s: {row['tokens_per_s'] / hf['tokens_per_s']:.2f}x")
    if args.ddp:
        if device.type == "cuda" and torch.cuda.device_count() > 1:
            run_ddp_scaling(args)
        else:
            print("DDP scaling: one device visible, skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

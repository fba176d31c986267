"""Training-step throughput: our XLMRForMaskedLM vs transformers.XLMRobertaForMaskedLM.

Both models get the same shape, the same batches (masked with xlmr_lit.masking.mask_tokens),
fp32, dropout on (train mode) and AdamW with the same settings. Ours computes the LM head and
the loss only at the ~15% target positions; HF computes full-vocabulary logits for every
position and its standard `labels=` cross-entropy. The two models alternate step by step in one
process, warm-up steps are excluded, and the median step time of each is reported.

    python benchmarks/train_step_throughput.py                 # L4 H256 A4, vocab 250002, seq 128, batch 8
    python benchmarks/train_step_throughput.py --shape base    # L12 H768 A12, vocab 250002, seq 128, batch 4
"""

import argparse
import os
import statistics
import time

import numpy as np
import torch

from xlmr_lit.masking import mask_tokens
from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM
from xlmr_lit.tokenizer import BOS_ID, EOS_ID
from common import cpu_model  # benchmarks/common.py

SHAPES = {
    # name: (layers, hidden, heads, batch, steps, warmup)
    "small": (4, 256, 4, 8, 10, 2),
    "base": (12, 768, 12, 4, 3, 1),
}


def make_batches(n: int, batch: int, seq: int, vocab: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """n batches of random ids <s> ... </s>, masked with our masking function (mask id = vocab - 1)."""
    rng = np.random.default_rng(seed)
    mask_id = vocab - 1
    out = []
    for _ in range(n):
        ids, labels = [], []
        for _ in range(batch):
            tokens = rng.integers(4, mask_id, seq, dtype=np.int64).astype(np.int32)
            tokens[0], tokens[-1] = BOS_ID, EOS_ID
            x, y = mask_tokens(tokens, rng, mask_id)
            ids.append(x)
            labels.append(y)
        out.append((torch.from_numpy(np.stack(ids)), torch.from_numpy(np.stack(labels))))
    return out


def build_ours(args) -> torch.nn.Module:
    config = XLMRConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
    )
    return XLMRForMaskedLM(config)


def build_hf(args) -> tuple[torch.nn.Module, str]:
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    config = XLMRobertaConfig(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    try:
        model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="sdpa")
    except (ValueError, ImportError):
        model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="eager")
    return model, model.config._attn_implementation


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=5e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)


def ours_step(model, opt, input_ids, labels) -> float:
    opt.zero_grad(set_to_none=True)
    _, loss = model(input_ids, labels=labels)
    loss.backward()
    opt.step()
    return loss.item()


def hf_step(model, opt, input_ids, labels) -> float:
    opt.zero_grad(set_to_none=True)
    loss = model(input_ids=input_ids, labels=labels).loss
    loss.backward()
    opt.step()
    return loss.item()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="small")
    p.add_argument("--vocab", type=int, default=250002)
    p.add_argument("--layers", type=int, help="override the shape's layer count")
    p.add_argument("--hidden", type=int, help="override the shape's hidden size")
    p.add_argument("--heads", type=int, help="override the shape's head count")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--batch", type=int, help="override the shape's batch size")
    p.add_argument("--steps", type=int, help="timed steps per model (override the shape's)")
    p.add_argument("--warmup", type=int, help="untimed warm-up steps per model (override the shape's)")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads (default: cores)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    layers, hidden, heads, batch, steps, warmup = SHAPES[args.shape]
    args.layers = args.layers or layers
    args.hidden = args.hidden or hidden
    args.heads = args.heads or heads
    args.batch = args.batch or batch
    args.steps = args.steps or steps
    args.warmup = warmup if args.warmup is None else args.warmup

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    ours = build_ours(args).train()
    hf, attn_impl = build_hf(args)
    hf.train()
    models = {
        "ours (head on targets)": (ours, make_optimizer(ours), ours_step),
        f"HF XLMRobertaForMaskedLM ({attn_impl})": (hf, make_optimizer(hf), hf_step),
    }
    n_params = sum(p.numel() for p in ours.parameters())
    n_params_hf = sum(p.numel() for p in hf.parameters())
    batches = make_batches(4, args.batch, args.seq, args.vocab, args.seed)
    targets = [int(y.ne(-100).sum()) for _, y in batches]
    tokens = args.batch * args.seq

    print(f"machine: {cpu_model()}, {args.threads} torch threads, torch {torch.__version__}, fp32, CPU")
    print(
        f"shape: {args.shape} L{args.layers} H{args.hidden} A{args.heads} FFN{4 * args.hidden} vocab {args.vocab}, "
        f"seq {args.seq}, batch {args.batch} ({tokens} tokens/step, ~{statistics.mean(targets):.0f} targets/step)"
    )
    print(f"params: ours {n_params / 1e6:.1f}M, HF {n_params_hf / 1e6:.1f}M; AdamW lr 5e-4 (0.9, 0.98) eps 1e-6 wd 0.01")
    print(f"steps: {args.warmup} warm-up + {args.steps} timed per model, alternating ours/HF")
    print("load average (1, 5, 15 min) before: %.2f %.2f %.2f" % os.getloadavg())

    times: dict[str, list[float]] = {name: [] for name in models}
    losses: dict[str, list[float]] = {name: [] for name in models}
    for step in range(args.warmup + args.steps):
        input_ids, labels = batches[step % len(batches)]
        for name, (model, opt, fn) in models.items():
            started = time.perf_counter()
            loss = fn(model, opt, input_ids, labels)
            elapsed = time.perf_counter() - started
            if step >= args.warmup:
                times[name].append(elapsed)
                losses[name].append(loss)
            print(f"  step {step:3d} {name:40s} {elapsed * 1000:9.1f} ms  loss {loss:.3f}" + (" (warm-up)" if step < args.warmup else ""), flush=True)

    print("load average (1, 5, 15 min) after: %.2f %.2f %.2f" % os.getloadavg())
    print()
    print(f"{'model':42s} {'median step ms':>15s} {'min ms':>9s} {'max ms':>9s} {'tokens/s':>10s}")
    medians = {}
    for name in models:
        med = statistics.median(times[name])
        medians[name] = med
        print(f"{name:42s} {med * 1000:15.1f} {min(times[name]) * 1000:9.1f} {max(times[name]) * 1000:9.1f} {tokens / med:10.0f}")
    ours_name, hf_name = list(models)
    ratio = medians[hf_name] / medians[ours_name]
    print(f"ratio of the fastest steps (less sensitive to other load on the machine): {min(times[hf_name]) / min(times[ours_name]):.2f}x")
    print()
    print(f"ratio ours/HF (tokens/s): {ratio:.2f}x")


if __name__ == "__main__":
    main()

"""The CPU-facing parts of benchmarks/gpu.py: arguments, FLOP counting, the CPU exit and the timing loop."""

import runpy
from pathlib import Path

import pytest
import torch

gpu = runpy.run_path(str(Path(__file__).parents[1] / "benchmarks" / "gpu.py"), run_name="gpu_benchmark")

TINY = ["--layers", "2", "--hidden", "16", "--heads", "2", "--vocab", "50", "--seq", "8", "--batch", "2"]


def test_defaults_are_xlmr_base_shape():
    args = gpu["parse_args"]([])
    assert (args.layers, args.hidden, args.heads, args.vocab, args.seq) == (12, 768, 12, 250002, 512)
    with pytest.raises(SystemExit):
        gpu["parse_args"](["--hidden", "100", "--heads", "12"])


def test_flops_per_token_match_a_hand_count():
    # L2 H4 V10 seq 8, head on half the positions: per layer 24*16 + 4*8*4 = 512, head 0.5*(2*16 + 2*4*10) = 56
    assert gpu["train_flops_per_token"](2, 4, 10, 8, 0.5) == 3 * (2 * 512 + 56)


def test_flops_count_every_weight_matrix_of_the_encoder_twice():
    from xlmr_lit.model import XLMRConfig, XLMRForMaskedLM

    layers, hidden = 3, 32
    model = XLMRForMaskedLM(XLMRConfig(vocab_size=100, hidden_size=hidden, num_hidden_layers=layers,
                                       num_attention_heads=2, intermediate_size=4 * hidden))
    matrices = sum(p.numel() for n, p in model.roberta.encoder.named_parameters() if p.dim() == 2)
    no_attention_no_head = gpu["train_flops_per_token"](layers, hidden, 100, 0, 0.0)
    assert no_attention_no_head == 3 * 2 * matrices


def test_peak_lookup_prefers_the_longest_name():
    assert gpu["peak_tflops"]("NVIDIA H200", None) == 989.0
    assert gpu["peak_tflops"]("NVIDIA A10G", None) == 70.0
    assert gpu["peak_tflops"]("Mystery GPU", None) is None
    assert gpu["peak_tflops"]("Mystery GPU", 100.0) == 100.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only exit")
def test_exits_cleanly_without_a_gpu(capsys):
    assert gpu["main"]([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "no CUDA device" in out[0]


def test_timing_loop_runs_ours_and_hf_on_cpu(capsys):
    pytest.importorskip("transformers")
    args = gpu["parse_args"]([*TINY, "--device", "cpu", "--no-compile", "--steps", "2", "--warmup", "1"])
    rows = gpu["run_single_device"](args, torch.device("cpu"))
    assert [r["variant"] for r in rows] == ["ours eager", gpu["HF_NAME"]]
    for row in rows:
        assert row["tokens_per_s"] > 0 and row["tflops"] > 0 and torch.isfinite(torch.tensor(row["loss"]))
    assert "tok/s" in capsys.readouterr().out

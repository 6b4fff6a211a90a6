"""PyTorch peer for Stdit3Bench's xl32/xl24 shapes: one STDiT3 spatial + temporal block pair at XL width.

Written for jsora from the implementation spec (SPEC.md 5.3), not taken from Open-Sora: the same layers, shapes and
FLOPs as the block pair Stdit3Bench times (the embedders and the final layer, under 1 % of the FLOPs, are left out
and their FLOPs not counted). Attention is the explicit softmax(q·kᵀ)·v that Open-Sora runs without flash attention.
Run with Debian's PyTorch on OpenBLAS (`apt-get install python3-torch libopenblas0-pthread`; without the second
package Debian's torch multiplies with the reference BLAS, at about 2 GFLOP/s):

    /usr/bin/python3 benchmarks/peer/stdit3_pair_torch.py --shape xl32 --threads 2 --rounds 3

It alternates float32 and bfloat16 (model.to(torch.bfloat16), as Open-Sora's inference default) round by round and
prints, per precision, the best and median wall time of one forward, GFLOP/s, and the same-run ceiling of that
precision: a [N, 1152]·[1152, 4608] product (the MLP's first product) in the same dtype.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

C, HEADS, HD, MLP, CAP, VALID = 1152, 16, 72, 4608, 4096, 20


def rms(x, w):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(x.dtype) * w


def rope(x, cos, sin):
    # interleaved pairs (x0, x1) -> (x0 cos - x1 sin, x1 cos + x0 sin); x [..., T, hd]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2)


class Block(torch.nn.Module):
    def __init__(self, temporal):
        super().__init__()
        self.temporal = temporal
        self.table = torch.nn.Parameter(torch.randn(6, C) / C ** 0.5)
        self.qkv = torch.nn.Linear(C, 3 * C)
        self.q_norm = torch.nn.Parameter(torch.ones(HD))
        self.k_norm = torch.nn.Parameter(torch.ones(HD))
        self.proj = torch.nn.Linear(C, C)
        self.q_linear = torch.nn.Linear(C, C)
        self.kv_linear = torch.nn.Linear(C, 2 * C)
        self.cproj = torch.nn.Linear(C, C)
        self.fc1 = torch.nn.Linear(C, MLP)
        self.fc2 = torch.nn.Linear(MLP, C)

    def attend(self, q, k, v):
        p = torch.softmax((q @ k.transpose(-1, -2)) * (HD ** -0.5), dim=-1)
        return p @ v

    def forward(self, x, tmod, y, b, t, s, cos, sin):
        # x [B, T*S, C]; tmod [B, 6, C]; y [1, B*L, C]
        mod = self.table[None] + tmod
        sh_msa, sc_msa, g_msa, sh_mlp, sc_mlp, g_mlp = [m[:, None] for m in mod.unbind(1)]
        xm = F.layer_norm(x, (C,), eps=1e-6) * (1 + sc_msa) + sh_msa
        if self.temporal:
            seq = xm.view(b, t, s, C).transpose(1, 2).reshape(b * s, t, C)
        else:
            seq = xm.view(b * t, s, C)
        qkv = self.qkv(seq).view(seq.shape[0], seq.shape[1], 3, HEADS, HD).permute(2, 0, 3, 1, 4)
        q, k, v = rms(qkv[0], self.q_norm), rms(qkv[1], self.k_norm), qkv[2]
        if self.temporal:
            q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = self.attend(q, k, v).transpose(1, 2).reshape(seq.shape[0], seq.shape[1], C)
        a = self.proj(a)
        if self.temporal:
            a = a.view(b, s, t, C).transpose(1, 2).reshape(b, t * s, C)
        else:
            a = a.view(b, t * s, C)
        x = x + g_msa * a
        # cross-attention, per sample (each sample attends to its own VALID caption tokens)
        q = self.q_linear(x).view(b, t * s, HEADS, HD).transpose(1, 2)
        kv = self.kv_linear(y).view(b, -1, 2, HEADS, HD).permute(2, 0, 3, 1, 4)
        c = self.attend(q, kv[0], kv[1]).transpose(1, 2).reshape(b, t * s, C)
        x = x + self.cproj(c)
        xm = F.layer_norm(x, (C,), eps=1e-6) * (1 + sc_mlp) + sh_mlp
        return x + g_mlp * self.fc2(F.gelu(self.fc1(xm), approximate="tanh"))


def pair_flops(b, t, s):
    n = b * t * s
    sigma = b * VALID
    block = 2 * n * C * 6 * C + 2 * n * C * 2 * MLP + 2 * sigma * C * 2 * C + 4 * t * s * sigma * C
    return 2 * block + 4 * n * s * C + 4 * n * t * C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="xl32", choices=["xl32", "xl24"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    b, t, hw = 2, 20, (16 if args.shape == "xl32" else 12)
    s = hw * hw
    flops = pair_flops(b, t, s)
    models = {"fp32": torch.nn.ModuleList([Block(False), Block(True)]).eval()}
    models["bf16"] = torch.nn.ModuleList([Block(False), Block(True)]).eval().to(torch.bfloat16)
    models["bf16"].load_state_dict({k: v.to(torch.bfloat16) for k, v in models["fp32"].state_dict().items()})
    freqs = 10000 ** (-torch.arange(0, HD, 2).float() / HD)
    ang = torch.arange(t).float()[:, None] * freqs[None]
    inputs = {}
    for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        g = torch.Generator().manual_seed(1)
        inputs[name] = (torch.randn(b, t * s, C, generator=g).to(dt), torch.randn(b, 6, C, generator=g).to(dt),
                        torch.randn(1, b * VALID, C, generator=g).to(dt), ang.cos().to(dt), ang.sin().to(dt),
                        torch.randn(b * t * s, C, generator=g).to(dt), torch.randn(MLP, C, generator=g).to(dt))
    times = {k: [] for k in models}
    ceil = {k: [] for k in models}
    print(f"{args.shape}: block pair {flops / 1e9:.1f} GFLOP per forward, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    with torch.inference_mode():
        for name in models:  # warm-up
            x, tm, y, cos, sin, a, w = inputs[name]
            models[name][1](models[name][0](x, tm, y, b, t, s, cos, sin), tm, y, b, t, s, cos, sin)
        for r in range(args.rounds):
            for name in (("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32")):
                x, tm, y, cos, sin, a, w = inputs[name]
                t0 = time.perf_counter()
                models[name][1](models[name][0](x, tm, y, b, t, s, cos, sin), tm, y, b, t, s, cos, sin)
                times[name].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                a @ w.T
                ceil[name].append(2.0 * a.shape[0] * C * MLP / (time.perf_counter() - t0) / 1e9)
                gf = flops / times[name][-1] / 1e9
                print(f"round {r} {name}: {times[name][-1]:.2f} s = {gf:.1f} GFLOP/s, ceiling product "
                      f"{ceil[name][-1]:.1f} GFLOP/s, ratio {gf / ceil[name][-1]:.2f}")
    for name in models:
        best = min(times[name])
        print(f"{name}: best {best:.2f} s, median {statistics.median(times[name]):.2f} s, "
              f"{flops / best / 1e9:.1f} GFLOP/s, best ceiling {max(ceil[name]):.1f} GFLOP/s")


if __name__ == "__main__":
    main()

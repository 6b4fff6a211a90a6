package io.github.jsora.dit;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;

/**
 * The STDiT3 blocks and the final layer, on the residual stream w.x [B, Tp, S, C] of a {@link Workspace}.
 *
 * <p>Shapes: B samples, Tp frames, S = Hp·Wp patches a frame, C hidden, heads × hd = C; Tq attended frames (Tp, or
 * ⌈Tp/2⌉ while TDTM merges frame pairs); rows = B·Tq·S tokens the attentions run on, allRows = B·Tp·S. The workspace
 * buffer {@code wide} [allRows, max(3C, mlp, C, pv·out)] is viewed under a different shape by each product; every view
 * is commented with the shape it has there.
 */
final class BlockRunner {

    private final Stdit3Config cfg;
    private final StageTimer timer;
    private boolean fast; // bf16 compute: the block holds packed product weights; fast kernels

    BlockRunner(Stdit3Config cfg, StageTimer timer) {
        this.cfg = cfg;
        this.timer = timer;
    }

    /**
     * One STDiT3 block on w.x [B, Tp·S, C] in place: modulated self-attention (per frame for spatial blocks, per
     * patch over time with rotary positions for temporal blocks), cross-attention to the sample's caption tokens,
     * modulated MLP; attentions on {@code tq} (merged) frames.
     *
     * @param p    tensor-name prefix of the block, e.g. {@code spatial_blocks.3.}
     * @param rope {cos, sin} rotary tables of tq frames, or null for a spatial block
     */
    void block(Block wts, String p, boolean temporal, InputGeometry g, Workspace w, int tq, float[][] rope) {
        int b = g.b;
        int t = g.tp;
        int s = g.s;
        int c = cfg.hiddenSize();
        boolean merge = tq != t;
        int rows = b * tq * s;
        int allRows = Math.toIntExact(w.tokens);
        fast = wts.packed(p + "attn.qkv.weight") != null;

        modulationRows(wts, p, b, w);

        selfAttention(wts, p, temporal, g, w, tq, rope);
        crossAttention(wts, p, g, w, tq);

        // ---- MLP on all frames, on xm [allRows, C] = the MLP-modulated LN(x) crossAttention wrote
        int mlp = cfg.mlpHidden();
        Tensor mlpOut = w.ao.view(0, allRows, c);                             // [allRows, C]
        PackedWeight fc1 = wts.packed(p + "mlp.fc1.weight");
        PackedWeight fc2 = wts.packed(p + "mlp.fc2.weight");
        if (fc1 != null && fc2 != null && Bf16Gemm.nativeFor(allRows, fc1) && Bf16Gemm.nativeFor(allRows, fc2)) {
            Bf16Matrix out = bf16Mlp(fc1, fc2, wts.get(p + "mlp.fc1.bias"), w, allRows, mlpOut);
            Kernels.gatedResidual(w.x, mlpOut, out, Linear.read(wts.get(p + "mlp.fc2.bias"), w.bias), b, t, t, s, c,
                    w.mod, w.frameRow, Modulation.GATE_MLP);                  // x [B, Tp·S, C] += gate·(out + bias)
        } else {
            Tensor hidden = w.wide.view(0, allRows, mlp);                     // [allRows, mlp]
            Linear.product(w.xm, wts, p + "mlp.fc1.weight", hidden, w, timer);
            Kernels.biasGelu(hidden, Linear.read(wts.get(p + "mlp.fc1.bias"), w.bias), mlp);
            timer.lap("gelu");
            Linear.product(hidden, wts, p + "mlp.fc2.weight", mlpOut, w, timer);
            Kernels.gatedResidual(w.x, mlpOut, Linear.read(wts.get(p + "mlp.fc2.bias"), w.bias), b, t, t, s, c,
                    w.mod, w.frameRow, Modulation.GATE_MLP);                  // x [B, Tp·S, C] += gate·(out + bias)
        }
        timer.lap("residual");
    }

    /**
     * The MLP's two products natively in bf16 with the hidden layer kept in bf16 between them:
     * fc2(GELU(fc1(xm) + bias1)) [allRows, C] without fc2's bias, written in float32 into {@code mlpOut} where native
     * products write float32 (then null is returned), else returned in bf16 (in the workspace's bf16 scratch, valid
     * until the next bf16 product). Where {@link Bf16Gemm#fusesBiasGelu(int, PackedWeight)}, fc1's product applies
     * the bias and the GELU to its float32 sums and rounds once (no pass over the hidden layer in Java). Elsewhere
     * the values are those of the two products by {@link Bf16Gemm#linear} with the float32 GELU between them (that
     * route widens fc1's bf16 result, and rounds the GELU output back to bf16 for fc2), in one pass over the hidden
     * layer instead of three.
     */
    private Bf16Matrix bf16Mlp(PackedWeight fc1, PackedWeight fc2, Tensor bias1, Workspace w, int allRows,
            Tensor mlpOut) {
        int c = cfg.hiddenSize();
        int mlp = cfg.mlpHidden();
        long inFloats = Bf16Matrix.floats(allRows, c);
        Tensor mem = w.bf16Scratch(inFloats + Bf16Matrix.floats(allRows, mlp));
        Bf16Matrix in = Bf16Matrix.in(mem, 0, allRows, c);                     // bf16 [allRows, C]
        Bf16Matrix hidden = Bf16Matrix.in(mem, inFloats, allRows, mlp);       // bf16 [allRows, mlp]
        in.roundFrom(w.xm);
        if (Bf16Gemm.fusesBiasGelu(allRows, fc1)) {
            Bf16Gemm.productBiasGelu(in, fc1, bias1, hidden);
            timer.lap("gemm");
        } else {
            Bf16Gemm.product(in, fc1, hidden);
            timer.lap("gemm");
            Kernels.biasGelu(hidden, Linear.read(bias1, w.bias));
            timer.lap("gelu");
        }
        if (Bf16Gemm.nativeWritesFloat32()) {
            Bf16Gemm.product(hidden, fc2, mlpOut);                             // float32 [allRows, C]
            timer.lap("gemm");
            return null;
        }
        Bf16Matrix out = Bf16Matrix.in(mem, 0, allRows, c);                    // bf16 [allRows, C], over `in`
        Bf16Gemm.product(hidden, fc2, out);
        timer.lap("gemm");
        return out;
    }

    /** Modulation rows w.mod[r][k] [C]: scale_shift_table [6, C] + t_block [2B, 6C] (t rows, then t0 rows). */
    private void modulationRows(Block wts, String p, int b, Workspace w) {
        int c = cfg.hiddenSize();
        int c6 = Modulation.SLOTS * c;
        wts.get(p + "scale_shift_table").read(0, w.table, 0, c6);
        for (int r = 0; r < 2 * b; r++) {
            for (int k = 0; k < Modulation.SLOTS; k++) {
                float[] dst = w.mod[r][k];
                float one = Modulation.isScale(k) ? 1f : 0f;
                for (int i = 0; i < c; i++) {
                    float v = w.table[k * c + i] + w.tMlpHeap[r * c6 + k * c + i];
                    dst[i] = one == 0f ? v : one + v;
                }
            }
        }
    }

    /**
     * The self-attention input of a block, LN(x)·(1 + scale_msa) + shift_msa, into w.xm [B·Tp·S, C] (the step
     * cache's signal); w.x is not changed.
     */
    void modulatedInput(Block wts, String p, InputGeometry g, Workspace w) {
        fast = wts.packed(p + "attn.qkv.weight") != null;
        modulationRows(wts, p, g.b, w);
        ComputeKernels.modulatedLayerNorm(fast, w.x, w.xm, g.b * g.tp, g.s, cfg.hiddenSize(), w.mod, w.frameRow,
                Modulation.SHIFT_MSA, Modulation.SCALE_MSA, null);
        timer.lap("modulate");
    }

    /** Modulated self-attention with its gated residual, on tq (merged) frames. */
    private void selfAttention(Block wts, String p, boolean temporal, InputGeometry g, Workspace w, int tq,
            float[][] rope) {
        int b = g.b;
        int t = g.tp;
        int s = g.s;
        int c = cfg.hiddenSize();
        int heads = cfg.numHeads();
        int hd = cfg.headDim();
        int rows = b * tq * s;
        float scale = (float) (1.0 / Math.sqrt(hd));

        ComputeKernels.modulatedLayerNorm(fast, w.x, w.xm, b * t, s, c, w.mod, w.frameRow, Modulation.SHIFT_MSA,
                Modulation.SCALE_MSA, null);                                  // xm [B·Tp·S, C]
        timer.lap("modulate");
        Tensor src = w.xm;
        if (tq != t) {
            Kernels.mergeFramePairs(w.xm, w.merged(), b, t, (long) s * c);    // merged [B·Tq·S, C]
            timer.lap("merge");
            src = w.merged();
        }
        Tensor qkv = w.wide.view(0, rows, 3 * c);                             // [rows, 3C]
        Tensor srcRows = src.view(0, rows, c);                                // [rows, C]
        Bf16Matrix qkvBf16 = Linear.productBf16(srcRows, wts, p + "attn.qkv.weight", w, timer); // or null
        if (qkvBf16 == null) {
            Linear.product(srcRows, wts, p + "attn.qkv.weight", qkv, w, timer);
        }
        Kernels.Sequences seqs = temporal ? Kernels.Sequences.temporal(b, tq, s) : Kernels.Sequences.spatial(b, tq, s);
        float[][] norms = null;
        if (cfg.qkNorm()) {
            wts.get(p + "attn.q_norm.weight").read(0, w.qNorm, 0, hd);        // [hd]
            wts.get(p + "attn.k_norm.weight").read(0, w.kNorm, 0, hd);        // [hd]
            norms = new float[][] {w.qNorm, w.kNorm};
        }
        // q, k, v heads read in place from the qkv rows: spatial seqs = B·Tq of len S, temporal seqs = B·S of len Tq
        Kernels.prepareHeads(qkv, qkvBf16, Linear.read(wts.get(p + "attn.qkv.bias"), w.bias), seqs, 3, heads, hd,
                norms, rope == null ? null : rope[0], rope == null ? null : rope[1], scale);
        timer.lap("split-heads");
        int len = seqs.len();
        Tensor heads2d = w.xm.view(0, rows, c);                               // [rows, C] token-major
        Attention.sdpa(heads(qkv, seqs, 3 * c, 0), heads(qkv, seqs, 3 * c, c), heads(qkv, seqs, 3 * c, 2 * c), len,
                len, hd, hd, 1f, w.scores, heads(heads2d, seqs, c, 0), ComputeKernels.softmax(fast),
                ComputeKernels.schedule(fast));
        timer.lap(temporal ? "attention-temporal" : "attention-spatial");
        Tensor proj = w.wide.view(0, rows, c);                                // [rows, C]
        Bf16Matrix projBf16 = Linear.productBf16(heads2d, wts, p + "attn.proj.weight", w, timer);
        if (projBf16 == null) {
            Linear.product(heads2d, wts, p + "attn.proj.weight", proj, w, timer);
        }
        Kernels.gatedResidual(w.x, proj, projBf16, Linear.read(wts.get(p + "attn.proj.bias"), w.bias), b, t, tq, s,
                c, w.mod, w.frameRow, Modulation.GATE_MSA);                   // x [B, Tp·S, C] += gate·unmerge(proj)
        timer.lap("residual");
    }

    /**
     * Cross-attention: the queries of sample i attend to the i-th caption's valid tokens; ungated residual, fused
     * with the MLP's modulated LayerNorm of the new x into w.xm [B·Tp·S, C].
     */
    private void crossAttention(Block wts, String p, InputGeometry g, Workspace w, int tq) {
        int b = g.b;
        int t = g.tp;
        int s = g.s;
        int c = cfg.hiddenSize();
        int heads = cfg.numHeads();
        int hd = cfg.headDim();
        int rows = b * tq * s;
        float scale = (float) (1.0 / Math.sqrt(hd));

        Tensor qsrc = w.x;
        if (tq != t) {
            Kernels.mergeFramePairs(w.x, w.merged(), b, t, (long) s * c);     // merged [B·Tq·S, C]
            timer.lap("merge");
            qsrc = w.merged();
        }
        Tensor qRows = qsrc.view(0, rows, c);                                 // [rows, C]
        Tensor qLin = w.wide.view(0, rows, c);                                // [rows, C]
        Bf16Matrix qBf16 = Linear.productBf16(qRows, wts, p + "cross_attn.q_linear.weight", w, timer);
        if (qBf16 == null) {
            Linear.product(qRows, wts, p + "cross_attn.q_linear.weight", qLin, w, timer);
        }
        // q heads read in place from the token rows of qLin, k and v heads from the caption rows of kv
        Kernels.prepareHeads(qLin, qBf16, Linear.read(wts.get(p + "cross_attn.q_linear.bias"), w.bias), null, 1,
                heads, hd, null, null, null, scale);
        timer.lap("split-heads");
        int total = g.totalLen;
        Tensor yRows = w.yPacked.view(0, total, c);                           // [ΣL_b, C]
        Tensor kv = w.yKv.view(0, total, 2 * c);                              // [ΣL_b, 2C]
        Linear.product(yRows, wts, p + "cross_attn.kv_linear.weight", kv, w, timer);
        Kernels.prepareHeads(kv, Linear.read(wts.get(p + "cross_attn.kv_linear.bias"), w.bias), null, 2, heads, hd,
                null, null, null, 1f);
        timer.lap("split-heads");
        Tensor cross = w.xm.view(0, rows, c);                                 // [rows, C] token-major
        int off = 0;
        int perSample = tq * s;
        for (int i = 0; i < b; i++) {
            int li = g.lens[i];
            Kernels.Sequences qi = Kernels.Sequences.sample(1, 1, perSample); // sample i's Tq·S query rows
            Kernels.Sequences ki = Kernels.Sequences.sample(1, 1, li);        // its L_i caption rows at row off
            long qo = (long) i * perSample * c;
            long ko = (long) off * 2 * c;
            Attention.sdpa(heads(qLin, qi, c, qo), heads(kv, ki, 2 * c, ko), heads(kv, ki, 2 * c, ko + c), perSample,
                    li, hd, hd, 1f, w.scores, heads(cross, qi, c, qo), ComputeKernels.softmax(fast),
                    ComputeKernels.schedule(fast));
            timer.lap("attention-cross");
            off += li;
        }
        Tensor cproj = w.wide.view(0, rows, c);                               // [rows, C]
        Bf16Matrix cprojBf16 = Linear.productBf16(cross, wts, p + "cross_attn.proj.weight", w, timer);
        if (cprojBf16 == null) {
            Linear.product(cross, wts, p + "cross_attn.proj.weight", cproj, w, timer);
        }
        // x [B, Tp·S, C] += unmerge(cproj); then xm [allRows, C] = LN(x)·(1 + scale_mlp) + shift_mlp, the MLP input
        Kernels.gatedResidualNorm(w.x, cproj, cprojBf16, Linear.read(wts.get(p + "cross_attn.proj.bias"), w.bias), b,
                t, tq, s, c, w.mod, w.frameRow, Modulation.UNGATED, w.xm, Modulation.SHIFT_MLP, Modulation.SCALE_MLP,
                fast);
        timer.lap("residual");
    }

    /** The head matrices [len, hd] of every sequence in token rows of {@code width} floats, from column {@code start}. */
    private Attention.Strided heads(Tensor rows, Kernels.Sequences seqs, int width, long start) {
        return new Attention.Strided(rows, seqs.headOffsets(cfg.numHeads(), cfg.headDim(), width, start),
                seqs.ld(width));
    }

    /**
     * The final layer with the {@value Stdit3#FINAL} block: t-modulated LayerNorm of w.x, the linear layer to
     * [allRows, pv·out] and the unpatchify into {@code out} [B, out_channels, T, H, W] (padding cropped).
     */
    void finalLayer(Block f, InputGeometry g, Workspace w, Tensor out, Tap probe) {
        int b = g.b;
        int c = cfg.hiddenSize();
        int fc = Modulation.FINAL_SLOTS * c;
        f.get("final_layer.scale_shift_table").read(0, w.table, 0, fc);      // [2, C]
        // shift = table[0] + t, scale = table[1] + t, with the pre-t_block embedding t (rows t, then t0)
        for (int r = 0; r < 2 * b; r++) {
            for (int k = 0; k < Modulation.FINAL_SLOTS; k++) {
                for (int i = 0; i < c; i++) {
                    float v = w.table[k * c + i] + w.tSumHeap[r * c + i];
                    w.finalMod[r][k][i] = k == Modulation.FINAL_SCALE ? 1f + v : v;
                }
            }
        }
        // Conditioning frames (x_mask false) follow the reference exactly: it re-normalises the t-modulated tokens
        // and modulates them again with t0.
        Kernels.modulatedLayerNorm(w.x, w.xm, b * g.tp, g.s, c, w.finalMod, w.sampleRow, Modulation.FINAL_SHIFT,
                Modulation.FINAL_SCALE, g.xMask == null ? null : w.againRow);  // xm [allRows, C]
        int outW = cfg.patchVolume() * cfg.outChannels();
        int rows = Math.toIntExact(w.tokens);
        Tensor fo = w.wide.view(0, rows, outW);                               // [allRows, pv·out]
        timer.lap("final");
        Linear.apply(w.xm, f.get("final_layer.linear.weight"), f.get("final_layer.linear.bias"), fo, w.bias, timer);
        if (probe != null) {
            probe.capture("final_layer_out", fo.reshape(b, g.tp * g.s, outW)); // [B, Tp·S, pv·out]
        }
        unpatchify(fo, g, w, out);
    }

    /** Token rows fo [(b, t', h', w'), (pt, ph, pw, out)] → out [B, out, T, H, W], cropping the padding. */
    private void unpatchify(Tensor fo, InputGeometry g, Workspace w, Tensor out) {
        if (w.unpatchIndex == null) {
            w.unpatchIndex = PatchGrid.channelMinor(g, cfg.outChannels(), cfg);
        }
        float[] rows = w.finalRows;                                           // [allRows, pv·out]
        fo.read(0, rows, 0, rows.length);
        float[] o = w.output;                                                 // [B, out, T, H, W]
        int[] idx = w.unpatchIndex;
        for (int i = 0; i < o.length; i++) {
            o[i] = rows[idx[i]];
        }
        out.write(0, o, 0, o.length);
    }
}

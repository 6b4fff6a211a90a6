package io.github.jsora.dit;

import io.github.jsora.tensor.Attention;
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

        // ---- MLP on all frames
        ComputeKernels.modulatedLayerNorm(fast, w.x, w.xm, b * t, s, c, w.mod, w.frameRow, Modulation.SHIFT_MLP,
                Modulation.SCALE_MLP, null);                                  // xm [allRows, C]
        timer.lap("modulate");
        int mlp = cfg.mlpHidden();
        Tensor hidden = w.wide.view(0, allRows, mlp);                         // [allRows, mlp]
        Linear.product(w.xm, wts, p + "mlp.fc1.weight", hidden, w, timer);
        Kernels.biasGelu(hidden, Linear.read(wts.get(p + "mlp.fc1.bias"), w.bias), mlp);
        timer.lap("gelu");
        Tensor mlpOut = w.ao.view(0, allRows, c);                             // [allRows, C]
        Linear.product(hidden, wts, p + "mlp.fc2.weight", mlpOut, w, timer);
        Kernels.gatedResidual(w.x, mlpOut, Linear.read(wts.get(p + "mlp.fc2.bias"), w.bias), b, t, t, s, c, w.mod,
                w.frameRow, Modulation.GATE_MLP);                             // x [B, Tp·S, C] += gate·(out + bias)
        timer.lap("residual");
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
        Linear.product(srcRows, wts, p + "attn.qkv.weight", qkv, w, timer);
        Kernels.Sequences seqs = temporal ? Kernels.Sequences.temporal(b, tq, s) : Kernels.Sequences.spatial(b, tq, s);
        float[][] norms = null;
        if (cfg.qkNorm()) {
            wts.get(p + "attn.q_norm.weight").read(0, w.qNorm, 0, hd);        // [hd]
            wts.get(p + "attn.k_norm.weight").read(0, w.kNorm, 0, hd);        // [hd]
            norms = new float[][] {w.qNorm, w.kNorm};
        }
        // q, k, v head-major [seqs·heads, len, hd]: spatial seqs = B·Tq of len S, temporal seqs = B·S of len Tq
        Kernels.splitHeads(qkv, Linear.read(wts.get(p + "attn.qkv.bias"), w.bias), seqs, heads, hd,
                new Tensor[] {w.q, w.k, w.v}, norms, rope == null ? null : rope[0], rope == null ? null : rope[1],
                scale);
        timer.lap("split-heads");
        int nseq = seqs.count() * heads;
        int len = seqs.len();
        Tensor ao = w.ao.view(0, nseq, len, hd);                              // [seqs·heads, len, hd]
        Attention.sdpa(w.q.view(0, nseq, len, hd), w.k.view(0, nseq, len, hd),
                w.v.view(0, nseq, len, hd), 1f, null, null, w.scores, ao, ComputeKernels.softmax(fast));
        timer.lap(temporal ? "attention-temporal" : "attention-spatial");
        Tensor heads2d = w.xm.view(0, rows, c);                               // [rows, C] token-major again
        Kernels.mergeHeads(ao, seqs, heads, hd, heads2d);
        timer.lap("merge-heads");
        Tensor proj = w.wide.view(0, rows, c);                                // [rows, C]
        Linear.product(heads2d, wts, p + "attn.proj.weight", proj, w, timer);
        Kernels.gatedResidual(w.x, proj, Linear.read(wts.get(p + "attn.proj.bias"), w.bias), b, t, tq, s, c, w.mod,
                w.frameRow, Modulation.GATE_MSA);                             // x [B, Tp·S, C] += gate·unmerge(proj)
        timer.lap("residual");
    }

    /** Cross-attention: the queries of sample i attend to the i-th caption's valid tokens; ungated residual. */
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
        Linear.product(qRows, wts, p + "cross_attn.q_linear.weight", qLin, w, timer);
        Kernels.Sequences qs = Kernels.Sequences.sample(b, tq, s);
        // q head-major per sample [B, heads, Tq·S, hd]
        Kernels.splitHeads(qLin, Linear.read(wts.get(p + "cross_attn.q_linear.bias"), w.bias), qs, heads, hd,
                new Tensor[] {w.q}, null, null, null, scale);
        timer.lap("split-heads");
        int total = g.totalLen;
        Tensor yRows = w.yPacked.view(0, total, c);                           // [ΣL_b, C]
        Tensor kv = w.yKv.view(0, total, 2 * c);                              // [ΣL_b, 2C]
        Linear.product(yRows, wts, p + "cross_attn.kv_linear.weight", kv, w, timer);
        float[] kvBias = Linear.read(wts.get(p + "cross_attn.kv_linear.bias"), w.bias);
        int off = 0;
        for (int i = 0; i < b; i++) {
            int li = g.lens[i];
            // k, v of sample i head-major [heads, L_i, hd] at token offset off
            Kernels.splitHeads(kv.view((long) off * 2 * c, li, 2 * c), kvBias, Kernels.Sequences.sample(1, 1, li),
                    heads, hd, new Tensor[] {w.kc.view((long) off * c, li * c), w.vc.view((long) off * c, li * c)},
                    null, null, null, 1f);
            off += li;
        }
        timer.lap("split-heads");
        off = 0;
        int perSample = tq * s;
        for (int i = 0; i < b; i++) {
            int li = g.lens[i];
            long qo = (long) i * perSample * c;
            Tensor qh = w.q.view(qo, heads, perSample, hd);                   // [heads, Tq·S, hd]
            Tensor kh = w.kc.view((long) off * c, heads, li, hd);             // [heads, L_i, hd]
            Tensor vh = w.vc.view((long) off * c, heads, li, hd);             // [heads, L_i, hd]
            Tensor oh = w.ao.view(qo, heads, perSample, hd);                  // [heads, Tq·S, hd]
            Attention.sdpa(qh, kh, vh, 1f, null, null, w.scores, oh, ComputeKernels.softmax(fast));
            timer.lap("attention-cross");
            off += li;
        }
        Tensor cross = w.xm.view(0, rows, c);                                 // [rows, C] token-major
        Kernels.mergeHeads(w.ao.view(0, rows * c), qs, heads, hd, cross);
        timer.lap("merge-heads");
        Tensor cproj = w.wide.view(0, rows, c);                               // [rows, C]
        Linear.product(cross, wts, p + "cross_attn.proj.weight", cproj, w, timer);
        Kernels.gatedResidual(w.x, cproj, Linear.read(wts.get(p + "cross_attn.proj.bias"), w.bias), b, t, tq, s, c,
                w.mod, w.frameRow, Modulation.UNGATED);                       // x [B, Tp·S, C] += unmerge(cproj)
        timer.lap("residual");
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

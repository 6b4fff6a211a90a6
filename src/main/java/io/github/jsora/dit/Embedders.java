package io.github.jsora.dit;

import java.util.Arrays;

import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;

/**
 * The embedders of STDiT3, the work of the {@value Stdit3#EMBEDDERS} block: timestep and fps embedders with
 * {@code t_block} (the modulation of every block), the caption projection, the patch embedding with the 2-D position
 * embedding, and the rotary frequencies of the temporal attention.
 *
 * <p>Shapes: B samples, C hidden, Cc caption channels, L caption tokens a sample, Tp·S tokens a sample (S = Hp·Wp
 * patches a frame), pv = pt·ph·pw.
 */
final class Embedders {

    /** Width of the timestep / fps sinusoid. */
    static final int FREQ_DIM = 256;

    private final Stdit3Config cfg;
    private final StageTimer timer;

    Embedders(Stdit3Config cfg, StageTimer timer) {
        this.cfg = cfg;
        this.timer = timer;
    }

    /**
     * Runs all embedders with the {@value Stdit3#EMBEDDERS} block {@code e}: leaves the blocks' input in w.x
     * [B, Tp·S, C], the modulation rows in w.tMlpHeap [2B, 6C] (t rows, then t0 rows) and w.tSumHeap [2B, C], the
     * valid caption tokens packed in batch order in w.yPacked [ΣL_b, C], and the frame → modulation-row maps.
     *
     * @return the rotary frequencies [head_dim / 2]
     */
    float[] embed(Block e, Stdit3Input in, InputGeometry g, Workspace w, Tap probe, boolean ropeStored) {
        int b = g.b;
        int c = cfg.hiddenSize();

        // --- timestep, t0 and fps sinusoids → 2-layer MLPs: rows [t (B) | t0 (B) | fps (B)]
        float[] sinus = Kernels.scratch(2, 3 * b * FREQ_DIM);                 // [3B, 256]
        for (int i = 0; i < b; i++) {
            timestepSinusoid(in.timestep()[i], sinus, i * FREQ_DIM);
            timestepSinusoid(0f, sinus, (b + i) * FREQ_DIM);
            timestepSinusoid(g.fps[i], sinus, (2 * b + i) * FREQ_DIM);
        }
        w.freq.write(0, sinus, 0, 3 * b * FREQ_DIM);
        Tensor tRows = w.freq.slice(0, 2 * b);                                // [2B, 256] t, t0
        Tensor fRows = w.freq.slice(2 * b, 3 * b);                            // [B, 256] fps
        mlp2(e, "t_embedder", tRows, w.hidden.slice(0, 2 * b), w.emb.slice(0, 2 * b), w);
        mlp2(e, "fps_embedder", fRows, w.hidden.slice(2 * b, 3 * b), w.emb.slice(2 * b, 3 * b), w);
        Tensor fpsEmb = w.emb.slice(2 * b, 3 * b);                            // [B, C]
        Ops.add(w.emb.slice(0, b), fpsEmb, w.tSum.slice(0, b));               // [B, C] t = t_emb + fps_emb
        Ops.add(w.emb.slice(b, 2 * b), fpsEmb, w.tSum.slice(b, 2 * b));       // [B, C] t0 = t0_emb + fps_emb
        Ops.silu(w.tSum, w.tAct);                                             // [2B, C]
        timer.lap("embed");
        Linear.apply(w.tAct, e.get("t_block.1.weight"), e.get("t_block.1.bias"), w.tMlp, w.bias, timer); // [2B, 6C]
        w.tMlp.read(0, w.tMlpHeap, 0, w.tMlpHeap.length);
        w.tSum.read(0, w.tSumHeap, 0, w.tSumHeap.length);
        if (probe != null) {
            probe.capture("t_embedder_out", w.emb.slice(0, b));               // [B, C]
            probe.capture("fps_embedder_out", fpsEmb);                        // [B, C]
            probe.capture("t_block_out", w.tMlp.slice(0, b));                 // [B, 6C]
            if (g.xMask != null) {
                probe.capture("t_embedder_out_t0", w.emb.slice(b, 2 * b));    // [B, C]
                probe.capture("t_block_out_t0", w.tMlp.slice(b, 2 * b));      // [B, 6C]
            }
        }
        // frame (b, t) uses modulation row b, or its t0 row B + b when the x_mask marks it as conditioning
        for (int i = 0; i < b; i++) {
            for (int t = 0; t < g.tp; t++) {
                boolean cond = g.xMask != null && g.xMask[i * g.tp + t] == 0f;
                w.frameRow[i * g.tp + t] = cond ? b + i : i;
                w.sampleRow[i * g.tp + t] = i;
                w.againRow[i * g.tp + t] = cond ? b + i : -1;
            }
        }

        embedCaption(e, in, g, w, probe);

        // --- patch embedding (zero padding right/bottom/end) + 2-D position embedding
        patchEmbed(e, in, g, w);
        if (probe != null) {
            probe.capture("x_embedder_out", w.x);                             // [B, Tp·S, C]
        }
        float[] pos = positionEmbedding(g, w, in.height(), in.width());       // [S, C]
        Kernels.addFrameVector(w.x, pos, g.b * g.tp, (long) g.s * c);         // [B, Tp·S, C] += pos per frame
        if (probe != null) {
            try (Tensor pt = Tensor.of(pos, 1, g.s, c)) {
                probe.capture("pos_emb", pt);                                 // [1, S, C]
            }
            probe.capture("blocks_in", w.x);                                  // [B, Tp·S, C]
        }

        if (ropeStored) {
            Tensor fr = e.get(Stdit3.ROPE_FREQS);                             // [head_dim / 2]
            float[] freqs = new float[cfg.headDim() / 2];
            fr.read(0, freqs, 0, freqs.length);
            return freqs;
        }
        return defaultRopeFreqs(cfg.headDim());
    }

    /** Caption: y_proj on all tokens, then the valid ones packed in batch order into w.yPacked [ΣL_b, C]. */
    private void embedCaption(Block e, Stdit3Input in, InputGeometry g, Workspace w, Tap probe) {
        int b = g.b;
        int c = cfg.hiddenSize();
        int l = g.len;
        Tensor y2 = in.y().reshape(b * l, cfg.captionChannels());             // [B·L, Cc]
        timer.lap("embed");
        Gemm.matmul(y2, false, e.get("y_embedder.y_proj.fc1.weight"), true, w.yHidden, 1f, 0f); // [B·L, C]
        timer.lap("gemm");
        Kernels.biasGelu(w.yHidden, Linear.read(e.get("y_embedder.y_proj.fc1.bias"), w.bias), c);
        timer.lap("embed");
        Linear.apply(w.yHidden, e.get("y_embedder.y_proj.fc2.weight"), e.get("y_embedder.y_proj.fc2.bias"), w.yEmb,
                w.bias, timer);                                               // [B·L, C]
        int packed = 0;
        float[] row = Kernels.scratch(2, c);                                  // [C]
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < l; j++) {
                if (g.mask[i * l + j] != 0f) {
                    w.yEmb.read((long) (i * l + j) * c, row, 0, c);
                    w.yPacked.write((long) packed * c, row, 0, c);
                    packed++;
                }
            }
        }
        if (probe != null) {
            probe.capture("y_embedder_out", w.yEmb.reshape(b, 1, l, c));      // [B, 1, L, C]
            probe.capture("y_packed", w.yPacked.slice(0, packed).reshape(1, packed, c)); // [1, ΣL_b, C]
            float[] lens = new float[b];
            for (int i = 0; i < b; i++) {
                lens[i] = g.lens[i];
            }
            try (Tensor lt = Tensor.of(lens, b)) {
                probe.capture("y_lens", lt);                                  // [B]
            }
        }
    }

    /** Rotary frequencies θ^(−2i/d), i &lt; d/2, θ = 10000, in float32 like the reference. */
    static float[] defaultRopeFreqs(int hd) {
        float[] f = new float[hd / 2];
        for (int i = 0; i < f.length; i++) {
            float e = (float) (2 * i) / hd;
            f[i] = 1f / (float) Math.pow(10000.0, e);
        }
        return f;
    }

    /** The rotary tables {cos, sin, freqs} for {@code frames} (merged or not) frames, cached in the workspace. */
    static float[][] ropeFor(Workspace w, float[] freqs, int frames) {
        boolean merged = frames != w.tp;
        float[][] cached = merged ? w.ropeMerged : w.rope;
        if (cached == null || !Arrays.equals(cached[2], freqs)) {
            float[][] t = Kernels.ropeTables(freqs, frames);
            cached = new float[][] {t[0], t[1], freqs.clone()};
            if (merged) {
                w.ropeMerged = cached;
            } else {
                w.rope = cached;
            }
        }
        return cached;
    }

    /** [cos(t·f), sin(t·f)] over 128 frequencies f_k = exp(−ln(10⁴)·k/128), float32 steps as the reference. */
    static void timestepSinusoid(float t, float[] dst, int off) {
        int half = FREQ_DIM / 2;
        float logMax = (float) -Math.log(10000.0);
        for (int k = 0; k < half; k++) {
            float freq = (float) Math.exp(logMax * k / half);
            float arg = t * freq;
            dst[off + k] = (float) Math.cos(arg);
            dst[off + half + k] = (float) Math.sin(arg);
        }
    }

    /** Linear → SiLU → Linear of an embedder ({@code prefix.mlp.0}, {@code prefix.mlp.2}): in [N, 256] → out [N, C]. */
    private void mlp2(Block e, String prefix, Tensor in, Tensor hidden, Tensor out, Workspace w) {
        timer.lap("embed");
        Linear.apply(in, e.get(prefix + ".mlp.0.weight"), e.get(prefix + ".mlp.0.bias"), hidden, w.bias, timer);
        Ops.silu(hidden, hidden);                                             // [N, C]
        Linear.apply(hidden, e.get(prefix + ".mlp.2.weight"), e.get(prefix + ".mlp.2.bias"), out, w.bias, timer);
    }

    /** x [B, Cin, T, H, W] → patch rows [B·Tp·S, Cin·pv] → w.x [B, Tp·S, C] through {@code x_embedder.proj}. */
    private void patchEmbed(Block e, Stdit3Input in, InputGeometry g, Workspace w) {
        int width = cfg.inChannels() * cfg.patchVolume();
        if (w.patchIndex == null) {
            w.patchIndex = PatchGrid.channelMajor(g, cfg.inChannels(), cfg);
        }
        float[] x = w.input;                                                  // [B, Cin, T, H, W]
        in.x().read(0, x, 0, x.length);
        float[] rows = w.patchRows;                                           // [B·Tp·S, Cin·pv], padding zero
        Arrays.fill(rows, 0f);
        int[] idx = w.patchIndex;
        for (int i = 0; i < x.length; i++) {
            rows[idx[i]] = x[i];
        }
        w.patches.write(0, rows, 0, rows.length);
        Tensor weight = e.get("x_embedder.proj.weight").reshape(cfg.hiddenSize(), width); // [C, Cin·pv]
        Tensor x2 = w.x.reshape(Math.toIntExact(w.tokens), cfg.hiddenSize()); // [B·Tp·S, C]
        timer.lap("embed");
        Linear.apply(w.patches, weight, e.get("x_embedder.proj.bias"), x2, w.bias, timer);
    }

    /**
     * 2-D sin-cos position embedding [S, C] of a Hp×Wp patch grid: token (r, c) gets [sin, cos](column coordinate)
     * then [sin, cos](row coordinate), coordinates i / scale · base / n with scale = √(height·width) / input_sq_size
     * and base = round(√S); float32 steps as the reference.
     */
    private float[] positionEmbedding(InputGeometry g, Workspace w, float height, float width) {
        double scale = Math.sqrt((double) height * (double) width) / cfg.inputSqSize();
        if (w.posEmb != null && w.posScale == scale) {
            return w.posEmb;
        }
        int c = cfg.hiddenSize();
        int quarter = c / 4;
        int half = c / 2;
        float[] inv = new float[quarter];
        for (int k = 0; k < quarter; k++) {
            float ex = (float) (2 * k) / half;
            inv[k] = 1f / (float) Math.pow(10000.0, ex);
        }
        int base = (int) Math.round(Math.sqrt(g.s));
        float fs = (float) scale;
        float rowStep = (float) ((double) base / g.hp);
        float colStep = (float) ((double) base / g.wp);
        float[] pos = new float[g.s * c];
        for (int r = 0; r < g.hp; r++) {
            float rc = ((float) r / fs) * rowStep;
            for (int col = 0; col < g.wp; col++) {
                float cc = ((float) col / fs) * colStep;
                int o = (r * g.wp + col) * c;
                for (int k = 0; k < quarter; k++) {
                    float a = cc * inv[k];
                    float bb = rc * inv[k];
                    pos[o + k] = (float) Math.sin(a);
                    pos[o + quarter + k] = (float) Math.cos(a);
                    pos[o + half + k] = (float) Math.sin(bb);
                    pos[o + half + quarter + k] = (float) Math.cos(bb);
                }
            }
        }
        w.posEmb = pos;
        w.posScale = scale;
        return pos;
    }
}

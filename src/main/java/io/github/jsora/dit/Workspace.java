package io.github.jsora.dit;

import java.util.ArrayList;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.Tensor;

/**
 * Scratch memory of STDiT3 forward passes for one input geometry (B, Tp, Hp, Wp, L), allocated once and reused by
 * every forward of that geometry (a whole sampling run makes no native allocation after its first step). A
 * forward with another geometry replaces the workspace.
 */
final class Workspace implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Workspace.class);

    /** Upper bound of the attention score slab in floats (192 MiB); one score matrix always fits. */
    private static final long SCORE_BUDGET = 48L * 1024 * 1024;

    final int b;
    final int t;
    final int h;
    final int w;
    final int tp;
    final int hp;
    final int wp;
    final int s;
    final int captionLen;
    final int c;
    final long tokens;          // B·Tp·S
    final int mlp;

    private final List<Tensor> owned = new ArrayList<>();

    // token stream and block scratch
    final Tensor x;             // [B, Tp, S, C] residual stream
    final Tensor xm;            // [B·Tp·S, C] modulated tokens / merged attention heads
    Tensor merged;              // [B·⌈Tp/2⌉·S, C] TDTM merged frames (allocated on first use)
    private Tensor bf16Scratch; // bf16 compute: operands of the block products (allocated on first use)
    final Tensor wide;          // [B·Tp·S, max(3C, mlp, C)] qkv / MLP hidden / projections
    final Tensor ao;            // [B·Tp·S·C] MLP output
    final Tensor scores;        // attention score slab

    // embedders
    final Tensor patches;       // [B·Tp·S, Cin·pt·ph·pw]
    final Tensor freq;          // [3B, 256] sinusoids of timestep, 0 (t0) and fps
    final Tensor hidden;        // [3B, C]
    final Tensor emb;           // [3B, C] t_emb rows 0..B-1, t0_emb rows B..2B-1, fps_emb rows 2B..3B-1
    final Tensor tSum;          // [2B, C] t = t_emb + fps_emb (and t0)
    final Tensor tAct;          // [2B, C] SiLU(t)
    final Tensor tMlp;          // [2B, 6C]
    final Tensor yHidden;       // [B·L, C]
    final Tensor yEmb;          // [B·L, C]
    final Tensor yPacked;       // [B·L, C] (first ΣL_b rows used)
    final Tensor yKv;           // [B·L, 2C]

    // heap scratch
    final float[] input;        // x of the forward, [B, Cin, T, H, W]
    final float[] patchRows;    // [B·Tp·S, Cin·pv]
    final float[] finalRows;    // [B·Tp·S, pv·out]
    final float[] output;       // [B, out, T, H, W]
    final float[][][] mod;      // [2B][6][C] block modulation rows (t then t0); slots 1, 4 hold 1 + scale
    final float[][][] finalMod; // [2B][2][C] final-layer rows; slot 1 holds 1 + scale
    final float[] tMlpHeap;     // [2B, 6C]
    final float[] tSumHeap;     // [2B, C]
    final float[] table;        // [6C] a block's scale_shift_table
    final float[] bias;         // [max(3C, mlp, 6C, pv·out)]
    final float[] qNorm;        // [hd]
    final float[] kNorm;        // [hd]
    final int[] frameRow;       // [B·Tp] modulation row per frame
    final int[] sampleRow;      // [B·Tp] = b
    final int[] againRow;       // [B·Tp] final-layer second modulation row or -1

    // caches
    int[] patchIndex;           // [B, Cin, T, H, W] → position in patchRows (PatchGrid, channel-major)
    int[] unpatchIndex;         // [B, out, T, H, W] → position in finalRows (PatchGrid, channel-minor)
    float[] posEmb;             // [S, C]
    double posScale = Double.NaN;
    float[][] rope;             // {cos, sin} for Tp frames
    float[][] ropeMerged;       // {cos, sin} for ⌈Tp/2⌉ frames

    Workspace(Stdit3Config cfg, int b, int t, int h, int w, int tp, int hp, int wp, int captionLen) {
        this.b = b;
        this.t = t;
        this.h = h;
        this.w = w;
        this.tp = tp;
        this.hp = hp;
        this.wp = wp;
        this.s = hp * wp;
        this.captionLen = captionLen;
        this.c = cfg.hiddenSize();
        this.tokens = (long) b * tp * s;
        int rows = Math.toIntExact(tokens);
        int mlp = cfg.mlpHidden();
        this.mlp = mlp;
        int pv = cfg.patchVolume();
        int outW = pv * cfg.outChannels();
        int wideCols = Math.max(Math.max(3 * c, mlp), Math.max(c, outW));
        int yRows = b * captionLen;
        int heads = cfg.numHeads();
        try {
            x = own(Tensor.zeros(b, tp * s, c));
            xm = own(Tensor.zeros(rows, c));
            wide = own(Tensor.zeros(rows, wideCols));
            ao = own(Tensor.zeros(rows * c));
            long spatial = (long) b * tp * heads * s * s;
            long temporal = (long) b * s * heads * tp * tp;
            long cross = (long) heads * tp * s * captionLen;
            long oneMax = Math.max((long) s * s, Math.max((long) tp * tp, (long) tp * s * captionLen));
            long want = Math.max(oneMax, Math.min(SCORE_BUDGET, Math.max(spatial, Math.max(temporal, cross))));
            scores = own(Tensor.zeros(Math.toIntExact(want)));
            patches = own(Tensor.zeros(rows, cfg.inChannels() * pv));
            freq = own(Tensor.zeros(3 * b, 256));
            hidden = own(Tensor.zeros(3 * b, c));
            emb = own(Tensor.zeros(3 * b, c));
            tSum = own(Tensor.zeros(2 * b, c));
            tAct = own(Tensor.zeros(2 * b, c));
            tMlp = own(Tensor.zeros(2 * b, 6 * c));
            yHidden = own(Tensor.zeros(yRows, c));
            yEmb = own(Tensor.zeros(yRows, c));
            yPacked = own(Tensor.zeros(yRows, c));
            yKv = own(Tensor.zeros(yRows, 2 * c));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        input = new float[Math.toIntExact((long) b * cfg.inChannels() * t * h * w)];
        patchRows = new float[Math.toIntExact(tokens * cfg.inChannels() * pv)];
        finalRows = new float[Math.toIntExact(tokens * outW)];
        output = new float[Math.toIntExact((long) b * cfg.outChannels() * t * h * w)];
        mod = new float[2 * b][6][c];
        finalMod = new float[2 * b][2][c];
        tMlpHeap = new float[2 * b * 6 * c];
        tSumHeap = new float[2 * b * c];
        table = new float[6 * c];
        bias = new float[Math.max(Math.max(3 * c, mlp), Math.max(6 * c, outW))];
        qNorm = new float[cfg.headDim()];
        kNorm = new float[cfg.headDim()];
        frameRow = new int[b * tp];
        sampleRow = new int[b * tp];
        againRow = new int[b * tp];
        LOG.debug("STDiT3 workspace B={} T={} {}x{} patches, L={}: {} MiB native", b, tp, hp, wp, captionLen,
                bytes() >> 20);
    }

    /**
     * Native bytes a workspace of this geometry holds (with the TDTM buffer when {@code merging}), computed without
     * allocating; equals {@link #bytes()} of the workspace the constructor builds.
     */
    static long estimateBytes(Stdit3Config cfg, int b, int tp, int s, int captionLen, boolean merging) {
        return estimateBytes(cfg, b, tp, s, captionLen, merging, false);
    }

    /**
     * Floats of the bf16 compute scratch ({@link #bf16Scratch}): room for the bf16 operands of the widest block
     * product of either the tokens or the caption rows, or for a float32 expansion of the widest weight.
     */
    static long bf16ScratchFloats(long c, long mlp, long tokens, long captionRows) {
        long rowsMax = Math.max(tokens, captionRows);
        long widest = Math.max(3L * c, mlp);
        return Math.max(widest * c, rowsMax * (c + widest) / 2 + 2);
    }

    /** {@link #estimateBytes}, with the bf16 compute scratch when {@code bf16Compute}. */
    static long estimateBytes(Stdit3Config cfg, int b, int tp, int s, int captionLen, boolean merging,
            boolean bf16Compute) {
        long c = cfg.hiddenSize();
        long rows = (long) b * tp * s;
        long mlp = cfg.mlpHidden();
        long pv = cfg.patchVolume();
        long outW = pv * cfg.outChannels();
        long wideCols = Math.max(Math.max(3 * c, mlp), Math.max(c, outW));
        long yRows = (long) b * captionLen;
        long heads = cfg.numHeads();
        long spatial = (long) b * tp * heads * s * s;
        long temporal = (long) b * s * heads * tp * tp;
        long cross = heads * tp * s * captionLen;
        long oneMax = Math.max((long) s * s, Math.max((long) tp * tp, (long) tp * s * captionLen));
        long scores = Math.max(oneMax, Math.min(SCORE_BUDGET, Math.max(spatial, Math.max(temporal, cross))));
        long floats = rows * c * 2 + rows * wideCols + rows * c + scores + rows * cfg.inChannels() * pv
                + 3 * b * 256L + 2 * 3 * b * c + 2 * 2 * b * c + 2 * b * 6 * c + 3 * yRows * c + yRows * 2 * c;
        if (merging) {
            floats += (long) b * ((tp + 1) / 2) * s * c;
        }
        if (bf16Compute) {
            floats += bf16ScratchFloats(c, mlp, rows, yRows);
        }
        return floats * Float.BYTES;
    }

    private Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    boolean fits(int b, int t, int h, int w, int tp, int hp, int wp, int captionLen) {
        return this.b == b && this.t == t && this.h == h && this.w == w && this.tp == tp && this.hp == hp
                && this.wp == wp && this.captionLen == captionLen;
    }

    /** The TDTM merged-frame buffer, allocated on first use. */
    Tensor merged() {
        if (merged == null) {
            merged = own(Tensor.zeros(Math.toIntExact((long) b * ((tp + 1) / 2) * s), c));
        }
        return merged;
    }

    /**
     * The scratch of bf16 block products ({@code Bf16Gemm.scratchFloats}), allocated in bf16 compute only, on first
     * use, large enough for every block product of this geometry (not part of {@link #estimateBytes}: at most the
     * size of {@code wide}). @param floats what the product at hand needs
     */
    Tensor bf16Scratch(long floats) {
        if (bf16Scratch == null || bf16Scratch.size() < floats) {
            long bound = Math.max(bf16ScratchFloats(c, mlp, tokens, (long) b * captionLen), floats);
            if (bf16Scratch != null) {
                owned.remove(bf16Scratch);
                bf16Scratch.close();
            }
            bf16Scratch = own(Tensor.zeros(Math.toIntExact(bound)));
        }
        return bf16Scratch;
    }

    long bytes() {
        long n = 0;
        for (Tensor t : owned) {
            n += t.ownedBytes();
        }
        return n;
    }

    @Override
    public void close() {
        for (Tensor t : owned) {
            t.close();
        }
        owned.clear();
    }
}

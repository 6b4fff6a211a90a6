package io.github.jsora.dit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.WeightFormatException;

/**
 * The STDiT3 diffusion transformer of Open-Sora v1.2 (spatial-temporal DiT with adaLN-single, caption
 * cross-attention and rotary temporal attention), on the jsora tensor core.
 *
 * <p>Weights come through a {@link BlockSource} in a block loop: block {@value #EMBEDDERS} (patch, timestep, fps and
 * caption embedders, {@code t_block}, the null caption and, when stored, {@code rope.freqs}), then one block
 * {@code pair.i} per spatial + temporal block pair, then {@value #FINAL} (final layer). A forward acquires each block,
 * computes with it and releases it, so a streaming source can keep only a few blocks resident.
 *
 * <p>Per geometry (B, T, H, W, L) the model keeps one workspace of scratch tensors, allocated by the first forward
 * and reused by the following ones (a sampling loop allocates nothing per step). The spatial attention of all
 * frames and the temporal attention of all patches are each a few batched products over all sequences and heads.
 *
 * <p>Temporal Dimension Token Merging ({@link TokenMerging}, {@link FrameMerging}) is a switch of the same block
 * loop: {@link #forward(Stdit3Input, boolean, Tensor)} with {@code mergeFrames} runs every attention on merged frame
 * pairs. With it off the computation is exactly the plain model.
 *
 * <p>Not thread-safe: one forward at a time per instance.
 */
public final class Stdit3 implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Stdit3.class);

    /** Block of the embedders (x, t, fps, caption), t_block, null caption and rotary frequencies. */
    public static final String EMBEDDERS = "embedders";
    /** Block of the final layer. */
    public static final String FINAL = "final";
    /** Name of the stored rotary frequencies (optional in a checkpoint). */
    public static final String ROPE_FREQS = "rope.freqs";
    /** Width of the timestep / fps sinusoid. */
    static final int FREQ_DIM = 256;

    private final Stdit3Config cfg;
    private final BlockSource source;
    private final boolean ownsSource;
    private final boolean ropeStored;
    private Workspace ws;
    private int workspaceAllocations;
    private ForwardStats lastStats;

    // per-forward stage timers
    private final Map<String, long[]> stages = new LinkedHashMap<>();
    private long mark;

    private Stdit3(Stdit3Config cfg, BlockSource source, boolean ownsSource) {
        this.cfg = cfg;
        this.source = source;
        this.ownsSource = ownsSource;
        BlockLayout got = source.layout();
        this.ropeStored = got.blocks().stream().anyMatch(
                b -> b.name().equals(EMBEDDERS) && b.tensors().containsKey(ROPE_FREQS));
        requireSameLayout(layout(cfg, ropeStored), got);
    }

    // ================================================================== construction

    /** Name of the block of pair {@code i} (spatial_blocks.i + temporal_blocks.i). */
    public static String pairBlock(int i) {
        return "pair." + i;
    }

    /**
     * The block layout of a configuration: names and shapes of every tensor of the reference state_dict.
     *
     * @param withRopeFreqs include {@code rope.freqs} [head_dim/2] in the embedders block
     */
    public static BlockLayout layout(Stdit3Config cfg, boolean withRopeFreqs) {
        int c = cfg.hiddenSize();
        int hd = cfg.headDim();
        int mlp = cfg.mlpHidden();
        BlockLayout.Builder b = BlockLayout.builder().block(EMBEDDERS);
        if (withRopeFreqs) {
            b.tensor(ROPE_FREQS, hd / 2);
        }
        b.tensor("x_embedder.proj.weight", c, cfg.inChannels(), cfg.patchT(), cfg.patchH(), cfg.patchW())
                .tensor("x_embedder.proj.bias", c);
        for (String e : List.of("t_embedder", "fps_embedder")) {
            b.tensor(e + ".mlp.0.weight", c, FREQ_DIM).tensor(e + ".mlp.0.bias", c)
                    .tensor(e + ".mlp.2.weight", c, c).tensor(e + ".mlp.2.bias", c);
        }
        b.tensor("t_block.1.weight", 6 * c, c).tensor("t_block.1.bias", 6 * c)
                .tensor("y_embedder.y_embedding", cfg.modelMaxLength(), cfg.captionChannels())
                .tensor("y_embedder.y_proj.fc1.weight", c, cfg.captionChannels())
                .tensor("y_embedder.y_proj.fc1.bias", c)
                .tensor("y_embedder.y_proj.fc2.weight", c, c)
                .tensor("y_embedder.y_proj.fc2.bias", c);
        for (int i = 0; i < cfg.depth(); i++) {
            b.block(pairBlock(i));
            for (String kind : List.of("spatial_blocks.", "temporal_blocks.")) {
                String p = kind + i + ".";
                b.tensor(p + "scale_shift_table", 6, c)
                        .tensor(p + "attn.qkv.weight", 3 * c, c).tensor(p + "attn.qkv.bias", 3 * c);
                if (cfg.qkNorm()) {
                    b.tensor(p + "attn.q_norm.weight", hd).tensor(p + "attn.k_norm.weight", hd);
                }
                b.tensor(p + "attn.proj.weight", c, c).tensor(p + "attn.proj.bias", c)
                        .tensor(p + "cross_attn.q_linear.weight", c, c).tensor(p + "cross_attn.q_linear.bias", c)
                        .tensor(p + "cross_attn.kv_linear.weight", 2 * c, c)
                        .tensor(p + "cross_attn.kv_linear.bias", 2 * c)
                        .tensor(p + "cross_attn.proj.weight", c, c).tensor(p + "cross_attn.proj.bias", c)
                        .tensor(p + "mlp.fc1.weight", mlp, c).tensor(p + "mlp.fc1.bias", mlp)
                        .tensor(p + "mlp.fc2.weight", c, mlp).tensor(p + "mlp.fc2.bias", c);
            }
        }
        int outW = cfg.patchVolume() * cfg.outChannels();
        b.block(FINAL).tensor("final_layer.scale_shift_table", 2, c)
                .tensor("final_layer.linear.weight", outW, c).tensor("final_layer.linear.bias", outW);
        return b.build();
    }

    /**
     * The layout of {@code cfg} checked against a checkpoint: {@code rope.freqs} is included when the checkpoint
     * stores it; any missing, extra or mis-shaped tensor throws.
     *
     * @throws WeightFormatException naming the tensor, the file and both shapes
     */
    public static BlockLayout validatedLayout(Stdit3Config cfg, Checkpoint ckpt) {
        BlockLayout layout = layout(cfg, ckpt.contains(ROPE_FREQS));
        layout.validate(ckpt);
        return layout;
    }

    /**
     * A model over a checkpoint with all weights resident in memory (copied out of the checkpoint, which the caller
     * may close afterwards).
     */
    public static Stdit3 load(Stdit3Config cfg, Checkpoint ckpt) {
        BlockLayout layout = validatedLayout(cfg, ckpt);
        ResidentBlockSource src = new ResidentBlockSource(ckpt, layout);
        LOG.info("STDiT3 loaded from {}: {}, {} MiB resident", ckpt.source(), cfg, src.bytes() >> 20);
        return new Stdit3(cfg, src, true);
    }

    /**
     * A model from a directory holding {@code config.json} and {@code model.safetensors} (or a sharded index), all
     * weights resident.
     */
    public static Stdit3 load(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new WeightFormatException(dir, "not a model directory (expected config.json and model.safetensors)");
        }
        Stdit3Config cfg = Stdit3Config.read(dir.resolve("config.json"));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            return load(cfg, ckpt);
        }
    }

    /**
     * A model whose weights come from any block source (for example a streaming block store). The source's layout
     * must be {@link #layout(Stdit3Config, boolean)} of {@code cfg}; the model does not close the source.
     */
    public static Stdit3 withSource(Stdit3Config cfg, BlockSource source) {
        return new Stdit3(cfg, source, false);
    }

    private static void requireSameLayout(BlockLayout want, BlockLayout got) {
        List<BlockLayout.BlockSpec> a = want.blocks();
        List<BlockLayout.BlockSpec> b = got.blocks();
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            if (i >= a.size() || i >= b.size() || !a.get(i).name().equals(b.get(i).name())) {
                throw new WeightFormatException("block source layout does not match the STDiT3 configuration at block "
                        + i + ": expected " + (i < a.size() ? a.get(i).name() : "none") + ", found "
                        + (i < b.size() ? b.get(i).name() : "none"));
            }
            Map<String, int[]> ta = a.get(i).tensors();
            Map<String, int[]> tb = b.get(i).tensors();
            for (Map.Entry<String, int[]> e : ta.entrySet()) {
                int[] s = tb.get(e.getKey());
                if (s == null) {
                    throw new WeightFormatException("block source is missing tensor \"" + e.getKey() + "\" (expected "
                            + "shape " + Arrays.toString(e.getValue()) + ")");
                }
                if (!Arrays.equals(s, e.getValue())) {
                    throw new WeightFormatException("block source tensor \"" + e.getKey() + "\" has shape "
                            + Arrays.toString(s) + ", expected " + Arrays.toString(e.getValue()));
                }
            }
            for (String n : tb.keySet()) {
                if (!ta.containsKey(n)) {
                    throw new WeightFormatException("block source has unexpected tensor \"" + n + "\" "
                            + Arrays.toString(tb.get(n)) + " in block " + b.get(i).name());
                }
            }
        }
    }

    // ================================================================== accessors

    public Stdit3Config config() {
        return cfg;
    }

    /** Where the weights come from. */
    public BlockSource blockSource() {
        return source;
    }

    /** Counters and timers of the last forward, or null before the first. */
    public ForwardStats lastStats() {
        return lastStats;
    }

    /**
     * The learned null caption for classifier-free guidance: {@code y_embedder.y_embedding} as a new tensor
     * [1, 1, model_max_length, caption_channels] (the caller closes it). Pass it with the prompt's mask: the model
     * then uses the same number of tokens as the prompt, as the reference does. For a prompt of L &lt;
     * model_max_length rows, {@code nul.view(0, 1, 1, L, Cc)} is its first L rows. This acquires the
     * {@value #EMBEDDERS} block outside the forward order, so call it once before sampling.
     */
    public Tensor nullCaption() {
        Block emb = source.acquire(EMBEDDERS);
        try {
            Tensor e = emb.get("y_embedder.y_embedding");
            Tensor out = Tensor.zeros(1, 1, cfg.modelMaxLength(), cfg.captionChannels());
            out.copyFrom(e);
            return out;
        } finally {
            source.release(emb);
        }
    }

    // ================================================================== forward

    /** Plain forward into a new output tensor [B, out_channels, T, H, W] (the caller closes it). */
    public Tensor forward(Stdit3Input in) {
        Tensor out = Tensor.zeros(outputShape(in));
        try {
            forward(in, false, out, null);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** Plain forward into {@code out} [B, out_channels, T, H, W]. */
    public void forward(Stdit3Input in, Tensor out) {
        forward(in, false, out, null);
    }

    /** Forward with TDTM frame merging on or off. */
    public void forward(Stdit3Input in, boolean mergeFrames, Tensor out) {
        forward(in, mergeFrames, out, null);
    }

    /** Output shape for an input: [B, out_channels, T, H, W]. */
    public int[] outputShape(Stdit3Input in) {
        if (in == null || in.x() == null || in.x().rank() != 5) {
            throw new IllegalArgumentException("STDiT3 input x must be [B, C, T, H, W], found "
                    + (in == null || in.x() == null ? "null" : in.x().shapeString()));
        }
        int[] s = in.x().shape();
        s[1] = cfg.outChannels();
        return s;
    }

    /**
     * The full forward: every input is checked first (shapes, lengths, masks, finite values); then embedders, the
     * block loop and the final layer run.
     *
     * @param mergeFrames TDTM: attend on merged consecutive frame pairs
     * @param out         [B, out_channels, T, H, W], written
     * @param probe       receives intermediate activations, or null
     */
    public void forward(Stdit3Input in, boolean mergeFrames, Tensor out, ActivationProbe probe) {
        long start = System.nanoTime();
        Geometry g = Geometry.check(cfg, in, out);
        Workspace w = workspace(g);
        stages.clear();
        mark = start;
        int tq = mergeFrames ? FrameMerging.mergedFrames(g.tp) : g.tp;
        long selfCalls = 0;
        long selfQueries = 0;

        Block emb = source.acquire(EMBEDDERS);
        float[] ropeFreqs;
        try {
            ropeFreqs = embed(emb, in, g, w, probe);
        } finally {
            source.release(emb);
        }
        lap("embed");
        float[][] rope = ropeFor(w, ropeFreqs, tq);

        for (int i = 0; i < cfg.depth(); i++) {
            Block pair = source.acquire(pairBlock(i));
            try {
                block(pair, "spatial_blocks." + i + ".", false, g, w, tq, null);
                if (probe != null) {
                    probe.capture("spatial_block_" + i + "_out", w.x);
                }
                block(pair, "temporal_blocks." + i + ".", true, g, w, tq, rope);
                if (probe != null) {
                    probe.capture("temporal_block_" + i + "_out", w.x);
                }
            } finally {
                source.release(pair);
            }
            selfCalls += 2;
            selfQueries += 2L * g.b * tq * g.s;
        }

        Block fin = source.acquire(FINAL);
        try {
            finalLayer(fin, g, w, out, probe);
        } finally {
            source.release(fin);
        }
        lap("final");
        long total = System.nanoTime() - start;
        Map<String, Long> st = new LinkedHashMap<>();
        stages.forEach((k, v) -> st.put(k, v[0]));
        long gemm = st.getOrDefault("gemm", 0L);
        long attn = st.entrySet().stream().filter(e -> e.getKey().startsWith("attention"))
                .mapToLong(Map.Entry::getValue).sum();
        lastStats = new ForwardStats(mergeFrames, g.tp, tq, selfCalls, selfQueries, selfCalls, selfQueries, total,
                gemm, attn, total - gemm - attn, st);
        LOG.debug("{}", lastStats);
    }

    private Workspace workspace(Geometry g) {
        if (ws == null || !ws.fits(g.b, g.t, g.h, g.w, g.tp, g.hp, g.wp, g.len)) {
            if (ws != null) {
                ws.close();
                ws = null;
            }
            ws = new Workspace(cfg, g.b, g.t, g.h, g.w, g.tp, g.hp, g.wp, g.len);
            workspaceAllocations++;
        }
        return ws;
    }

    /**
     * Allocates the workspace of forwards on x [batch, in_channels, frames, height, width] with captions of
     * {@code captionLen} tokens now, instead of in the first forward, so that a caller can plan the rest of its memory
     * around it. With {@code merging} the TDTM merged-frame buffer is allocated too.
     *
     * @return native bytes of the workspace
     */
    public long reserveWorkspace(int batch, int frames, int height, int width, int captionLen, boolean merging) {
        if (batch < 1 || frames < 1 || height < 1 || width < 1 || captionLen < 1) {
            throw new IllegalArgumentException("STDiT3 workspace for x [" + batch + ", " + cfg.inChannels() + ", "
                    + frames + ", " + height + ", " + width + "] and " + captionLen + " caption tokens: every size "
                    + "must be >= 1");
        }
        Geometry g = new Geometry();
        g.b = batch;
        g.t = frames;
        g.h = height;
        g.w = width;
        g.tp = Geometry.ceilDiv(frames, cfg.patchT());
        g.hp = Geometry.ceilDiv(height, cfg.patchH());
        g.wp = Geometry.ceilDiv(width, cfg.patchW());
        g.s = g.hp * g.wp;
        g.len = captionLen;
        Workspace w = workspace(g);
        if (merging) {
            w.merged();
        }
        return w.bytes();
    }

    /**
     * Native bytes {@link #reserveWorkspace} would allocate for this geometry, computed without allocating (for
     * memory planning).
     */
    public static long workspaceBytes(Stdit3Config cfg, int batch, int frames, int height, int width,
            int captionLen, boolean merging) {
        int tp = Geometry.ceilDiv(frames, cfg.patchT());
        int s = Geometry.ceilDiv(height, cfg.patchH()) * Geometry.ceilDiv(width, cfg.patchW());
        return Workspace.estimateBytes(cfg, batch, tp, s, captionLen, merging);
    }

    /** Frees the scratch memory kept between forwards (the next forward allocates it again). */
    public void releaseWorkspace() {
        if (ws != null) {
            ws.close();
            ws = null;
        }
    }

    /** Workspaces allocated so far (one per change of input geometry; for tests). */
    int workspaceAllocations() {
        return workspaceAllocations;
    }

    /** Native bytes of the current workspace (0 when none). */
    public long workspaceBytes() {
        return ws == null ? 0 : ws.bytes();
    }

    @Override
    public void close() {
        releaseWorkspace();
        if (ownsSource) {
            source.close();
        }
    }

    // ================================================================== embedders

    /** Runs all embedders; leaves blocks_in in w.x, the packed caption in w.yPacked. Returns the rotary freqs. */
    private float[] embed(Block e, Stdit3Input in, Geometry g, Workspace w, ActivationProbe probe) {
        int b = g.b;
        int c = cfg.hiddenSize();

        // --- timestep, t0 and fps sinusoids → 2-layer MLPs: rows [t (B) | t0 (B) | fps (B)]
        float[] sinus = Kernels.scratch(2, 3 * b * FREQ_DIM);
        for (int i = 0; i < b; i++) {
            timestepSinusoid(in.timestep()[i], sinus, i * FREQ_DIM);
            timestepSinusoid(0f, sinus, (b + i) * FREQ_DIM);
            timestepSinusoid(g.fps[i], sinus, (2 * b + i) * FREQ_DIM);
        }
        w.freq.write(0, sinus, 0, 3 * b * FREQ_DIM);
        Tensor tRows = w.freq.slice(0, 2 * b);
        Tensor fRows = w.freq.slice(2 * b, 3 * b);
        mlp2(e, "t_embedder", tRows, w.hidden.slice(0, 2 * b), w.emb.slice(0, 2 * b), w);
        mlp2(e, "fps_embedder", fRows, w.hidden.slice(2 * b, 3 * b), w.emb.slice(2 * b, 3 * b), w);
        Tensor fpsEmb = w.emb.slice(2 * b, 3 * b);
        Ops.add(w.emb.slice(0, b), fpsEmb, w.tSum.slice(0, b));
        Ops.add(w.emb.slice(b, 2 * b), fpsEmb, w.tSum.slice(b, 2 * b));
        Ops.silu(w.tSum, w.tAct);
        lap("embed");
        linear(w.tAct, e.get("t_block.1.weight"), e.get("t_block.1.bias"), w.tMlp, w);
        w.tMlp.read(0, w.tMlpHeap, 0, w.tMlpHeap.length);
        w.tSum.read(0, w.tSumHeap, 0, w.tSumHeap.length);
        if (probe != null) {
            probe.capture("t_embedder_out", w.emb.slice(0, b));
            probe.capture("fps_embedder_out", fpsEmb);
            probe.capture("t_block_out", w.tMlp.slice(0, b));
            if (g.xMask != null) {
                probe.capture("t_embedder_out_t0", w.emb.slice(b, 2 * b));
                probe.capture("t_block_out_t0", w.tMlp.slice(b, 2 * b));
            }
        }
        for (int i = 0; i < b; i++) {
            for (int t = 0; t < g.tp; t++) {
                boolean cond = g.xMask != null && g.xMask[i * g.tp + t] == 0f;
                w.frameRow[i * g.tp + t] = cond ? b + i : i;
                w.sampleRow[i * g.tp + t] = i;
                w.againRow[i * g.tp + t] = cond ? b + i : -1;
            }
        }

        // --- caption: y_proj on all tokens, then keep the valid ones, packed in batch order
        int l = g.len;
        Tensor y2 = in.y().reshape(b * l, cfg.captionChannels());
        lap("embed");
        Gemm.matmul(y2, false, e.get("y_embedder.y_proj.fc1.weight"), true, w.yHidden, 1f, 0f);
        lap("gemm");
        Kernels.biasGelu(w.yHidden, read(e.get("y_embedder.y_proj.fc1.bias"), w.bias), c);
        lap("embed");
        linear(w.yHidden, e.get("y_embedder.y_proj.fc2.weight"), e.get("y_embedder.y_proj.fc2.bias"), w.yEmb, w);
        int packed = 0;
        float[] row = Kernels.scratch(2, c);
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
            probe.capture("y_embedder_out", w.yEmb.reshape(b, 1, l, c));
            probe.capture("y_packed", w.yPacked.slice(0, packed).reshape(1, packed, c));
            float[] lens = new float[b];
            for (int i = 0; i < b; i++) {
                lens[i] = g.lens[i];
            }
            try (Tensor lt = Tensor.of(lens, b)) {
                probe.capture("y_lens", lt);
            }
        }

        // --- patch embedding (zero padding right/bottom/end) + 2-D position embedding
        patchEmbed(e, in, g, w);
        if (probe != null) {
            probe.capture("x_embedder_out", w.x);
        }
        float[] pos = positionEmbedding(g, w, in.height(), in.width());
        Kernels.addFrameVector(w.x, pos, g.b * g.tp, (long) g.s * c);
        if (probe != null) {
            try (Tensor pt = Tensor.of(pos, 1, g.s, c)) {
                probe.capture("pos_emb", pt);
            }
            probe.capture("blocks_in", w.x);
        }

        if (ropeStored) {
            Tensor fr = e.get(ROPE_FREQS);
            float[] freqs = new float[cfg.headDim() / 2];
            fr.read(0, freqs, 0, freqs.length);
            return freqs;
        }
        return defaultRopeFreqs(cfg.headDim());
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

    private float[][] ropeFor(Workspace w, float[] freqs, int frames) {
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

    /** Linear → SiLU → Linear of an embedder ({@code prefix.mlp.0}, {@code prefix.mlp.2}). */
    private void mlp2(Block e, String prefix, Tensor in, Tensor hidden, Tensor out, Workspace w) {
        lap("embed");
        linear(in, e.get(prefix + ".mlp.0.weight"), e.get(prefix + ".mlp.0.bias"), hidden, w);
        Ops.silu(hidden, hidden);
        linear(hidden, e.get(prefix + ".mlp.2.weight"), e.get(prefix + ".mlp.2.bias"), out, w);
    }

    private void linear(Tensor x, Tensor weight, Tensor bias, Tensor out, Workspace w) {
        Gemm.matmul(x, false, weight, true, out, 1f, 0f);
        lap("gemm");
        Ops.addRowVectorInPlace(out, read(bias, w.bias), out.dim(-1));
        lap("bias");
    }

    /** Reads a (bias) vector into the prefix of {@code buf}. */
    private static float[] read(Tensor t, float[] buf) {
        t.read(0, buf, 0, Math.toIntExact(t.size()));
        return buf;
    }

    private void patchEmbed(Block e, Stdit3Input in, Geometry g, Workspace w) {
        int cin = cfg.inChannels();
        int pt = cfg.patchT();
        int ph = cfg.patchH();
        int pw = cfg.patchW();
        int pv = pt * ph * pw;
        int width = cin * pv;
        float[] x = w.input;
        in.x().read(0, x, 0, x.length);
        float[] rows = w.patchRows;
        Arrays.fill(rows, 0f);
        int t = g.t;
        int h = g.h;
        int wd = g.w;
        for (int b = 0; b < g.b; b++) {
            for (int ci = 0; ci < cin; ci++) {
                for (int ti = 0; ti < t; ti++) {
                    for (int hi = 0; hi < h; hi++) {
                        int src = (((b * cin + ci) * t + ti) * h + hi) * wd;
                        int tp = ti / pt;
                        int hp = hi / ph;
                        int colBase = ((ci * pt + ti % pt) * ph + hi % ph) * pw;
                        for (int wi = 0; wi < wd; wi++) {
                            long tok = ((long) (b * g.tp + tp) * g.hp + hp) * g.wp + wi / pw;
                            rows[(int) (tok * width) + colBase + wi % pw] = x[src + wi];
                        }
                    }
                }
            }
        }
        w.patches.write(0, rows, 0, rows.length);
        Tensor weight = e.get("x_embedder.proj.weight").reshape(cfg.hiddenSize(), width);
        Tensor x2 = w.x.reshape(Math.toIntExact(w.tokens), cfg.hiddenSize());
        lap("embed");
        linear(w.patches, weight, e.get("x_embedder.proj.bias"), x2, w);
    }

    /**
     * 2-D sin-cos position embedding [S, C] of a Hp×Wp patch grid: token (r, c) gets [sin, cos](column coordinate)
     * then [sin, cos](row coordinate), coordinates i / scale · base / n with scale = √(height·width) / input_sq_size
     * and base = round(√S); float32 steps as the reference.
     */
    private float[] positionEmbedding(Geometry g, Workspace w, float height, float width) {
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

    // ================================================================== blocks

    /**
     * One STDiT3 block on w.x [B, T, S, C] in place: modulated self-attention (per frame for spatial blocks, per
     * patch over time with rotary positions for temporal blocks), cross-attention to the sample's caption tokens,
     * modulated MLP; attentions on {@code tq} (merged) frames.
     */
    private void block(Block wts, String p, boolean temporal, Geometry g, Workspace w, int tq, float[][] rope) {
        int b = g.b;
        int t = g.tp;
        int s = g.s;
        int c = cfg.hiddenSize();
        int heads = cfg.numHeads();
        int hd = cfg.headDim();
        int c6 = 6 * c;
        boolean merge = tq != t;
        int rows = b * tq * s;
        int allRows = Math.toIntExact(w.tokens);
        float scale = (float) (1.0 / Math.sqrt(hd));

        // modulation rows: scale_shift_table + t_mlp (t rows, then t0 rows); scales stored as 1 + scale
        wts.get(p + "scale_shift_table").read(0, w.table, 0, c6);
        for (int r = 0; r < 2 * b; r++) {
            for (int k = 0; k < 6; k++) {
                float[] dst = w.mod[r][k];
                float one = k == 1 || k == 4 ? 1f : 0f;
                for (int i = 0; i < c; i++) {
                    float v = w.table[k * c + i] + w.tMlpHeap[r * c6 + k * c + i];
                    dst[i] = one == 0f ? v : one + v;
                }
            }
        }

        // ---- self-attention
        Kernels.modulatedLayerNorm(w.x, w.xm, b * t, s, c, w.mod, w.frameRow, 0, 1, null);
        lap("modulate");
        Tensor src = w.xm;
        if (merge) {
            Kernels.mergeFramePairs(w.xm, w.merged(), b, t, (long) s * c);
            lap("merge");
            src = w.merged();
        }
        Tensor qkv = w.wide.view(0, rows, 3 * c);
        Tensor srcRows = src.view(0, rows, c);
        Gemm.matmul(srcRows, false, wts.get(p + "attn.qkv.weight"), true, qkv, 1f, 0f);
        lap("gemm");
        Kernels.Sequences seqs = temporal ? Kernels.Sequences.temporal(b, tq, s) : Kernels.Sequences.spatial(b, tq, s);
        float[][] norms = null;
        if (cfg.qkNorm()) {
            wts.get(p + "attn.q_norm.weight").read(0, w.qNorm, 0, hd);
            wts.get(p + "attn.k_norm.weight").read(0, w.kNorm, 0, hd);
            norms = new float[][] {w.qNorm, w.kNorm};
        }
        Kernels.splitHeads(qkv, read(wts.get(p + "attn.qkv.bias"), w.bias), seqs, heads, hd,
                new Tensor[] {w.q, w.k, w.v}, norms, rope == null ? null : rope[0], rope == null ? null : rope[1],
                scale);
        lap("split-heads");
        int nseq = seqs.count() * heads;
        int len = seqs.len();
        Tensor ao = w.ao.view(0, nseq, len, hd);
        Attention.sdpa(w.q.view(0, nseq, len, hd), w.k.view(0, nseq, len, hd),
                w.v.view(0, nseq, len, hd), 1f, null, null, w.scores, ao);
        lap(temporal ? "attention-temporal" : "attention-spatial");
        Tensor heads2d = w.xm.view(0, rows, c);
        Kernels.mergeHeads(ao, seqs, heads, hd, heads2d);
        lap("merge-heads");
        Tensor proj = w.wide.view(0, rows, c);
        Gemm.matmul(heads2d, false, wts.get(p + "attn.proj.weight"), true, proj, 1f, 0f);
        lap("gemm");
        Kernels.gatedResidual(w.x, proj, read(wts.get(p + "attn.proj.bias"), w.bias), b, t, tq, s, c, w.mod,
                w.frameRow, 2);
        lap("residual");

        // ---- cross-attention: queries of sample b attend to the b-th caption's valid tokens
        Tensor qsrc = w.x;
        if (merge) {
            Kernels.mergeFramePairs(w.x, w.merged(), b, t, (long) s * c);
            lap("merge");
            qsrc = w.merged();
        }
        Tensor qRows = qsrc.view(0, rows, c);
        Tensor qLin = w.wide.view(0, rows, c);
        Gemm.matmul(qRows, false, wts.get(p + "cross_attn.q_linear.weight"), true, qLin, 1f, 0f);
        lap("gemm");
        Kernels.Sequences qs = Kernels.Sequences.sample(b, tq, s);
        Kernels.splitHeads(qLin, read(wts.get(p + "cross_attn.q_linear.bias"), w.bias), qs, heads, hd,
                new Tensor[] {w.q}, null, null, null, scale);
        lap("split-heads");
        int total = g.totalLen;
        Tensor yRows = w.yPacked.view(0, total, c);
        Tensor kv = w.yKv.view(0, total, 2 * c);
        Gemm.matmul(yRows, false, wts.get(p + "cross_attn.kv_linear.weight"), true, kv, 1f, 0f);
        lap("gemm");
        float[] kvBias = read(wts.get(p + "cross_attn.kv_linear.bias"), w.bias);
        int off = 0;
        for (int i = 0; i < b; i++) {
            int li = g.lens[i];
            Kernels.splitHeads(kv.view((long) off * 2 * c, li, 2 * c), kvBias, Kernels.Sequences.sample(1, 1, li),
                    heads, hd, new Tensor[] {w.kc.view((long) off * c, li * c), w.vc.view((long) off * c, li * c)},
                    null, null, null, 1f);
            off += li;
        }
        lap("split-heads");
        off = 0;
        int perSample = tq * s;
        for (int i = 0; i < b; i++) {
            int li = g.lens[i];
            long qo = (long) i * perSample * c;
            Tensor qh = w.q.view(qo, heads, perSample, hd);
            Tensor kh = w.kc.view((long) off * c, heads, li, hd);
            Tensor vh = w.vc.view((long) off * c, heads, li, hd);
            Tensor oh = w.ao.view(qo, heads, perSample, hd);
            Attention.sdpa(qh, kh, vh, 1f, null, null, w.scores, oh);
            lap("attention-cross");
            off += li;
        }
        Tensor cross = w.xm.view(0, rows, c);
        Kernels.mergeHeads(w.ao.view(0, rows * c), qs, heads, hd, cross);
        lap("merge-heads");
        Tensor cproj = w.wide.view(0, rows, c);
        Gemm.matmul(cross, false, wts.get(p + "cross_attn.proj.weight"), true, cproj, 1f, 0f);
        lap("gemm");
        Kernels.gatedResidual(w.x, cproj, read(wts.get(p + "cross_attn.proj.bias"), w.bias), b, t, tq, s, c, w.mod,
                w.frameRow, -1);
        lap("residual");

        // ---- MLP on all frames
        Kernels.modulatedLayerNorm(w.x, w.xm, b * t, s, c, w.mod, w.frameRow, 3, 4, null);
        lap("modulate");
        int mlp = cfg.mlpHidden();
        Tensor hidden = w.wide.view(0, allRows, mlp);
        Gemm.matmul(w.xm, false, wts.get(p + "mlp.fc1.weight"), true, hidden, 1f, 0f);
        lap("gemm");
        Kernels.biasGelu(hidden, read(wts.get(p + "mlp.fc1.bias"), w.bias), mlp);
        lap("gelu");
        Tensor mlpOut = w.ao.view(0, allRows, c);
        Gemm.matmul(hidden, false, wts.get(p + "mlp.fc2.weight"), true, mlpOut, 1f, 0f);
        lap("gemm");
        Kernels.gatedResidual(w.x, mlpOut, read(wts.get(p + "mlp.fc2.bias"), w.bias), b, t, t, s, c, w.mod,
                w.frameRow, 5);
        lap("residual");
    }

    // ================================================================== final layer

    private void finalLayer(Block f, Geometry g, Workspace w, Tensor out, ActivationProbe probe) {
        int b = g.b;
        int c = cfg.hiddenSize();
        int c2 = 2 * c;
        f.get("final_layer.scale_shift_table").read(0, w.table, 0, c2);
        // shift = table[0] + t, scale = table[1] + t, with the pre-t_block embedding t (rows t, then t0)
        for (int r = 0; r < 2 * b; r++) {
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < c; i++) {
                    float v = w.table[k * c + i] + w.tSumHeap[r * c + i];
                    w.finalMod[r][k][i] = k == 1 ? 1f + v : v;
                }
            }
        }
        // Conditioning frames (x_mask false) follow the reference exactly: it re-normalises the t-modulated tokens
        // and modulates them again with t0.
        Kernels.modulatedLayerNorm(w.x, w.xm, b * g.tp, g.s, c, w.finalMod, w.sampleRow, 0, 1,
                g.xMask == null ? null : w.againRow);
        int outW = cfg.patchVolume() * cfg.outChannels();
        int rows = Math.toIntExact(w.tokens);
        Tensor fo = w.wide.view(0, rows, outW);
        lap("final");
        linear(w.xm, f.get("final_layer.linear.weight"), f.get("final_layer.linear.bias"), fo, w);
        if (probe != null) {
            probe.capture("final_layer_out", fo.reshape(b, g.tp * g.s, outW));
        }
        unpatchify(fo, g, w, out);
    }

    /** Token rows [(b, t', h', w'), (pt, ph, pw, c)] → [B, out, T, H, W], cropping the padding. */
    private void unpatchify(Tensor fo, Geometry g, Workspace w, Tensor out) {
        int co = cfg.outChannels();
        int pt = cfg.patchT();
        int ph = cfg.patchH();
        int pw = cfg.patchW();
        int outW = pt * ph * pw * co;
        float[] rows = w.finalRows;
        fo.read(0, rows, 0, rows.length);
        float[] o = w.output;
        int t = g.t;
        int h = g.h;
        int wd = g.w;
        for (int b = 0; b < g.b; b++) {
            for (int ch = 0; ch < co; ch++) {
                for (int ti = 0; ti < t; ti++) {
                    for (int hi = 0; hi < h; hi++) {
                        int dst = (((b * co + ch) * t + ti) * h + hi) * wd;
                        int colBase = ((ti % pt) * ph + hi % ph) * pw;
                        long rowBase = ((long) (b * g.tp + ti / pt) * g.hp + hi / ph) * g.wp;
                        for (int wi = 0; wi < wd; wi++) {
                            long tok = rowBase + wi / pw;
                            o[dst + wi] = rows[(int) (tok * outW) + (colBase + wi % pw) * co + ch];
                        }
                    }
                }
            }
        }
        out.write(0, o, 0, o.length);
    }

    // ================================================================== helpers

    /** Adds the time since the last lap to {@code stage}. */
    private void lap(String stage) {
        long now = System.nanoTime();
        stages.computeIfAbsent(stage, k -> new long[1])[0] += now - mark;
        mark = now;
    }

    /** Checked geometry of one forward's inputs. */
    static final class Geometry {
        int b;
        int t;
        int h;
        int w;
        int tp;
        int hp;
        int wp;
        int s;
        int len;            // L (caption tokens per row of y)
        int totalLen;       // Σ valid tokens
        int[] lens;         // valid tokens per sample
        float[] mask;       // [B, L] tiled to B rows
        float[] xMask;      // [B, Tp] or null
        float[] fps;        // [B]

        /** Checks every input of a forward against the configuration; throws before any heavy work. */
        static Geometry check(Stdit3Config cfg, Stdit3Input in, Tensor out) {
            if (in == null) {
                throw new IllegalArgumentException("STDiT3 input is null");
            }
            Tensor x = in.x();
            if (x == null || x.rank() != 5) {
                throw new IllegalArgumentException("STDiT3 x must be [B, C, T, H, W], found "
                        + (x == null ? "null" : x.shapeString()));
            }
            Geometry g = new Geometry();
            g.b = x.dim(0);
            g.t = x.dim(2);
            g.h = x.dim(3);
            g.w = x.dim(4);
            if (g.b < 1 || g.t < 1 || g.h < 1 || g.w < 1) {
                throw new IllegalArgumentException("STDiT3 x " + x.shapeString()
                        + " must have B, T, H, W >= 1");
            }
            if (x.dim(1) != cfg.inChannels()) {
                throw new IllegalArgumentException("STDiT3 x " + x.shapeString() + " must have "
                        + cfg.inChannels() + " channels (in_channels)");
            }
            g.tp = ceilDiv(g.t, cfg.patchT());
            g.hp = ceilDiv(g.h, cfg.patchH());
            g.wp = ceilDiv(g.w, cfg.patchW());
            g.s = g.hp * g.wp;
            long tokens = (long) g.b * g.tp * g.s;
            long c = cfg.hiddenSize();
            if (tokens * Math.max(Math.max(3 * c, cfg.mlpHidden()), c) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("STDiT3 input " + x.shapeString() + " is too large: " + tokens
                        + " tokens");
            }
            float[] ts = in.timestep();
            if (ts == null || ts.length != g.b) {
                throw new IllegalArgumentException("STDiT3 timestep must have B=" + g.b + " values, found "
                        + (ts == null ? "null" : ts.length));
            }
            for (int i = 0; i < ts.length; i++) {
                if (!Float.isFinite(ts[i])) {
                    throw new IllegalArgumentException("STDiT3 timestep[" + i + "] is " + ts[i]);
                }
            }
            float[] fps = in.fps();
            if (fps == null || fps.length < 1 || g.b % fps.length != 0) {
                throw new IllegalArgumentException("STDiT3 fps must have b values with B=" + g.b
                        + " a multiple of b (B, the prompt count of a guidance batch, or one), found "
                        + (fps == null ? "null" : fps.length));
            }
            g.fps = new float[g.b];
            for (int i = 0; i < g.b; i++) {
                g.fps[i] = fps[i % fps.length];            // tiled to B rows, as the reference's repeat
                if (!Float.isFinite(g.fps[i])) {
                    throw new IllegalArgumentException("STDiT3 fps[" + i + "] is " + g.fps[i]);
                }
            }
            if (!(in.height() > 0) || !(in.width() > 0) || !Float.isFinite(in.height())
                    || !Float.isFinite(in.width())) {
                throw new IllegalArgumentException("STDiT3 height and width (pixels) must be positive and finite, "
                        + "found " + in.height() + " x " + in.width());
            }

            Tensor y = in.y();
            if (y == null || y.rank() != 4 || y.dim(0) != g.b || y.dim(1) != 1
                    || y.dim(3) != cfg.captionChannels()) {
                throw new IllegalArgumentException("STDiT3 y must be [B=" + g.b + ", 1, L, "
                        + cfg.captionChannels() + "], found " + (y == null ? "null" : y.shapeString()));
            }
            g.len = y.dim(2);
            if (g.len < 1) {
                throw new IllegalArgumentException("STDiT3 y " + y.shapeString() + " has no caption tokens");
            }
            if (g.len > cfg.modelMaxLength()) {
                throw new IllegalArgumentException("STDiT3 caption of " + g.len + " tokens is longer than "
                        + "model_max_length " + cfg.modelMaxLength());
            }
            Tensor m = in.mask();
            if (m == null || m.rank() != 2 || m.dim(1) != g.len || m.dim(0) < 1 || g.b % m.dim(0) != 0) {
                throw new IllegalArgumentException("STDiT3 mask must be [b, L=" + g.len + "] with B=" + g.b
                        + " a multiple of b, found " + (m == null ? "null" : m.shapeString()));
            }
            float[] mv = m.toArray();
            g.mask = new float[g.b * g.len];
            g.lens = new int[g.b];
            for (int i = 0; i < g.b; i++) {
                int src = i % m.dim(0);
                for (int j = 0; j < g.len; j++) {
                    float v = mv[src * g.len + j];
                    if (!Float.isFinite(v)) {
                        throw new IllegalArgumentException("STDiT3 mask[" + src + ", " + j + "] is " + v);
                    }
                    g.mask[i * g.len + j] = v;
                    if (v != 0f) {
                        g.lens[i]++;
                    }
                }
                if (g.lens[i] == 0) {
                    throw new IllegalArgumentException("STDiT3 mask row " + src + " (sample " + i
                            + ") has no valid caption token");
                }
                g.totalLen += g.lens[i];
            }
            Tensor xm = in.xMask();
            if (xm != null) {
                if (xm.rank() != 2 || xm.dim(1) != g.tp || xm.dim(0) < 1 || g.b % xm.dim(0) != 0) {
                    throw new IllegalArgumentException("STDiT3 x_mask must be [b, T=" + g.tp + "] with B=" + g.b
                            + " a multiple of b, found " + xm.shapeString());
                }
                float[] rows = xm.toArray();                 // [b, Tp], tiled to [B, Tp] like the caption mask
                g.xMask = new float[g.b * g.tp];
                for (int i = 0; i < g.b; i++) {
                    System.arraycopy(rows, (i % xm.dim(0)) * g.tp, g.xMask, i * g.tp, g.tp);
                }
                for (int i = 0; i < g.xMask.length; i++) {
                    if (!Float.isFinite(g.xMask[i])) {
                        throw new IllegalArgumentException("STDiT3 x_mask element " + i + " is " + g.xMask[i]);
                    }
                }
            }
            if (out == null || !out.hasShape(g.b, cfg.outChannels(), g.t, g.h, g.w)) {
                throw new IllegalArgumentException("STDiT3 output must be [" + g.b + ", " + cfg.outChannels()
                        + ", " + g.t + ", " + g.h + ", " + g.w + "], found "
                        + (out == null ? "null" : out.shapeString()));
            }
            requireFinite("x", x);
            requireFinite("y", y);
            return g;
        }

        static int ceilDiv(int a, int b) {
            return (a + b - 1) / b;
        }

        private static void requireFinite(String what, Tensor t) {
            float[] buf = new float[(int) Math.min(t.size(), 1 << 16)];
            for (long i = 0; i < t.size(); i += buf.length) {
                int n = (int) Math.min(buf.length, t.size() - i);
                t.read(i, buf, 0, n);
                for (int j = 0; j < n; j++) {
                    if (!Float.isFinite(buf[j])) {
                        throw new IllegalArgumentException("STDiT3 " + what + " " + t.shapeString()
                                + " holds a non-finite value (" + buf[j] + ") at element " + (i + j));
                    }
                }
            }
        }
    }
}

package io.github.jsora.dit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tap;
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
    /** Weight names of the seven products of a block (after {@code spatial_blocks.i.} / {@code temporal_blocks.i.}). */
    private static final List<String> BLOCK_PRODUCTS = List.of("attn.qkv.weight", "attn.proj.weight",
            "cross_attn.q_linear.weight", "cross_attn.kv_linear.weight", "cross_attn.proj.weight", "mlp.fc1.weight",
            "mlp.fc2.weight");

    /**
     * The product weights bf16 compute keeps packed ({@code BlockStore.Options.withPackedProducts}): the seven
     * linear weights of every spatial and temporal block. The embedders and the final layer (a few small products
     * a step) stay float32.
     */
    public static final Predicate<String> BF16_PRODUCTS = Stdit3::isBlockProduct;

    private static boolean isBlockProduct(String name) {
        String rest;
        if (name.startsWith("spatial_blocks.")) {
            rest = name.substring("spatial_blocks.".length());
        } else if (name.startsWith("temporal_blocks.")) {
            rest = name.substring("temporal_blocks.".length());
        } else {
            return false;
        }
        int dot = rest.indexOf('.');
        return dot > 0 && BLOCK_PRODUCTS.contains(rest.substring(dot + 1));
    }

    /** Name of the stored rotary frequencies (optional in a checkpoint). */
    public static final String ROPE_FREQS = "rope.freqs";

    private final Stdit3Config cfg;
    private final BlockSource source;
    private final boolean ownsSource;
    private final boolean ropeStored;
    private Workspace ws;
    private int workspaceAllocations;
    private ForwardStats lastStats;

    private final StageTimer timer = new StageTimer();
    private final Embedders embedders;
    private final BlockRunner blocks;

    private Stdit3(Stdit3Config cfg, BlockSource source, boolean ownsSource) {
        this.cfg = cfg;
        this.source = source;
        this.ownsSource = ownsSource;
        BlockLayout got = source.layout();
        this.embedders = new Embedders(cfg, timer);
        this.blocks = new BlockRunner(cfg, timer);
        this.ropeStored = got.blocks().stream().anyMatch(
                b -> b.name().equals(EMBEDDERS) && b.tensors().containsKey(ROPE_FREQS));
        Stdit3Layout.requireSame(layout(cfg, ropeStored), got);
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
        return Stdit3Layout.of(cfg, withRopeFreqs);
    }

    /**
     * The layout of {@code cfg} checked against a checkpoint: {@code rope.freqs} is included when the checkpoint
     * stores it; any missing, extra or mis-shaped tensor throws.
     *
     * @throws WeightFormatException naming the tensor, the file and both shapes, or a depth the checkpoint does not
     *                               have
     */
    public static BlockLayout validatedLayout(Stdit3Config cfg, Checkpoint ckpt) {
        BlockLayout.requireBlockCount(ckpt, "spatial_blocks.", cfg.depth(), "depth");   // before building the layout
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
     * @param probe       receives intermediate activations, or null. Names and shapes (B batch, N = T·S tokens, C
     *                    hidden, L caption tokens), none indexed: {@code pos_emb} [1,S,C], {@code t_embedder_out}
     *                    [B,C], {@code fps_embedder_out} [B,C], {@code t_block_out} [B,6C], with an x_mask also
     *                    {@code t_embedder_out_t0} [B,C] and {@code t_block_out_t0} [B,6C]; {@code y_embedder_out}
     *                    [B,1,L,C] (all tokens, padding included), {@code y_packed} [1,ΣL_b,C], {@code y_lens} [B] (as
     *                    floats), {@code x_embedder_out} [B,N,C] (before the position embedding), {@code blocks_in}
     *                    [B,N,C], {@code spatial_block_<i>_out} and {@code temporal_block_<i>_out} [B,N,C],
     *                    {@code final_layer_out} [B,N,patch·out_channels]
     */
    public void forward(Stdit3Input in, boolean mergeFrames, Tensor out, Tap probe) {
        forward(in, mergeFrames, out, probe, null, false);
    }

    /**
     * The full forward with step caching: as {@link #forward(Stdit3Input, boolean, Tensor, Tap)}, and with a
     * {@code cache} the block stack (or all of it after pair 0) is skipped when the cache's criterion allows it and
     * {@code mayReuse} is true; the cache records its decision either way. A null cache is the plain forward.
     */
    public void forward(Stdit3Input in, boolean mergeFrames, Tensor out, Tap probe, BlockCache cache,
            boolean mayReuse) {
        StageTimer.Scope forward = StageTimer.start("forward");
        InputGeometry g = InputGeometry.check(cfg, in, out);
        Workspace w = workspace(g);
        timer.restart();
        int tq = mergeFrames ? FrameMerging.mergedFrames(g.tp) : g.tp;

        Block emb = source.acquire(EMBEDDERS);
        float[] ropeFreqs;
        try {
            ropeFreqs = embedders.embed(emb, in, g, w, probe, ropeStored);
        } finally {
            source.release(emb);
        }
        timer.lap("embed");
        float[][] rope = Embedders.ropeFor(w, ropeFreqs, tq);

        int computedPairs = runBlocks(g, w, tq, rope, probe, cache, mayReuse);
        long selfCalls = 2L * computedPairs;
        long selfQueries = selfCalls * g.b * tq * g.s;

        Block fin = source.acquire(FINAL);
        try {
            blocks.finalLayer(fin, g, w, out, probe);
        } finally {
            source.release(fin);
        }
        timer.lap("final");
        forward.close();
        long total = forward.nanos();
        Map<String, Long> st = timer.snapshot();
        long gemm = st.getOrDefault("gemm", 0L);
        long attn = st.entrySet().stream().filter(e -> e.getKey().startsWith("attention"))
                .mapToLong(Map.Entry::getValue).sum();
        lastStats = new ForwardStats(mergeFrames, g.tp, tq, selfCalls, selfQueries, selfCalls, selfQueries, total,
                gemm, attn, total - gemm - attn, st);
        LOG.debug("{}", lastStats);
    }

    /**
     * The block pairs on w.x [B, Tp·S, C], or the part of them the step cache does not skip.
     *
     * @return block pairs computed
     */
    private int runBlocks(InputGeometry g, Workspace w, int tq, float[][] rope, Tap probe, BlockCache cache,
            boolean mayReuse) {
        if (cache == null) {
            return runPairs(0, g, w, tq, rope, probe, null);
        }
        if (cache.criterion() == BlockCache.Criterion.MODULATED_INPUT) {
            Block first = source.acquire(pairBlock(0));
            boolean handedOver = false;
            try {
                blocks.modulatedInput(first, "spatial_blocks.0.", g, w);    // xm [B·Tp·S, C]
                boolean reuse = cache.decide(w.xm, mayReuse);
                timer.lap("step-cache");
                if (reuse) {
                    cache.addResidual(w.x);                                 // x [B, Tp·S, C] += stack residual
                    timer.lap("step-cache");
                    return 0;
                }
                cache.spanStart(w.x);
                handedOver = true;
            } finally {
                if (!handedOver) {
                    source.release(first);
                }
            }
            int n = runPairs(0, g, w, tq, rope, probe, first);
            cache.spanEnd(w.x);
            timer.lap("step-cache");
            return n;
        }
        Tensor pairIn = cache.scratch(w.x.size());
        pairIn.copyFrom(w.x.reshape(Math.toIntExact(w.x.size())));          // [B·Tp·S·C]
        runPair(0, source.acquire(pairBlock(0)), g, w, tq, rope, probe);
        BlockCache.residualOf(w.x, pairIn);                                 // pair 0 residual [B·Tp·S·C]
        boolean reuse = cache.decide(pairIn, mayReuse);
        timer.lap("step-cache");
        if (reuse) {
            cache.addResidual(w.x);                                         // x += residual of pairs 1..depth-1
            timer.lap("step-cache");
            return 1;
        }
        cache.spanStart(w.x);
        int n = 1 + runPairs(1, g, w, tq, rope, probe, null);
        cache.spanEnd(w.x);
        timer.lap("step-cache");
        return n;
    }

    /** Pairs {@code from} … depth−1 (the first one already acquired when {@code acquired} is not null). */
    private int runPairs(int from, InputGeometry g, Workspace w, int tq, float[][] rope, Tap probe, Block acquired) {
        for (int i = from; i < cfg.depth(); i++) {
            runPair(i, i == from && acquired != null ? acquired : source.acquire(pairBlock(i)), g, w, tq, rope,
                    probe);
        }
        return cfg.depth() - from;
    }

    /** Spatial then temporal block of pair i; releases the pair's block. */
    private void runPair(int i, Block pair, InputGeometry g, Workspace w, int tq, float[][] rope, Tap probe) {
        try {
            blocks.block(pair, "spatial_blocks." + i + ".", false, g, w, tq, null);
            if (probe != null) {
                probe.capture("spatial_block_" + i + "_out", w.x);
            }
            blocks.block(pair, "temporal_blocks." + i + ".", true, g, w, tq, rope);
            if (probe != null) {
                probe.capture("temporal_block_" + i + "_out", w.x);
            }
        } finally {
            source.release(pair);
        }
    }

    private Workspace workspace(InputGeometry g) {
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
        Workspace w = workspace(InputGeometry.forWorkspace(cfg, batch, frames, height, width, captionLen));
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
        return workspaceBytes(cfg, batch, frames, height, width, captionLen, merging, false);
    }

    /**
     * {@link #workspaceBytes(Stdit3Config, int, int, int, int, int, boolean)}, with the scratch of bf16 compute
     * (a source handing out packed product weights) when {@code bf16Compute}.
     */
    public static long workspaceBytes(Stdit3Config cfg, int batch, int frames, int height, int width,
            int captionLen, boolean merging, boolean bf16Compute) {
        int tp = InputGeometry.ceilDiv(frames, cfg.patchT());
        int s = InputGeometry.ceilDiv(height, cfg.patchH()) * InputGeometry.ceilDiv(width, cfg.patchW());
        return Workspace.estimateBytes(cfg, batch, tp, s, captionLen, merging, bf16Compute);
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
}

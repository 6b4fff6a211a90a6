package io.github.jsora.text;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockSource;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.WeightFormatException;

/**
 * The T5 encoder stack (Hugging Face {@code T5EncoderModel}; T5 v1.1 when the config says "gated-gelu") in float32.
 *
 * <pre>
 * x = E[ids]                                        // [B, L, d], no √d scaling
 * bias = relBias[bucket(j − i)]                     // [H, L, L], computed in block 0, reused by every block
 * for each block:
 *   h = RMSNorm(x)·w0                               // variance in fp32, eps from the config
 *   q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ                   // [B, L, H·dk] → [B·H, L, dk], no biases
 *   a = softmax(q·kᵀ + bias + padMask)·v            // NO 1/√dk scaling; padMask = (1 − mask)·float32_min on keys
 *   x = x + a·Woᵀ
 *   h = RMSNorm(x)·w1
 *   x = x + Wo(act(h·Wi0ᵀ) ⊙ h·Wi1ᵀ)                // gated; Wo(act(h·Wiᵀ)) when not gated
 * out = RMSNorm(x)·wf                               // [B, L, d] last_hidden_state
 * </pre>
 * Padded query positions are computed like real ones (their outputs are non-zero, as in the reference).
 *
 * <p>Weights come from a {@link BlockSource} in a block loop (acquire, compute, release) over the blocks of
 * {@link #layout}: {@code embedding}, {@code block.0} … {@code block.{n−1}} ({@code block.0} also holds the relative
 * attention bias table), {@code final_norm}; so a streaming source can keep only a few blocks resident. The source
 * is the caller's (not closed here). Not thread-safe: one forward pass at a time per instance.
 */
public final class T5Encoder {

    /** Block names of the layout. */
    public static final String EMBEDDING_BLOCK = "embedding";
    public static final String FINAL_NORM_BLOCK = "final_norm";

    /** Embedding tensor names accepted (T5EncoderModel stores the same tied tensor under both). */
    public static final String SHARED = "shared.weight";
    public static final String EMBED_TOKENS = "encoder.embed_tokens.weight";

    /**
     * The weights bf16 compute keeps packed ({@code BlockStore.Options.withPackedProducts}): q, k, v, o, wi_0,
     * wi_1 (or wi) and wo of every block, and the embedding table (its rows are widened to float32 as they are
     * looked up). The position bias table and the norms stay float32.
     */
    public static final Predicate<String> BF16_PRODUCTS = T5Encoder::isProduct;

    private static final List<String> PRODUCTS = List.of("0.SelfAttention.q.weight", "0.SelfAttention.k.weight",
            "0.SelfAttention.v.weight", "0.SelfAttention.o.weight", "1.DenseReluDense.wi_0.weight",
            "1.DenseReluDense.wi_1.weight", "1.DenseReluDense.wi.weight", "1.DenseReluDense.wo.weight");

    private static boolean isProduct(String name) {
        if (name.equals(SHARED) || name.equals(EMBED_TOKENS)) {
            return true;
        }
        if (!name.startsWith("encoder.block.")) {
            return false;
        }
        int layer = name.indexOf(".layer.");
        return layer > 0 && PRODUCTS.contains(name.substring(layer + ".layer.".length()));
    }

    private final T5Config config;
    private final BlockSource weights;
    private final String embeddingName;

    /**
     * @param config  model configuration
     * @param weights a source serving {@link #layout(T5Config, String)} for either embedding name
     * @throws IllegalArgumentException when the source's layout is not this config's layout
     */
    public T5Encoder(T5Config config, BlockSource weights) {
        this.config = config;
        this.weights = weights;
        BlockLayout served = weights.layout();
        Map<String, int[]> emb = served.block(EMBEDDING_BLOCK).tensors();
        if (emb.size() != 1) {
            throw new IllegalArgumentException("embedding block must hold one tensor, found " + emb.keySet());
        }
        this.embeddingName = emb.keySet().iterator().next();
        if (!embeddingName.equals(SHARED) && !embeddingName.equals(EMBED_TOKENS)) {
            throw new IllegalArgumentException("embedding tensor must be " + SHARED + " or " + EMBED_TOKENS
                    + ", found " + embeddingName);
        }
        requireSameLayout(layout(config, embeddingName), served);
    }

    private static void requireSameLayout(BlockLayout expected, BlockLayout served) {
        List<BlockLayout.BlockSpec> e = expected.blocks();
        List<BlockLayout.BlockSpec> s = served.blocks();
        if (e.size() != s.size()) {
            throw new IllegalArgumentException("block source serves " + s.size() + " blocks, the config needs "
                    + e.size());
        }
        for (int i = 0; i < e.size(); i++) {
            BlockLayout.BlockSpec a = e.get(i);
            BlockLayout.BlockSpec b = s.get(i);
            if (!a.name().equals(b.name()) || !a.tensors().keySet().equals(b.tensors().keySet())) {
                throw new IllegalArgumentException("block " + i + " of the source is " + b.name() + " "
                        + b.tensors().keySet() + ", the config needs " + a.name() + " " + a.tensors().keySet());
            }
            for (Map.Entry<String, int[]> t : a.tensors().entrySet()) {
                if (!Arrays.equals(t.getValue(), b.tensors().get(t.getKey()))) {
                    throw new IllegalArgumentException("tensor " + t.getKey() + ": source shape "
                            + Arrays.toString(b.tensors().get(t.getKey())) + ", config needs "
                            + Arrays.toString(t.getValue()));
                }
            }
        }
    }

    public T5Config config() {
        return config;
    }

    /** Name of block i of the encoder stack. */
    public static String blockName(int i) {
        return "block." + i;
    }

    /** The block layout of an encoder; {@code embeddingName} is {@link #SHARED} or {@link #EMBED_TOKENS}. */
    public static BlockLayout layout(T5Config c, String embeddingName) {
        int d = c.dModel();
        int inner = c.innerDim();
        BlockLayout.Builder b = BlockLayout.builder();
        b.block(EMBEDDING_BLOCK).tensor(embeddingName, c.vocabSize(), d);
        for (int i = 0; i < c.numLayers(); i++) {
            String p = "encoder.block." + i + ".layer.";
            b.block(blockName(i));
            b.tensor(p + "0.SelfAttention.q.weight", inner, d);
            b.tensor(p + "0.SelfAttention.k.weight", inner, d);
            b.tensor(p + "0.SelfAttention.v.weight", inner, d);
            b.tensor(p + "0.SelfAttention.o.weight", d, inner);
            if (i == 0) {
                b.tensor(p + "0.SelfAttention.relative_attention_bias.weight", c.relativeAttentionNumBuckets(),
                        c.numHeads());
            }
            b.tensor(p + "0.layer_norm.weight", d);
            if (c.gated()) {
                b.tensor(p + "1.DenseReluDense.wi_0.weight", c.dFf(), d);
                b.tensor(p + "1.DenseReluDense.wi_1.weight", c.dFf(), d);
            } else {
                b.tensor(p + "1.DenseReluDense.wi.weight", c.dFf(), d);
            }
            b.tensor(p + "1.DenseReluDense.wo.weight", d, c.dFf());
            b.tensor(p + "1.layer_norm.weight", d);
        }
        b.block(FINAL_NORM_BLOCK).tensor("encoder.final_layer_norm.weight", d);
        return b.build();
    }

    /**
     * The layout for a checkpoint: embedding from {@code shared.weight} when present, else
     * {@code encoder.embed_tokens.weight}; validated against the checkpoint (decoder tensors, {@code lm_head} and the
     * unused embedding name are ignored).
     *
     * @throws WeightFormatException naming the checkpoint and the missing, extra or mis-shaped tensor
     */
    public static BlockLayout layoutFor(T5Config c, Checkpoint ckpt) {
        String emb;
        if (ckpt.contains(SHARED)) {
            emb = SHARED;
        } else if (ckpt.contains(EMBED_TOKENS)) {
            emb = EMBED_TOKENS;
        } else {
            throw new WeightFormatException(ckpt.source() + ": no embedding tensor (neither \"" + SHARED
                    + "\" nor \"" + EMBED_TOKENS + "\")");
        }
        BlockLayout.requireBlockCount(ckpt, "encoder.block.", c.numLayers(), "num_layers"); // before the layout
        BlockLayout layout = layout(c, emb);
        layout.validate(ckpt, "decoder.", "lm_head.", emb.equals(SHARED) ? EMBED_TOKENS : SHARED);
        return layout;
    }

    // ------------------------------------------------------------------ relative position bias

    /**
     * Hugging Face's {@code _relative_position_bucket} for one relative position {@code rp = key − query},
     * computed in float32 like the reference: exact buckets below {@code maxExact = nb/2}, logarithmic above,
     * capped at {@code nb − 1}, where {@code nb = numBuckets/2} and positive {@code rp} add {@code nb} when
     * bidirectional.
     */
    public static int relativePositionBucket(int rp, boolean bidirectional, int numBuckets, int maxDistance) {
        int bucket = 0;
        int nb = numBuckets;
        int a;
        if (bidirectional) {
            nb /= 2;
            if (rp > 0) {
                bucket += nb;
            }
            a = Math.abs(rp);
        } else {
            a = -Math.min(rp, 0);
        }
        int maxExact = nb / 2;
        if (a < maxExact) {
            return bucket + a;
        }
        float ratio = (float) a / (float) maxExact;
        float logRatio = (float) Math.log(ratio);
        float scaled = logRatio / (float) Math.log((double) maxDistance / maxExact) * (float) (nb - maxExact);
        int large = maxExact + (int) scaled;
        return bucket + Math.min(large, nb - 1);
    }

    /**
     * Position bias of block 0: {@code out[h, i, j] = table[bucket(j − i), h]}.
     *
     * @param table [numBuckets, H] ({@code relative_attention_bias.weight})
     * @param out   [H, L, L], written
     */
    public static void positionBias(Tensor table, int numBuckets, int maxDistance, Tensor out) {
        int h = out.dim(0);
        int l = out.dim(1);
        table.requireShape("relative_attention_bias", numBuckets, h);
        out.requireShape("position bias", h, l, l);
        float[] t = table.toArray();
        int[] bucketOf = new int[2 * l + 1];   // index rp + l
        for (int rp = -l; rp <= l; rp++) {
            bucketOf[rp + l] = relativePositionBucket(rp, true, numBuckets, maxDistance);
        }
        // row i of a head is its values by relative position j − i, a window of one array: one copy a row
        Parallel.forRange(h, (long) l * l, (from, to) -> {
            float[] byDistance = new float[2 * l + 1];                // [rp + l]
            for (int head = from; head < to; head++) {
                for (int k = 0; k < byDistance.length; k++) {
                    byDistance[k] = t[bucketOf[k] * h + head];
                }
                for (int i = 0; i < l; i++) {
                    out.write(((long) head * l + i) * l, byDistance, l - i, l);   // j − i + l for j = 0..l−1
                }
            }
        });
    }

    // ------------------------------------------------------------------ forward

    /** {@link #forward(int[][], int[][], Tap)} without a probe. */
    public Tensor forward(int[][] ids, int[][] mask) {
        return forward(ids, mask, null);
    }

    /** Runs the encoder on a tokenized batch. */
    public Tensor forward(TokenizedBatch batch) {
        return forward(batch.inputIds(), batch.attentionMask(), null);
    }

    /**
     * Runs the encoder.
     *
     * @param ids   [B][L] token ids in [0, vocab_size)
     * @param mask  [B][L] attention mask of 0/1 (1 = real token)
     * @param probe receives intermediate activations, or null; names (none indexed): {@code hidden_states.i} = input
     *              of block i and {@code hidden_states.n} = final output [B, L, d];
     *              {@code last_block_out_before_final_norm} [B, L, d]; {@code position_bias} [H, L, L] (without the
     *              padding mask)
     * @return last hidden state [B, L, d] (new tensor, caller closes)
     * @throws IllegalArgumentException for ragged rows, an id outside the vocabulary or a mask value not 0/1
     */
    public Tensor forward(int[][] ids, int[][] mask, Tap probe) {
        int bsz = ids.length;
        if (bsz == 0 || mask.length != bsz) {
            throw new IllegalArgumentException("need a non-empty batch with one mask row per id row: " + bsz
                    + " id rows, " + mask.length + " mask rows");
        }
        int l = ids[0].length;
        if (l == 0) {
            throw new IllegalArgumentException("sequence length is 0");
        }
        for (int b = 0; b < bsz; b++) {
            if (ids[b].length != l || mask[b].length != l) {
                throw new IllegalArgumentException("row " + b + ": ids length " + ids[b].length + ", mask length "
                        + mask[b].length + ", expected " + l);
            }
            for (int i = 0; i < l; i++) {
                if (ids[b][i] < 0 || ids[b][i] >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + ids[b][i] + " at [" + b + "][" + i
                            + "] is outside the vocabulary [0, " + config.vocabSize() + ")");
                }
                if (mask[b][i] != 0 && mask[b][i] != 1) {
                    throw new IllegalArgumentException("attention mask value " + mask[b][i] + " at [" + b + "][" + i
                            + "] is not 0 or 1");
                }
            }
        }
        int d = config.dModel();
        int heads = config.numHeads();
        int dk = config.dKv();
        int inner = config.innerDim();
        int rows = bsz * l;
        float eps = (float) config.layerNormEpsilon();
        float[] maskAdd = new float[bsz * l];
        for (int b = 0; b < bsz; b++) {
            for (int i = 0; i < l; i++) {
                maskAdd[b * l + i] = mask[b][i] == 1 ? 0f : -Float.MAX_VALUE;   // (1 − mask)·finfo(float32).min
            }
        }
        Tensor x = Tensor.zeros(bsz, l, d);                                      // [B, L, d] residual stream
        boolean done = false;
        try (Tensor h = Tensor.zeros(rows, d);                                   // [B·L, d] normed
                Tensor q = Tensor.zeros(rows, inner);                            // [B·L, H·dk]
                Tensor k = Tensor.zeros(rows, inner);
                Tensor v = Tensor.zeros(rows, inner);
                Tensor qh = Tensor.zeros(bsz * heads, l, dk);                    // [B·H, L, dk]
                Tensor kh = Tensor.zeros(bsz * heads, l, dk);
                Tensor vh = Tensor.zeros(bsz * heads, l, dk);
                Tensor ah = Tensor.zeros(bsz * heads, l, dk);
                Tensor proj = Tensor.zeros(rows, d);                             // [B·L, d]
                Tensor ff0 = Tensor.zeros(rows, config.dFf());                   // [B·L, dff]
                Tensor ff1 = config.gated() ? Tensor.zeros(rows, config.dFf()) : null;
                Tensor bias = Tensor.zeros(heads, l, l);                         // [H, L, L]
                Tensor keyMask = Tensor.of(maskAdd, bsz, l);                     // [B, L] additive
                Products mm = new Products(rows, config)) {
            Tensor x2 = x.reshape(rows, d);
            embed(ids, x2);
            for (int i = 0; i < config.numLayers(); i++) {
                if (probe != null) {
                    probe.capture("hidden_states." + i, x);
                }
                Block blk = weights.acquire(blockName(i));
                try {
                    String p = "encoder.block." + i + ".layer.";
                    if (i == 0) {
                        positionBias(blk.get(p + "0.SelfAttention.relative_attention_bias.weight"),
                                config.relativeAttentionNumBuckets(), config.relativeAttentionMaxDistance(), bias);
                        if (probe != null) {
                            probe.capture("position_bias", bias);
                        }
                    }
                    // self-attention sub-layer
                    Ops.rmsNorm(x2, blk.get(p + "0.layer_norm.weight"), eps, h);
                    mm.linear(h, blk, p + "0.SelfAttention.q.weight", q);
                    mm.linear(h, blk, p + "0.SelfAttention.k.weight", k);
                    mm.linear(h, blk, p + "0.SelfAttention.v.weight", v);
                    Attention.splitHeads(q, bsz, l, heads, dk, qh);
                    Attention.splitHeads(k, bsz, l, heads, dk, kh);
                    Attention.splitHeads(v, bsz, l, heads, dk, vh);
                    boolean fast = blk.packed(p + "0.SelfAttention.q.weight") != null;   // bf16 compute
                    if (fast) {
                        Attention.sdpa(qh, kh, vh, 1f, bias, keyMask, mm.scores(bsz * heads, l), ah,
                                Attention.Softmax.FAST);
                    } else {
                        Attention.sdpa(qh, kh, vh, 1f, bias, keyMask, ah);
                    }
                    Attention.mergeHeads(ah, bsz, l, heads, dk, q);                        // q reused as [B·L, H·dk]
                    mm.linear(q, blk, p + "0.SelfAttention.o.weight", proj);
                    Ops.addInPlace(x2, proj);
                    // feed-forward sub-layer
                    Ops.rmsNorm(x2, blk.get(p + "1.layer_norm.weight"), eps, h);
                    if (config.gated()) {
                        mm.linear(h, blk, p + "1.DenseReluDense.wi_0.weight", ff0);
                        mm.linear(h, blk, p + "1.DenseReluDense.wi_1.weight", ff1);
                        if (fast && config.activation() == T5Config.Activation.GELU_TANH) {
                            Ops.geluTanhMul(ff0, ff1, ff0);                       // one pass, same values
                        } else {
                            activate(ff0);
                            Ops.mul(ff0, ff1, ff0);
                        }
                    } else {
                        mm.linear(h, blk, p + "1.DenseReluDense.wi.weight", ff0);
                        activate(ff0);
                    }
                    mm.linear(ff0, blk, p + "1.DenseReluDense.wo.weight", proj);
                    Ops.addInPlace(x2, proj);
                } finally {
                    weights.release(blk);
                }
            }
            if (probe != null) {
                probe.capture("last_block_out_before_final_norm", x);
            }
            Block fin = weights.acquire(FINAL_NORM_BLOCK);
            try {
                Ops.rmsNorm(x2, fin.get("encoder.final_layer_norm.weight"), eps, x2);
            } finally {
                weights.release(fin);
            }
            if (probe != null) {
                probe.capture("hidden_states." + config.numLayers(), x);
            }
            done = true;
            return x;
        } finally {
            if (!done) {
                x.close();
            }
        }
    }

    /**
     * Upper bound of the native bytes a forward of {@code batch} sequences of {@code length} tokens allocates besides
     * the weights: the buffers of {@link #forward(int[][], int[][], Tap)}, the attention scores and the caller's
     * copy of the result ({@link T5TextEncoder#encode}).
     */
    public static long activationBytes(T5Config c, int batch, int length) {
        return activationBytes(c, batch, length, false);
    }

    /** {@link #activationBytes(T5Config, int, int)}, with the bf16 product scratch when {@code bf16Compute}. */
    public static long activationBytes(T5Config c, int batch, int length, boolean bf16Compute) {
        long rows = (long) batch * length;
        long heads = c.numHeads();
        long floats = 3 * rows * c.dModel()                       // x, h, proj
                + 3 * rows * c.innerDim() + 4 * rows * c.innerDim() // q, k, v; split heads
                + (c.gated() ? 2 : 1) * rows * c.dFf()            // feed-forward
                + heads * length * length + rows                  // position bias, key mask
                + Attention.scoreFloats(Math.toIntExact(batch * heads), (long) length * length)
                + 2 * rows * c.dModel()                           // result and its copy
                + (bf16Compute ? Products.scratchFloats(rows, c) : 0);
        return floats * Float.BYTES;
    }

    /**
     * The products of a forward: {@code out = x·Wᵀ} with a block's weight, in bf16 ({@link Bf16Gemm}) when the block
     * holds it packed, else the float32 sgemm as before. The bf16 scratch and the score buffer of the fast
     * attention are allocated once per forward, on first use (bf16 compute only).
     */
    private static final class Products implements AutoCloseable {
        private final int rows;
        private final long bound; // scratch floats of the largest product of a block
        private final long nativeOperands; // the native route's bf16 operands of the widest product
        private Tensor scratch;
        private Tensor scores;

        Products(int rows, T5Config c) {
            this.rows = rows;
            this.bound = scratchFloats(rows, c);
            this.nativeOperands = nativeOperandFloats(rows, Math.max(c.dFf(), c.innerDim()), c.dModel());
        }

        /** Floats of the bf16 scratch: the bf16 operands of the widest product, or a float32 expansion of it. */
        static long scratchFloats(long rows, T5Config c) {
            long widest = Math.max(c.dFf(), c.innerDim());
            return Math.max(widest * c.dModel(), nativeOperandFloats(rows, widest, c.dModel()));
        }

        /** Floats of the bf16 input and output of the widest product on the native route. */
        static long nativeOperandFloats(long rows, long widest, long dModel) {
            return rows * (dModel + widest) / 2 + 2;
        }

        void linear(Tensor x, Block blk, String name, Tensor out) {
            PackedWeight w = blk.packed(name);
            if (w == null) {
                Gemm.linear(x, blk.get(name), null, out);
                return;
            }
            long need = Bf16Gemm.selectedScratchFloats(rows, w);
            if (scratch == null || scratch.size() < need) {
                if (scratch != null) {
                    scratch.close();
                }
                scratch = null;
                // the native route's operands of every product of a block, or (a product that expands) the bound:
                // not the bound for all, whose 168 MB at XXL width took ~90 ms to allocate and zero each forward
                scratch = Tensor.zeros(Math.toIntExact(need <= nativeOperands ? nativeOperands : Math.max(need, bound)));
            }
            Bf16Gemm.linear(x, w, null, out, scratch);
        }

        /** The score buffer {@link Attention#sdpa} would allocate for {@code batch} rows of L×L. */
        Tensor scores(int batch, int l) {
            if (scores == null) {
                scores = Tensor.zeros(Math.toIntExact(Attention.scoreFloats(batch, (long) l * l)));
            }
            return scores;
        }

        @Override
        public void close() {
            if (scratch != null) {
                scratch.close();
            }
            if (scores != null) {
                scores.close();
            }
        }
    }

    /** x[r] = E[ids[r]] for every token. */
    private void embed(int[][] ids, Tensor x2) {
        int d = config.dModel();
        int l = ids[0].length;
        Block emb = weights.acquire(EMBEDDING_BLOCK);
        try {
            PackedWeight packed = emb.packed(embeddingName);                     // bf16 compute: [vocab, d] bf16
            Tensor table = packed == null ? emb.get(embeddingName) : null;       // [vocab, d]
            float[] row = new float[d];
            ByteBuffer bits = packed == null ? null : ByteBuffer.allocate(2 * d).order(ByteOrder.LITTLE_ENDIAN);
            for (int b = 0; b < ids.length; b++) {
                for (int i = 0; i < l; i++) {
                    if (packed == null) {
                        table.read((long) ids[b][i] * d, row, 0, d);
                    } else {
                        bits.clear();
                        packed.readRaw((long) ids[b][i] * d, bits);
                        for (int j = 0; j < d; j++) {
                            row[j] = Float.intBitsToFloat(bits.getShort(2 * j) << 16);
                        }
                    }
                    x2.write(((long) b * l + i) * d, row, 0, d);
                }
            }
        } finally {
            weights.release(emb);
        }
    }

    private void activate(Tensor t) {
        switch (config.activation()) {
            case GELU_TANH -> Ops.geluTanh(t, t);
            case SILU -> Ops.silu(t, t);
            case RELU -> Ops.relu(t);
            default -> throw new IllegalStateException();
        }
    }
}

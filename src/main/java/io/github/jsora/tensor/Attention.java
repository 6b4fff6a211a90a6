package io.github.jsora.tensor;

import java.util.Arrays;

/**
 * Scaled dot-product attention on batched, head-major tensors:
 * {@code out[b] = softmax(scale·q[b]·k[b]ᵀ + bias[b mod biasBatch] + keyMask[b / masksEvery]) · v[b]}.
 *
 * <p>Scores are computed in slabs of batch rows inside a score buffer: each slab is two batched products (q·kᵀ and
 * p·v over all rows of the slab) and one parallel softmax pass in Java. Models pass a buffer they allocated once
 * (their per-forward workspace), so a sampling loop makes no native allocation per call; the overload without one
 * allocates a buffer bounded to 256 MiB for the call.
 */
public final class Attention {

    /** Largest score buffer the allocating overload makes, in floats (256 MiB). */
    private static final long MAX_SCORE_FLOATS = 64L * 1024 * 1024;

    private Attention() {
    }

    /**
     * Attention with a score buffer allocated for the call.
     *
     * @param q       [Bt, M, d]
     * @param k       [Bt, N, d]
     * @param v       [Bt, N, dv]
     * @param scale   multiplier of q·kᵀ (1/√d for standard attention, 1 for T5)
     * @param bias    additive [Bb, M, N] with Bt a multiple of Bb (row b uses bias[b mod Bb]), or null
     * @param keyMask additive [Bm, N] (0 or −∞ per key), row b uses keyMask[b / (Bt/Bm)], or null
     * @param out     [Bt, M, dv], written
     */
    /** Floats of the score buffer {@link #sdpa(Tensor, Tensor, Tensor, float, Tensor, Tensor, Tensor)} allocates. */
    public static long scoreFloats(int batch, long queriesTimesKeys) {
        return Math.max(1, Math.min(batch, MAX_SCORE_FLOATS / Math.max(1, queriesTimesKeys))) * queriesTimesKeys;
    }

    public static void sdpa(Tensor q, Tensor k, Tensor v, float scale, Tensor bias, Tensor keyMask, Tensor out) {
        checkShapes(q, k, v, bias, keyMask, out);
        int bt = q.dim(0);
        long perRow = (long) q.dim(1) * k.dim(1);
        if (bt == 0 || perRow == 0 || v.dim(2) == 0) {
            sdpa(q, k, v, scale, bias, keyMask, null, out); // no work: only the checks run
            return;
        }
        try (Tensor scores = Tensor.zeros(Math.toIntExact(scoreFloats(bt, perRow)))) {
            sdpa(q, k, v, scale, bias, keyMask, scores, out);
        }
    }

    /**
     * Attention with a caller-owned score buffer.
     *
     * @param scratch any tensor of at least M·N elements (contents overwritten; must not overlap the other
     *                operands); the more rows of M·N fit, the fewer and larger the batched products
     * @see #sdpa(Tensor, Tensor, Tensor, float, Tensor, Tensor, Tensor)
     */
    public static void sdpa(Tensor q, Tensor k, Tensor v, float scale, Tensor bias, Tensor keyMask, Tensor scratch,
            Tensor out) {
        sdpa(q, k, v, scale, bias, keyMask, scratch, out, Softmax.EXACT);
    }

    /** How the score rows are normalised. */
    public enum Softmax {
        /** {@link Ops#softmaxRow}: {@code Math.exp}, double sum (the existing results). */
        EXACT,
        /** {@link Ops#softmaxRowFast}: {@link Ops#expNonPositive}, float partial sums (vectorised; within 1e-6 relative). */
        FAST
    }

    /**
     * {@link #sdpa(Tensor, Tensor, Tensor, float, Tensor, Tensor, Tensor, Tensor)} with a choice of softmax kernel.
     */
    public static void sdpa(Tensor q, Tensor k, Tensor v, float scale, Tensor bias, Tensor keyMask, Tensor scratch,
            Tensor out, Softmax softmax) {
        boolean fast = softmax == Softmax.FAST;
        checkShapes(q, k, v, bias, keyMask, out);
        int bt = q.dim(0);
        int m = q.dim(1);
        int n = k.dim(1);
        if (bt == 0 || m == 0 || v.dim(2) == 0) {
            return;
        }
        if (n == 0) {
            throw new IllegalArgumentException("attention over zero keys: k" + k.shapeString());
        }
        long perRow = (long) m * n;
        if (scratch.size() < perRow) {
            throw new IllegalArgumentException("attention scratch of " + scratch.size() + " floats is smaller than one "
                    + m + "x" + n + " score matrix");
        }
        float[] maskRows = keyMask == null ? null : keyMask.toArray();
        int maskEvery = keyMask == null ? 1 : bt / keyMask.dim(0);
        int slab = (int) Math.min(bt, scratch.size() / perRow);
        for (int b0 = 0; b0 < bt; b0 += slab) {
            int nb = Math.min(slab, bt - b0);
            Tensor s = scratch.view(0, nb, m, n);
            Gemm.batchedMatmul(q.slice(b0, b0 + nb), false, k.slice(b0, b0 + nb), true, s, 1f, 0f);
            if (bias == null && maskRows == null) {
                softmaxRows(s, nb * m, n, scale, fast);
            } else {
                softmaxRows(s, b0, scale, bias, maskRows, maskEvery, m, n, fast);
            }
            Gemm.batchedMatmul(s, false, v.slice(b0, b0 + nb), false, out.slice(b0, b0 + nb), 1f, 0f);
        }
    }

    /**
     * Matrices of one attention operand inside a larger tensor: matrix i starts at element {@code offsets[i]} of
     * {@code t} and has row stride {@code ld} (for example one head of a sequence's token-major q, k or v rows).
     */
    public record Strided(Tensor t, long[] offsets, int ld) {
    }

    /**
     * Attention without bias or mask on matrices in place ({@link Strided}): for every i,
     * {@code out_i = softmax(scale·q_i·k_iᵀ)·v_i} with q_i [m, d], k_i [n, d], v_i [n, dv], out_i [m, dv]. The
     * score products, softmax and value products are those of
     * {@link #sdpa(Tensor, Tensor, Tensor, float, Tensor, Tensor, Tensor, Tensor)} on contiguous copies (same
     * products, same softmax), so head split and merge copies are not needed.
     *
     * @param scratch score buffer of at least m·n floats, not overlapping the operands
     */
    public static void sdpa(Strided q, Strided k, Strided v, int m, int n, int d, int dv, float scale,
            Tensor scratch, Strided out) {
        sdpa(q, k, v, m, n, d, dv, scale, scratch, out, Softmax.EXACT);
    }

    /** {@link #sdpa(Strided, Strided, Strided, int, int, int, int, float, Tensor, Strided)} with a choice of softmax. */
    public static void sdpa(Strided q, Strided k, Strided v, int m, int n, int d, int dv, float scale,
            Tensor scratch, Strided out, Softmax softmax) {
        sdpa(q, k, v, m, n, d, dv, scale, scratch, out, softmax, Schedule.SHARED);
    }

    /**
     * How {@link #sdpa(Strided, Strided, Strided, int, int, int, int, float, Tensor, Strided, Softmax, Schedule)}
     * spreads its work over the cores. Both compute every output element with the same products and softmax; they
     * differ in which OpenBLAS thread count runs each product.
     */
    public enum Schedule {
        /**
         * Slabs of matrices: each score and value product runs on all OpenBLAS threads, one after the other, and the
         * softmax of a slab in parallel between them (the float32 results of earlier releases).
         */
        SHARED,
        /**
         * Each compute thread takes an equal share of the items (a group of whole matrices, or a block of query rows
         * of one, whose scores take at most 65,536 floats) and runs the score product, the softmax
         * and the value product of each, with OpenBLAS set to one thread for the call ({@link Gemm#singleThreaded});
         * an item's scores stay in that core's cache. Faster for many small matrices
         * (STDiT3's spatial and temporal heads), since a product of a few million multiply-adds is too small to
         * split well over threads. OpenBLAS's AVX-512 kernel gives a product the same bits on one thread as on
         * two; its AVX2 ("Haswell") kernel does not (differences of a few ulp), so float32 runs that must keep
         * their bits use {@link #SHARED}. Falls back to {@link #SHARED} on one thread, or when the scratch cannot
         * hold one row of scores per thread.
         */
        PER_THREAD,
        /**
         * {@link #PER_THREAD}, except that sequences of at most 64 keys and at least 64 queries (STDiT3's
         * cross-attention to a caption's valid tokens) run both products in SIMD registers in Java: float32 with
         * fused multiply-adds, the heads of a token read as one row, the same softmax. Those products are too thin
         * for a BLAS call to run well; their bits are not the BLAS products' (relative differences of about 1e-7),
         * so it is for bf16 compute. Where the SIMD loops are off ({@link ExactExp#vectorised()}), as
         * {@link #PER_THREAD}.
         */
        PER_THREAD_SIMD,
        /**
         * For float32 runs that must keep {@link #SHARED}'s bits: per call shape, the first of
         * {@link #PER_THREAD_SIMD} and {@link #PER_THREAD} whose output was seen in this process to equal SHARED's bit
         * for bit (one probe on random matrices of that shape, the first time it is called), else SHARED. A BLAS
         * kernel's order of operations for an element depends on the sizes and the thread count, not on the values,
         * so the probe decides for every call of the shape. OpenBLAS's AVX-512 kernels pass at STDiT3's shapes; its
         * AVX2 ("Haswell") kernel does not. The choice is logged once per shape.
         */
        SHARED_BITS
    }

    /** Floats of scores one thread's block of query rows takes at most in {@link Schedule#PER_THREAD}: 256 KiB. */
    static final int BLOCK_FLOATS = 64 * 1024;

    /**
     * {@link #sdpa(Strided, Strided, Strided, int, int, int, int, float, Tensor, Strided, Softmax)} with a choice of
     * {@link Schedule}.
     */
    public static void sdpa(Strided q, Strided k, Strided v, int m, int n, int d, int dv, float scale,
            Tensor scratch, Strided out, Softmax softmax, Schedule schedule) {
        int bt = q.offsets().length;
        if (k.offsets().length != bt || v.offsets().length != bt || out.offsets().length != bt) {
            throw new IllegalArgumentException("attention operands name different matrix counts: q " + bt + ", k "
                    + k.offsets().length + ", v " + v.offsets().length + ", out " + out.offsets().length);
        }
        if (bt == 0 || m == 0 || dv == 0) {
            return;
        }
        if (n == 0 || d == 0) {
            throw new IllegalArgumentException("attention over zero keys or zero-width heads: n=" + n + ", d=" + d);
        }
        long perRow = (long) m * n;
        if (scratch.size() < perRow) {
            throw new IllegalArgumentException("attention scratch of " + scratch.size() + " floats is smaller than one "
                    + m + "x" + n + " score matrix");
        }
        boolean fast = softmax == Softmax.FAST;
        if (schedule == Schedule.SHARED_BITS) {
            schedule = SharedBitsSchedule.choose(m, n, d, dv, fast, scratch);
        }
        if (schedule == Schedule.PER_THREAD_SIMD && FewKeysAttention.takes(m, n)) {
            FewKeysAttention.sdpa(q, k, v, m, n, d, dv, scale, out, fast);
            return;
        }
        int threads = Parallel.threads();
        long perThread = scratch.size() / threads;
        if (schedule != Schedule.SHARED && threads > 1 && perThread >= n) {
            perThreadItems(q, k, v, m, n, d, dv, scale, scratch, out, fast, threads, perThread);
            return;
        }
        int slab = (int) Math.min(bt, scratch.size() / perRow);
        long[] sOff = new long[slab];
        for (int i = 0; i < slab; i++) {
            sOff[i] = i * perRow;
        }
        for (int b0 = 0; b0 < bt; b0 += slab) {
            int nb = Math.min(slab, bt - b0);
            long[] so = nb == slab ? sOff : Arrays.copyOf(sOff, nb);
            Gemm.matmulAt(false, true, m, n, d, 1f, q.t(), range(q.offsets(), b0, nb), q.ld(), k.t(),
                    range(k.offsets(), b0, nb), k.ld(), 0f, scratch, so, n);
            softmaxRows(scratch.view(0, nb, m, n), nb * m, n, scale, fast);
            Gemm.matmulAt(false, false, m, dv, n, 1f, scratch, so, n, v.t(), range(v.offsets(), b0, nb), v.ld(), 0f,
                    out.t(), range(out.offsets(), b0, nb), out.ld());
        }
    }

    /**
     * {@link Schedule#PER_THREAD}: thread t owns scratch floats [t·perThread, (t+1)·perThread) and items
     * [items·t/threads, items·(t+1)/threads). An item is query rows [r0, r0 + rows) of one matrix when a whole score
     * matrix does not fit in a block, else a group of whole matrices (one call of each product for the group).
     */
    private static void perThreadItems(Strided q, Strided k, Strided v, int m, int n, int d, int dv, float scale,
            Tensor scratch, Strided out, boolean fast, int threads, long perThread) {
        int bt = q.offsets().length;
        long block = Math.min(Math.max(BLOCK_FLOATS, n), perThread);            // >= n
        int blockRows = (int) Math.min(m, block / n);                           // >= 1
        int blocks = (m + blockRows - 1) / blockRows;
        int group = blocks > 1 ? 1 : (int) Math.max(1, Math.min(bt, block / ((long) m * n)));
        long items = blocks > 1 ? (long) bt * blocks : (bt + group - 1) / group;
        Gemm.singleThreaded(() -> Parallel.forRange(threads, Long.MAX_VALUE / threads, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                long[] so = new long[group];                                    // [rows, n] scores of thread t
                for (int j = 0; j < group; j++) {
                    so[j] = t * perThread + (long) j * m * n;
                }
                long[] qo = new long[group];
                long[] ko = new long[group];
                long[] vo = new long[group];
                long[] oo = new long[group];
                for (long item = items * t / threads; item < items * (t + 1) / threads; item++) {
                    int i0 = (int) (blocks > 1 ? item / blocks : item * group);
                    int r0 = blocks > 1 ? (int) (item % blocks) * blockRows : 0;
                    int rows = Math.min(blockRows, m - r0);
                    int g = Math.min(group, bt - i0);
                    for (int j = 0; j < g; j++) {
                        qo[j] = q.offsets()[i0 + j] + (long) r0 * q.ld();
                        ko[j] = k.offsets()[i0 + j];
                        vo[j] = v.offsets()[i0 + j];
                        oo[j] = out.offsets()[i0 + j] + (long) r0 * out.ld();
                    }
                    long[] sg = range(so, 0, g);
                    Gemm.matmulAtUnlocked(false, true, rows, n, d, 1f, q.t(), range(qo, 0, g), q.ld(), k.t(),
                            range(ko, 0, g), k.ld(), 0f, scratch, sg, n);
                    softmaxBlock(scratch, so[0], g * rows, n, scale, fast);
                    Gemm.matmulAtUnlocked(false, false, rows, dv, n, 1f, scratch, sg, n, v.t(), range(vo, 0, g),
                            v.ld(), 0f, out.t(), range(oo, 0, g), out.ld());
                }
            }
        }));
    }

    /** Softmax of {@code rows} score rows of length n at element {@code offset} of s, on the calling thread. */
    private static void softmaxBlock(Tensor s, long offset, int rows, int n, float scale, boolean fast) {
        int rowsPerCopy = Math.max(1, Math.min(rows, 4096 / n));
        float[] buf = Ops.scratch(0, rowsPerCopy * n);
        for (int r0 = 0; r0 < rows; r0 += rowsPerCopy) {
            softmaxCopied(s, offset + (long) r0 * n, buf, Math.min(rowsPerCopy, rows - r0), n, scale, fast);
        }
    }

    /** Softmax of nr score rows of length n at element o of s, through the heap buffer {@code buf}. */
    private static void softmaxCopied(Tensor s, long o, float[] buf, int nr, int n, float scale, boolean fast) {
        s.read(o, buf, 0, nr * n);
        if (fast) {
            Ops.softmaxRowsFast(buf, 0, nr, n, scale);
        } else {
            Ops.softmaxRows(buf, 0, nr, n, scale);
        }
        s.write(o, buf, 0, nr * n);
    }

    private static long[] range(long[] a, int from, int count) {
        return from == 0 && count == a.length ? a : Arrays.copyOfRange(a, from, from + count);
    }

    private static void checkShapes(Tensor q, Tensor k, Tensor v, Tensor bias, Tensor keyMask, Tensor out) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3 || out.rank() != 3) {
            throw new IllegalArgumentException("attention needs rank-3 q, k, v, out; found " + q.shapeString() + ", "
                    + k.shapeString() + ", " + v.shapeString() + ", " + out.shapeString());
        }
        int bt = q.dim(0);
        int m = q.dim(1);
        int d = q.dim(2);
        int n = k.dim(1);
        int dv = v.dim(2);
        if (k.dim(0) != bt || v.dim(0) != bt || k.dim(2) != d || v.dim(1) != n || !out.hasShape(bt, m, dv)) {
            throw new IllegalArgumentException("attention shapes do not fit: q" + q.shapeString() + " k"
                    + k.shapeString() + " v" + v.shapeString() + " out" + out.shapeString());
        }
        if (bias != null && (bias.rank() != 3 || bias.dim(1) != m || bias.dim(2) != n || bias.dim(0) == 0
                || bt % bias.dim(0) != 0)) {
            throw new IllegalArgumentException("attention bias " + bias.shapeString() + " does not fit [*, " + m
                    + ", " + n + "] for " + bt + " rows");
        }
        if (keyMask != null && (keyMask.rank() != 2 || keyMask.dim(1) != n || keyMask.dim(0) == 0
                || bt % keyMask.dim(0) != 0)) {
            throw new IllegalArgumentException("attention key mask " + keyMask.shapeString() + " does not fit [*, "
                    + n + "] for " + bt + " rows");
        }
    }

    /** Plain softmax of {@code rows} rows; several short rows per bulk copy keep the copy count low. */
    private static void softmaxRows(Tensor s, int rows, int n, float scale, boolean fast) {
        int rowsPerCopy = Math.max(1, Math.min(rows, 4096 / n));
        int chunks = (rows + rowsPerCopy - 1) / rowsPerCopy;
        Parallel.forRange(chunks, 4L * n * rowsPerCopy, (from, to) -> {
            float[] buf = Ops.scratch(0, rowsPerCopy * n);
            for (int c = from; c < to; c++) {
                int r0 = c * rowsPerCopy;
                softmaxCopied(s, (long) r0 * n, buf, Math.min(rowsPerCopy, rows - r0), n, scale, fast);
            }
        });
    }

    /** Softmax with an additive bias and/or key mask per row. */
    private static void softmaxRows(Tensor s, int b0, float scale, Tensor bias, float[] maskRows, int maskEvery,
            int m, int n, boolean fast) {
        int rows = s.dim(0) * m;
        int biasBatch = bias == null ? 1 : bias.dim(0);
        Parallel.forRange(rows, 4L * n, (from, to) -> {
            float[] row = Ops.scratch(0, n);
            float[] add = Ops.scratch(1, n);
            for (int r = from; r < to; r++) {
                int b = b0 + r / m;
                int i = r % m;
                long o = (long) r * n;
                s.read(o, row, 0, n);
                if (bias != null) {
                    bias.read(((long) (b % biasBatch) * m + i) * n, add, 0, n);
                } else {
                    Arrays.fill(add, 0, n, 0f);
                }
                if (maskRows != null) {
                    int mo = (b / maskEvery) * n;
                    for (int j = 0; j < n; j++) {
                        add[j] += maskRows[mo + j];
                    }
                }
                if (fast) {
                    Ops.softmaxRowFast(row, 0, n, scale, add);
                } else {
                    Ops.softmaxRow(row, 0, n, scale, add);
                }
                s.write(o, row, 0, n);
            }
        });
    }

    /** Head split of a token-major projection: src [B·L, H·dk] → dst [B·H, L, dk]. */
    public static void splitHeads(Tensor src, int bsz, int l, int heads, int dk, Tensor dst) {
        int inner = heads * dk;
        Parallel.forRange(bsz * l, 2L * inner, (from, to) -> {
            float[] r = new float[inner];
            for (int row = from; row < to; row++) {
                int b = row / l;
                int i = row % l;
                src.read((long) row * inner, r, 0, inner);
                for (int hd = 0; hd < heads; hd++) {
                    dst.write((((long) b * heads + hd) * l + i) * dk, r, hd * dk, dk);
                }
            }
        });
    }

    /** Head merge, the inverse of {@link #splitHeads}: src [B·H, L, dk] → dst [B·L, H·dk]. */
    public static void mergeHeads(Tensor src, int bsz, int l, int heads, int dk, Tensor dst) {
        int inner = heads * dk;
        Parallel.forRange(bsz * l, 2L * inner, (from, to) -> {
            float[] r = new float[inner];
            for (int row = from; row < to; row++) {
                int b = row / l;
                int i = row % l;
                for (int hd = 0; hd < heads; hd++) {
                    src.read((((long) b * heads + hd) * l + i) * dk, r, hd * dk, dk);
                }
                dst.write((long) row * inner, r, 0, inner);
            }
        });
    }
}

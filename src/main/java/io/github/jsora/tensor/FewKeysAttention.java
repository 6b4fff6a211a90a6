package io.github.jsora.tensor;

/**
 * {@link Attention.Schedule#PER_THREAD_SIMD} on sequences of at most {@link #MAX_KEYS} keys and at least
 * {@link #MIN_QUERIES} queries: STDiT3's cross-attention to a caption's few valid tokens. A product of
 * [5120, 72]·[72, 20] is too thin for a BLAS call to run well (most of its time is the call and the packing), so here
 * both products run in SIMD registers ({@link VectorFloat#smallProduct}: float32,
 * fused multiply-adds, so not the BLAS bits) around the same row softmax.
 *
 * <p>The matrices of a {@link Attention.Strided} operand come in groups of {@code heads} that sit side by side in
 * token rows (offsets stepping by the head width, as STDiT3's in-place heads do): one read brings a token's row of
 * every head. An item is a block of up to {@link #BLOCK_ROWS} query rows of one group; the compute threads share the
 * items ({@link Parallel}), each with its own buffers: the group's keys transposed [heads, d, np], its values
 * [heads, n, dvp] (np, dvp the key count and value width padded to whole vectors), the query rows, the scores and the
 * output rows.
 */
final class FewKeysAttention {

    /** Most keys a sequence may have for this kernel; longer ones are left to the BLAS products. */
    static final int MAX_KEYS = 64;

    /**
     * Fewest queries a sequence must have for this kernel. Below, the loading of a group's keys weighs on every few
     * rows: STDiT3's temporal attention (20 queries over 20 keys) ran no faster here than with the BLAS products.
     */
    static final int MIN_QUERIES = 64;

    /** Query rows an item takes at most. */
    static final int BLOCK_ROWS = 32;

    private static final boolean SIMD = ExactExp.vectorised();

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private FewKeysAttention() {
    }

    /**
     * Whether this kernel takes sequences of m queries over n keys in this JVM: SIMD loops on, n ≤ {@link #MAX_KEYS}
     * and m ≥ {@link #MIN_QUERIES}.
     */
    static boolean takes(int m, int n) {
        return SIMD && n <= MAX_KEYS && m >= MIN_QUERIES && VectorFloat.usable();
    }

    /**
     * out_i = softmax(scale·q_i·k_iᵀ)·v_i for every matrix i, the operands checked by the caller
     * ({@link Attention#sdpa(Attention.Strided, Attention.Strided, Attention.Strided, int, int, int, int, float,
     * Tensor, Attention.Strided, Attention.Softmax, Attention.Schedule)}).
     */
    static void sdpa(Attention.Strided q, Attention.Strided k, Attention.Strided v, int m, int n, int d, int dv,
            float scale, Attention.Strided out, boolean fast) {
        int bt = q.offsets().length;
        int heads = heads(q, k, v, out, d, dv);
        int groups = bt / heads;
        int blockRows = Math.min(m, BLOCK_ROWS);
        int blocks = (m + blockRows - 1) / blockRows;
        int items = Math.multiplyExact(groups, blocks);
        int np = VectorFloat.padded(n);
        int dvp = VectorFloat.padded(dv);
        long work = (long) blockRows * heads * n * (d + dv) * 2;
        Parallel.forRange(items, work, (from, to) -> {
            Buffers b = BUFFERS.get();
            b.fit(heads, blockRows, n, np, d, dv, dvp);
            int oLd = heads * dv + dvp - dv;                                  // slack for the last head's lanes
            int loaded = -1;
            for (int item = from; item < to; item++) {
                int g = item / blocks;
                int r0 = item % blocks * blockRows;
                int rows = Math.min(blockRows, m - r0);
                if (g != loaded) {
                    loadKeys(k, v, g * heads, heads, n, np, d, dv, dvp, b);
                    loaded = g;
                }
                long q0 = q.offsets()[g * heads] + (long) r0 * q.ld();
                for (int r = 0; r < rows; r++) {                              // q [rows, heads·d]
                    q.t().read(q0 + (long) r * q.ld(), b.q, r * heads * d, heads * d);
                }
                for (int h = 0; h < heads; h++) {
                    // scores [rows, np] of head h, then their softmax over the n true keys
                    VectorFloat.smallProduct(b.q, h * d, heads * d, rows, d, b.kt, h * d * np, np, np, b.s, 0, np);
                    for (int r = 0; r < rows; r++) {
                        if (fast) {
                            Ops.softmaxRowFast(b.s, r * np, n, scale, null);
                        } else {
                            Ops.softmaxRow(b.s, r * np, n, scale, null);
                        }
                    }
                    VectorFloat.smallProduct(b.s, 0, np, rows, n, b.v, h * n * dvp, dvp, dvp, b.o, h * dv, oLd);
                }
                long o0 = out.offsets()[g * heads] + (long) r0 * out.ld();
                for (int r = 0; r < rows; r++) {                              // out [rows, heads·dv]
                    out.t().write(o0 + (long) r * out.ld(), b.o, r * oLd, heads * dv);
                }
            }
        });
    }

    /** Keys of matrices [i0, i0 + heads) transposed into b.kt [heads, d, np], their values into b.v [heads, n, dvp]. */
    private static void loadKeys(Attention.Strided k, Attention.Strided v, int i0, int heads, int n, int np, int d,
            int dv, int dvp, Buffers b) {
        float[] row = b.row;
        for (int j = 0; j < n; j++) {
            k.t().read(k.offsets()[i0] + (long) j * k.ld(), row, 0, heads * d);
            for (int h = 0; h < heads; h++) {
                int base = h * d * np + j;
                for (int e = 0; e < d; e++) {
                    b.kt[base + e * np] = row[h * d + e];
                }
            }
            v.t().read(v.offsets()[i0] + (long) j * v.ld(), row, 0, heads * dv);
            for (int h = 0; h < heads; h++) {
                System.arraycopy(row, h * dv, b.v, (h * n + j) * dvp, dv);
            }
        }
        // the padded key columns score 0 and are never read by the softmax; the padded value lanes are zero
        for (int h = 0; h < heads; h++) {
            for (int e = 0; e < d; e++) {
                for (int j = n; j < np; j++) {
                    b.kt[h * d * np + e * np + j] = 0f;
                }
            }
            for (int j = 0; j < n; j++) {
                for (int c = dv; c < dvp; c++) {
                    b.v[(h * n + j) * dvp + c] = 0f;
                }
            }
        }
    }

    /**
     * The matrices a group holds: the largest count dividing the matrix count such that in every group the offsets of
     * q, k (by d) and v, out (by dv) step by one head and a token row of the group's heads fits in its row stride;
     * 1 when there is none (each matrix its own group).
     */
    static int heads(Attention.Strided q, Attention.Strided k, Attention.Strided v, Attention.Strided out, int d,
            int dv) {
        int bt = q.offsets().length;
        int run = 1;
        while (run < bt && steps(q, run, d) && steps(k, run, d) && steps(v, run, dv) && steps(out, run, dv)) {
            run++;
        }
        for (int h = run; h > 1; h--) {
            if (bt % h == 0 && grouped(q, h, d) && grouped(k, h, d) && grouped(v, h, dv) && grouped(out, h, dv)) {
                return h;
            }
        }
        return 1;
    }

    private static boolean steps(Attention.Strided s, int i, int width) {
        return s.offsets()[i] == s.offsets()[0] + (long) i * width;
    }

    private static boolean grouped(Attention.Strided s, int h, int width) {
        if (s.ld() < (long) h * width) {
            return false;
        }
        long[] off = s.offsets();
        for (int g = 0; g < off.length; g += h) {
            for (int i = 1; i < h; i++) {
                if (off[g + i] != off[g] + (long) i * width) {
                    return false;
                }
            }
        }
        return true;
    }

    /** One thread's buffers, grown to the largest call seen. */
    private static final class Buffers {
        float[] kt = new float[0];
        float[] v = new float[0];
        float[] q = new float[0];
        float[] s = new float[0];
        float[] o = new float[0];
        float[] row = new float[0];

        void fit(int heads, int blockRows, int n, int np, int d, int dv, int dvp) {
            kt = fit(kt, heads * d * np);
            v = fit(v, heads * n * dvp);
            q = fit(q, blockRows * heads * d);
            s = fit(s, blockRows * np);
            o = fit(o, blockRows * (heads * dv + dvp - dv));
            row = fit(row, heads * Math.max(d, dv));
        }

        private static float[] fit(float[] a, int n) {
            return a.length >= n ? a : new float[n];
        }
    }
}

package io.github.jsora.tensor;

/**
 * Unmasked scaled dot-product attention over many independent sequences at once, with caller-owned score memory:
 * {@code out[b] = softmax(scale·q[b]·k[b]ᵀ)·v[b]} for every batch row b.
 *
 * <p>Unlike {@link Attention#sdpa}, which allocates its score buffer per call, this variant computes the scores in
 * slabs of batch rows inside a scratch tensor the caller allocated once (a model's per-forward workspace), so a
 * sampling loop makes no native allocation per call. Each slab is two batched ND4J products (q·kᵀ and p·v over all
 * rows of the slab) and one parallel softmax pass in Java.
 */
public final class BatchedAttention {

    private BatchedAttention() {
    }

    /** Scratch floats needed to run a slab of {@code rows} batch rows of an M×N attention. */
    public static long scratchFloats(int rows, int m, int n) {
        return (long) rows * m * n;
    }

    /**
     * @param q       [Bt, M, d]
     * @param k       [Bt, N, d]
     * @param v       [Bt, N, dv]
     * @param scale   multiplier of q·kᵀ (1/√d for standard attention)
     * @param scratch any tensor of at least M·N elements (its contents are overwritten); the more rows of M·N fit,
     *                the fewer and larger the batched products
     * @param out     [Bt, M, dv], written (must not overlap q, k, v or scratch)
     */
    public static void sdpa(Tensor q, Tensor k, Tensor v, float scale, Tensor scratch, Tensor out) {
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
        if (bt == 0 || m == 0 || dv == 0) {
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
        int slab = (int) Math.min(bt, scratch.size() / perRow);
        for (int b0 = 0; b0 < bt; b0 += slab) {
            int nb = Math.min(slab, bt - b0);
            Tensor s = scratch.view(0, nb, m, n);
            Gemm.batchedMatmul(q.slice(b0, b0 + nb), false, k.slice(b0, b0 + nb), true, s, 1f, 0f);
            softmaxRows(s, nb * m, n, scale);
            Gemm.batchedMatmul(s, false, v.slice(b0, b0 + nb), false, out.slice(b0, b0 + nb), 1f, 0f);
        }
    }

    private static void softmaxRows(Tensor s, int rows, int n, float scale) {
        // Several short rows per bulk copy keep the NIO call count low for short key sequences.
        int rowsPerCopy = Math.max(1, Math.min(rows, 4096 / n));
        int chunks = (rows + rowsPerCopy - 1) / rowsPerCopy;
        Parallel.forRange(chunks, 4L * n * rowsPerCopy, (from, to) -> {
            float[] buf = Ops.scratch(0, rowsPerCopy * n);
            for (int c = from; c < to; c++) {
                int r0 = c * rowsPerCopy;
                int nr = Math.min(rowsPerCopy, rows - r0);
                long o = (long) r0 * n;
                s.read(o, buf, 0, nr * n);
                for (int r = 0; r < nr; r++) {
                    Ops.softmaxRow(buf, r * n, n, scale, null);
                }
                s.write(o, buf, 0, nr * n);
            }
        });
    }
}

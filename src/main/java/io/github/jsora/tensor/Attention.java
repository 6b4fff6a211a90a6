package io.github.jsora.tensor;

/**
 * Scaled dot-product attention on batched, head-major tensors:
 * {@code out[b] = softmax(scale·q[b]·k[b]ᵀ + bias[b mod biasBatch] + keyMask[b / masksEvery]) · v[b]}.
 *
 * <p>The two products run as single batched ND4J calls over all batch rows (all heads of all sequences at once);
 * the softmax with bias and mask runs in Java. Scores are computed in slabs of batch rows so the score buffer
 * stays bounded (default 256 MiB) for long sequences.
 */
public final class Attention {

    /** Largest score slab in floats (256 MiB). */
    private static final long MAX_SCORE_FLOATS = 64L * 1024 * 1024;

    private Attention() {
    }

    /**
     * @param q          [Bt, M, d]
     * @param k          [Bt, N, d]
     * @param v          [Bt, N, dv]
     * @param scale      multiplier of q·kᵀ (1/√d for standard attention, 1 for T5)
     * @param bias       additive [Bb, M, N] with Bt a multiple of Bb (row b uses bias[b mod Bb]), or null
     * @param keyMask    additive [Bm, N] (0 or −∞ per key), row b uses keyMask[b / (Bt/Bm)], or null
     * @param out        [Bt, M, dv], written
     */
    public static void sdpa(Tensor q, Tensor k, Tensor v, float scale, Tensor bias, Tensor keyMask, Tensor out) {
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
        if (bt == 0 || m == 0) {
            return;
        }
        long perRow = (long) m * n;
        int slab = (int) Math.max(1, Math.min(bt, MAX_SCORE_FLOATS / Math.max(perRow, 1)));
        float[] maskRows = keyMask == null ? null : keyMask.toArray();
        int maskEvery = keyMask == null ? 1 : bt / keyMask.dim(0);
        try (Tensor scores = Tensor.zeros(slab, m, n)) {
            for (int b0 = 0; b0 < bt; b0 += slab) {
                int nb = Math.min(slab, bt - b0);
                Tensor s = scores.slice(0, nb);
                Gemm.batchedMatmul(q.slice(b0, b0 + nb), false, k.slice(b0, b0 + nb), true, s, 1f, 0f);
                softmaxRows(s, b0, scale, bias, maskRows, maskEvery, m, n);
                Gemm.batchedMatmul(s, false, v.slice(b0, b0 + nb), false, out.slice(b0, b0 + nb), 1f, 0f);
            }
        }
    }

    private static void softmaxRows(Tensor s, int b0, float scale, Tensor bias, float[] maskRows, int maskEvery,
            int m, int n) {
        int rows = s.dim(0) * m;
        int biasBatch = bias == null ? 1 : bias.dim(0);
        Parallel.forRange(rows, 4L * n, (from, to) -> {
            float[] row = Ops.scratch(0, n);
            float[] add = Ops.scratch(1, n);
            float[] mrow = maskRows == null ? null : Ops.scratch(2, n);
            for (int r = from; r < to; r++) {
                int b = b0 + r / m;
                int i = r % m;
                long o = (long) r * n;
                s.read(o, row, 0, n);
                float[] extra = null;
                if (bias != null || maskRows != null) {
                    extra = add;
                    if (bias != null) {
                        bias.read(((long) (b % biasBatch) * m + i) * n, add, 0, n);
                    } else {
                        java.util.Arrays.fill(add, 0, n, 0f);
                    }
                    if (maskRows != null) {
                        System.arraycopy(maskRows, (b / maskEvery) * n, mrow, 0, n);
                        for (int j = 0; j < n; j++) {
                            add[j] += mrow[j];
                        }
                    }
                }
                Ops.softmaxRow(row, 0, n, scale, extra);
                s.write(o, row, 0, n);
            }
        });
    }
}

package io.github.jsora.dit;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Tensor;

/**
 * The kernel choice of the block loop: the exact float32 kernels (the reference's results), or, in bf16 compute
 * (a block handing out packed product weights), the fast ones whose float32 rounding differences are far below the
 * bf16 products' error: {@link Kernels#modulatedLayerNormFast}, {@link Attention.Softmax#FAST} and
 * {@link Attention.Schedule#PER_THREAD_SIMD}.
 */
final class ComputeKernels {

    private ComputeKernels() {
    }

    /** {@link Kernels#modulatedLayerNorm}, or {@link Kernels#modulatedLayerNormFast} when {@code fast}. */
    static void modulatedLayerNorm(boolean fast, Tensor x, Tensor out, int frames, int s, int c, float[][][] params,
            int[] frameRow, int shiftK, int scaleK, int[] againRow) {
        if (fast) {
            Kernels.modulatedLayerNormFast(x, out, frames, s, c, params, frameRow, shiftK, scaleK, againRow);
        } else {
            Kernels.modulatedLayerNorm(x, out, frames, s, c, params, frameRow, shiftK, scaleK, againRow);
        }
    }

    /** The attention softmax: {@link Attention.Softmax#FAST} when {@code fast}, else exact. */
    static Attention.Softmax softmax(boolean fast) {
        return fast ? Attention.Softmax.FAST : Attention.Softmax.EXACT;
    }

    /**
     * System property choosing the self- and cross-attention {@link Attention.Schedule}: {@code auto} (default:
     * {@code perThreadSimd} in bf16 compute, {@code sharedBits} in float32, which keeps the bits of {@code shared}),
     * {@code shared}, {@code sharedBits}, {@code perThread} or {@code perThreadSimd}.
     */
    static final String SCHEDULE_PROPERTY = "jsora.attention.schedule";

    /**
     * The attention schedule: {@link #SCHEDULE_PROPERTY}, else per-thread with the SIMD few-keys kernel when
     * {@code fast}, else {@link Attention.Schedule#SHARED_BITS}.
     */
    static Attention.Schedule schedule(boolean fast) {
        String p = System.getProperty(SCHEDULE_PROPERTY, "auto").trim();
        switch (p.toLowerCase(java.util.Locale.ROOT)) {
            case "auto":
                return fast ? Attention.Schedule.PER_THREAD_SIMD : Attention.Schedule.SHARED_BITS;
            case "shared":
                return Attention.Schedule.SHARED;
            case "sharedbits":
                return Attention.Schedule.SHARED_BITS;
            case "perthread":
                return Attention.Schedule.PER_THREAD;
            case "perthreadsimd":
                return Attention.Schedule.PER_THREAD_SIMD;
            default:
                throw new IllegalArgumentException("system property " + SCHEDULE_PROPERTY
                        + " must be auto, shared, sharedBits, perThread or perThreadSimd, found '" + p + "'");
        }
    }
}

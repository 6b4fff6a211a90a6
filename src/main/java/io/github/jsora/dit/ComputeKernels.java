package io.github.jsora.dit;

import io.github.jsora.tensor.Attention;
import io.github.jsora.tensor.Tensor;

/**
 * The kernel choice of the block loop: the exact float32 kernels (the reference's results), or, in bf16 compute
 * (a block handing out packed product weights), the fast ones whose float32 rounding differences are far below the
 * bf16 products' error: {@link Kernels#modulatedLayerNormFast} and {@link Attention.Softmax#FAST}.
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
}

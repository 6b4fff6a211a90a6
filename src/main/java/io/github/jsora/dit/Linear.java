package io.github.jsora.dit;

import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;

/** The linear layers of STDiT3: out = x·Wᵀ + bias, timed as {@code gemm} (the product) and {@code bias}. */
final class Linear {

    private Linear() {
    }

    /**
     * out [N, O] = x [N, I] · weight [O, I]ᵀ + bias [O].
     *
     * @param biasBuf heap buffer of at least O floats for the bias
     */
    static void apply(Tensor x, Tensor weight, Tensor bias, Tensor out, float[] biasBuf, StageTimer timer) {
        Gemm.matmul(x, false, weight, true, out, 1f, 0f);
        timer.lap("gemm");
        Ops.addRowVectorInPlace(out, read(bias, biasBuf), out.dim(-1));
        timer.lap("bias");
    }

    /** out [N, O] = x [N, I] · weight [O, I]ᵀ, timed as {@code gemm}; the caller adds the bias in a fused kernel. */
    static void product(Tensor x, Tensor weight, Tensor out, StageTimer timer) {
        Gemm.matmul(x, false, weight, true, out, 1f, 0f);
        timer.lap("gemm");
    }

    /** Reads a (bias) vector into the prefix of {@code buf}. */
    static float[] read(Tensor t, float[] buf) {
        t.read(0, buf, 0, Math.toIntExact(t.size()));
        return buf;
    }
}

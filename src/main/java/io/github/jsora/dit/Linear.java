package io.github.jsora.dit;

import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.Gemm;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Block;

/**
 * The linear layers of STDiT3: out = x·Wᵀ + bias, timed as {@code gemm} (the product) and {@code bias}. A weight the
 * block holds packed for bf16 compute ({@link Block#packed}) is multiplied by {@link Bf16Gemm} in the workspace's
 * scratch; a float32 weight by the float32 sgemm, exactly as before.
 */
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

    /**
     * out [N, O] = x [N, I] · W [O, I]ᵀ with the block's weight {@code name}: in bf16 when the block holds it packed
     * (scratch from the workspace, no allocation), else as {@link #product(Tensor, Tensor, Tensor, StageTimer)}.
     */
    static void product(Tensor x, Block wts, String name, Tensor out, Workspace w, StageTimer timer) {
        PackedWeight pw = wts.packed(name);
        if (pw == null) {
            product(x, wts.get(name), out, timer);
            return;
        }
        int rows = Math.toIntExact(x.size() / pw.rowLength());
        Bf16Gemm.linear(x, pw, null, out, w.bf16Scratch(Bf16Gemm.scratchFloats(rows, pw)));
        timer.lap("gemm");
    }

    /**
     * x [N, I] · W [O, I]ᵀ left in bf16, when the block holds W packed and {@link Bf16Gemm#nativeFor} takes the
     * product: the result is what {@link #product(Tensor, Block, String, Tensor, Workspace, StageTimer)} would widen
     * into its output, in the workspace's bf16 scratch, valid until the next bf16 product. Null otherwise (call that
     * method then). Also null where native products write float32 ({@link Bf16Gemm#nativeWritesFloat32()}): the
     * float32 result is then the cheaper one to read.
     */
    static Bf16Matrix productBf16(Tensor x, Block wts, String name, Workspace w, StageTimer timer) {
        PackedWeight pw = wts.packed(name);
        if (pw == null || Bf16Gemm.nativeWritesFloat32()) {
            return null;
        }
        int in = pw.rowLength();
        int rows = Math.toIntExact(x.size() / in);
        if (!Bf16Gemm.nativeFor(rows, pw)) {
            return null;
        }
        long inFloats = Bf16Matrix.floats(rows, in);
        Tensor mem = w.bf16Scratch(inFloats + Bf16Matrix.floats(rows, pw.rows()));
        Bf16Matrix xb = Bf16Matrix.in(mem, 0, rows, in);                     // bf16 [N, I]
        Bf16Matrix ob = Bf16Matrix.in(mem, inFloats, rows, pw.rows());      // bf16 [N, O]
        xb.roundFrom(x);
        Bf16Gemm.product(xb, pw, ob);
        timer.lap("gemm");
        return ob;
    }

    /** Reads a (bias) vector into the prefix of {@code buf}. */
    static float[] read(Tensor t, float[] buf) {
        t.read(0, buf, 0, Math.toIntExact(t.size()));
        return buf;
    }
}

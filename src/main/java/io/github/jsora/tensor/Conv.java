package io.github.jsora.tensor;

import java.util.Arrays;

import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * 2-D and 3-D convolutions on {@link Tensor}s in PyTorch's layouts: activations NCHW / NCDHW, weights OIHW /
 * OIDHW ({@code nn.Conv2d} / {@code nn.Conv3d} {@code weight}), optional bias [O], zero padding symmetric per
 * dimension, no dilation, no groups.
 *
 * <p>Spatial kernels run as one ND4J {@code conv2d} / {@code conv3dnew} call on views of the tensors' memory (the
 * {@code -onednn-avx2} ND4J build sends them to oneDNN; no copies). 1×1(×1) kernels with stride 1 and no padding are
 * a plain matrix product per sample ({@code w [O, I] · x [I, spatial]}) through {@link Gemm}. Shapes are checked
 * here and errors name both operands, so a wrong shape never reaches native code.
 *
 * <p>Causal / asymmetric padding is done by the caller: build an input that already carries the extra zeros
 * (see {@link #padFront}) and convolve it with the symmetric part of the padding only.
 */
public final class Conv {

    private Conv() {
    }

    /** Output length of a convolution along one dimension: ⌊(in + 2·pad − kernel)/stride⌋ + 1. */
    public static int outputSize(int in, int kernel, int stride, int pad) {
        if (stride < 1 || pad < 0 || kernel < 1) {
            throw new IllegalArgumentException("convolution needs kernel >= 1, stride >= 1, pad >= 0; found kernel "
                    + kernel + ", stride " + stride + ", pad " + pad);
        }
        int span = in + 2 * pad - kernel;
        if (span < 0) {
            throw new IllegalArgumentException("convolution input of length " + in + " (pad " + pad
                    + ") is shorter than the kernel " + kernel);
        }
        return span / stride + 1;
    }

    // ------------------------------------------------------------------ 2-D

    /**
     * {@code out = conv2d(x, w) + bias} with the same stride and padding in both dimensions.
     *
     * @param x    [N, I, H, W]
     * @param w    [O, I, kH, kW]
     * @param bias [O] or null
     * @param out  [N, O, Ho, Wo], written (must not overlap x)
     */
    public static void conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pad, Tensor out) {
        conv2d(x, w, bias, stride, stride, pad, pad, out);
    }

    /** {@link #conv2d(Tensor, Tensor, Tensor, int, int, Tensor)} into a new tensor [N, O, Ho, Wo]. */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pad) {
        checkRank("conv2d", x, w, 4);
        int ho = outputSize(x.dim(2), w.dim(2), stride, pad);
        int wo = outputSize(x.dim(3), w.dim(3), stride, pad);
        Tensor out = Tensor.zeros(x.dim(0), w.dim(0), ho, wo);
        try {
            conv2d(x, w, bias, stride, pad, out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /**
     * {@code out = conv2d(x, w) + bias}.
     *
     * @param x    [N, I, H, W]
     * @param w    [O, I, kH, kW]
     * @param bias [O] or null
     * @param out  [N, O, Ho, Wo], Ho = ⌊(H + 2·padH − kH)/strideH⌋ + 1 (same for W), written; must not overlap x
     */
    public static void conv2d(Tensor x, Tensor w, Tensor bias, int strideH, int strideW, int padH, int padW,
            Tensor out) {
        checkRank("conv2d", x, w, 4);
        int n = x.dim(0);
        int in = x.dim(1);
        int o = w.dim(0);
        int kh = w.dim(2);
        int kw = w.dim(3);
        if (w.dim(1) != in) {
            throw new IllegalArgumentException("conv2d: input " + x.shapeString() + " has " + in
                    + " channels, weight " + w.shapeString() + " expects " + w.dim(1));
        }
        int ho = outputSize(x.dim(2), kh, strideH, padH);
        int wo = outputSize(x.dim(3), kw, strideW, padW);
        checkBiasOut("conv2d", bias, o, out, n, o, ho, wo);
        if (out.size() == 0) {
            return;
        }
        if (in == 0) {
            fillBias(out, bias, n, o);
            return;
        }
        if (kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0) {
            pointwise(x, w.reshape(o, in), bias, n, in, o, ho * wo, out);
            return;
        }
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d");
        if (bias != null) {
            op.addInputs(x.nd4j(), w.nd4j(), bias.nd4j());
        } else {
            op.addInputs(x.nd4j(), w.nd4j());
        }
        // kH, kW, sH, sW, pH, pW, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCHW), wFormat (1 = OIHW)
        op.addOutputs(out.nd4j()).addIntegerArguments(kh, kw, strideH, strideW, padH, padW, 1, 1, 0, 0, 1);
        Nd4j.getExecutioner().exec(op.build());
    }

    // ------------------------------------------------------------------ 3-D

    /**
     * {@code out = conv3d(x, w) + bias}.
     *
     * @param x      [N, I, D, H, W]
     * @param w      [O, I, kD, kH, kW]
     * @param bias   [O] or null
     * @param stride {sD, sH, sW}
     * @param pad    {pD, pH, pW} (symmetric zero padding per dimension)
     * @param out    [N, O, Do, Ho, Wo], written; must not overlap x
     */
    public static void conv3d(Tensor x, Tensor w, Tensor bias, int[] stride, int[] pad, Tensor out) {
        checkRank("conv3d", x, w, 5);
        if (stride.length != 3 || pad.length != 3) {
            throw new IllegalArgumentException("conv3d needs 3 strides and 3 paddings, found "
                    + Arrays.toString(stride) + ", " + Arrays.toString(pad));
        }
        int n = x.dim(0);
        int in = x.dim(1);
        int o = w.dim(0);
        if (w.dim(1) != in) {
            throw new IllegalArgumentException("conv3d: input " + x.shapeString() + " has " + in
                    + " channels, weight " + w.shapeString() + " expects " + w.dim(1));
        }
        int kd = w.dim(2);
        int kh = w.dim(3);
        int kw = w.dim(4);
        int dd = outputSize(x.dim(2), kd, stride[0], pad[0]);
        int ho = outputSize(x.dim(3), kh, stride[1], pad[1]);
        int wo = outputSize(x.dim(4), kw, stride[2], pad[2]);
        checkBiasOut("conv3d", bias, o, out, n, o, dd, ho, wo);
        if (out.size() == 0) {
            return;
        }
        if (in == 0) {
            fillBias(out, bias, n, o);
            return;
        }
        if (kd == 1 && kh == 1 && kw == 1 && stride[0] == 1 && stride[1] == 1 && stride[2] == 1 && pad[0] == 0
                && pad[1] == 0 && pad[2] == 0) {
            pointwise(x, w.reshape(o, in), bias, n, in, o, dd * ho * wo, out);
            return;
        }
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv3dnew");
        if (bias != null) {
            op.addInputs(x.nd4j(), w.nd4j(), bias.nd4j());
        } else {
            op.addInputs(x.nd4j(), w.nd4j());
        }
        // kD, kH, kW, sD, sH, sW, pD, pH, pW, dD, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCDHW),
        // wFormat (1 = OIDHW)
        op.addOutputs(out.nd4j()).addIntegerArguments(kd, kh, kw, stride[0], stride[1], stride[2], pad[0], pad[1],
                pad[2], 1, 1, 1, 0, 0, 1);
        Nd4j.getExecutioner().exec(op.build());
    }

    /** {@link #conv3d(Tensor, Tensor, Tensor, int[], int[], Tensor)} into a new tensor [N, O, Do, Ho, Wo]. */
    public static Tensor conv3d(Tensor x, Tensor w, Tensor bias, int[] stride, int[] pad) {
        checkRank("conv3d", x, w, 5);
        if (stride.length != 3 || pad.length != 3) {
            throw new IllegalArgumentException("conv3d needs 3 strides and 3 paddings, found "
                    + Arrays.toString(stride) + ", " + Arrays.toString(pad));
        }
        int dd = outputSize(x.dim(2), w.dim(2), stride[0], pad[0]);
        int ho = outputSize(x.dim(3), w.dim(3), stride[1], pad[1]);
        int wo = outputSize(x.dim(4), w.dim(4), stride[2], pad[2]);
        Tensor out = Tensor.zeros(x.dim(0), w.dim(0), dd, ho, wo);
        try {
            conv3d(x, w, bias, stride, pad, out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    // ------------------------------------------------------------------ padding helpers

    /**
     * Copies {@code x} [N, C, D, ...] into {@code out} [N, C, front + D, ...] behind {@code front} zero slices
     * along dimension 2 (the causal time padding of a video convolution).
     */
    public static void padFront(Tensor x, int front, Tensor out) {
        if (x.rank() < 3 || front < 0) {
            throw new IllegalArgumentException("padFront needs [N, C, D, ...] and front >= 0, found "
                    + x.shapeString() + ", front " + front);
        }
        int[] s = x.shape();
        s[2] += front;
        out.requireShape("padFront output", s);
        int n = x.dim(0);
        int c = x.dim(1);
        long plane = 1;
        for (int i = 3; i < s.length; i++) {
            plane *= s[i];
        }
        long inner = x.dim(2) * plane;   // elements of one (n, c) slab of x
        long padLen = front * plane;     // zeros in front of it in out
        long in = inner;
        long pl = padLen;
        Parallel.forRange(n * c, in + pl, (from, to) -> {
            float[] buf = Ops.scratch(0, (int) Math.min(Math.max(Math.max(in, pl), 1), 1 << 14));
            for (int r = from; r < to; r++) {
                long dst = (long) r * (in + pl);
                Arrays.fill(buf, 0f);
                for (long p = 0; p < pl; p += buf.length) {
                    int len = (int) Math.min(buf.length, pl - p);
                    out.write(dst + p, buf, 0, len);
                }
                long src = (long) r * in;
                for (long p = 0; p < in; p += buf.length) {
                    int len = (int) Math.min(buf.length, in - p);
                    x.read(src + p, buf, 0, len);
                    out.write(dst + pl + p, buf, 0, len);
                }
            }
        });
    }

    /** {@link #padFront(Tensor, int, Tensor)} into a new tensor. */
    public static Tensor padFront(Tensor x, int front) {
        if (x.rank() < 3) {
            throw new IllegalArgumentException("padFront needs [N, C, D, ...], found " + x.shapeString());
        }
        int[] s = x.shape();
        s[2] += front;
        Tensor out = Tensor.zeros(s);
        try {
            padFront(x, front, out);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    // ------------------------------------------------------------------ internals

    private static void checkRank(String op, Tensor x, Tensor w, int rank) {
        if (x.rank() != rank || w.rank() != rank) {
            throw new IllegalArgumentException(op + " needs rank-" + rank + " input and weight, found input "
                    + x.shapeString() + ", weight " + w.shapeString());
        }
    }

    private static void checkBiasOut(String op, Tensor bias, int o, Tensor out, int... expected) {
        if (bias != null && !bias.hasShape(o)) {
            throw new IllegalArgumentException(op + ": bias must be [" + o + "], found " + bias.shapeString());
        }
        out.requireShape(op + " output", expected);
    }

    /** 1×1 convolution with stride 1: out[n] = w [O, I] · x[n] [I, S] (+ bias per output row). */
    private static void pointwise(Tensor x, Tensor w2, Tensor bias, int n, int in, int o, int spatial, Tensor out) {
        for (int b = 0; b < n; b++) {
            Tensor xb = x.slice(b).reshape(in, spatial);
            Tensor ob = out.slice(b).reshape(o, spatial);
            Gemm.matmul(w2, false, xb, false, ob, 1f, 0f);
            if (bias != null) {
                addPerRow(ob, bias.toArray(), o, spatial);
            }
        }
    }

    /** t [rows, cols] += v[row] for every column. */
    private static void addPerRow(Tensor t, float[] v, int rows, int cols) {
        Parallel.forRange(rows, cols, (from, to) -> {
            float[] buf = Ops.scratch(0, Math.min(cols, 1 << 14));
            for (int r = from; r < to; r++) {
                float add = v[r];
                long base = (long) r * cols;
                for (int p = 0; p < cols; p += buf.length) {
                    int len = Math.min(buf.length, cols - p);
                    t.read(base + p, buf, 0, len);
                    for (int i = 0; i < len; i++) {
                        buf[i] += add;
                    }
                    t.write(base + p, buf, 0, len);
                }
            }
        });
    }

    private static void fillBias(Tensor out, Tensor bias, int n, int o) {
        out.fill(0f);
        if (bias != null) {
            long spatial = out.size() / ((long) n * o);
            float[] v = bias.toArray();
            for (int b = 0; b < n; b++) {
                addPerRow(out.slice(b).reshape(o, Math.toIntExact(spatial)), v, o, Math.toIntExact(spatial));
            }
        }
    }
}

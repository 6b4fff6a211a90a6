package io.github.jsora.tensor;

import java.util.Arrays;

import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * 2-D and 3-D convolutions on {@link Tensor}s in PyTorch's layouts: activations NCHW / NCDHW, weights OIHW /
 * OIDHW ({@code nn.Conv2d} / {@code nn.Conv3d} {@code weight}), optional bias [O], zero padding symmetric per
 * dimension, no dilation, no groups.
 *
 * <p>Two algorithms ({@link Algorithm}): one ND4J {@code conv2d} / {@code conv3dnew} call on views of the tensors'
 * memory (the {@code -onednn-avx2} ND4J build sends it to oneDNN; no copies), or im2col in Java + one matrix product
 * per sample through {@link Gemm}. {@link Algorithm#AUTO} takes im2col for small convolutions, where the native
 * call's fixed set-up cost (~1 ms) dominates, and the native call for the rest (measured: {@code ConvBench}).
 * 1×1(×1) kernels with stride 1 and no padding are a plain matrix product per sample
 * ({@code w [O, I] · x [I, spatial]}). Shapes are checked here and errors name both operands, so a wrong shape never
 * reaches native code.
 *
 * <p>Causal / asymmetric padding is done by the caller: build an input that already carries the extra zeros
 * (see {@link #padFront}) and convolve it with the symmetric part of the padding only.
 */
public final class Conv {

    static {
        NativeMemory.init(); // before ND4J loads: JavaCPP reads its limits once
    }

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

    /** How a convolution is computed. */
    public enum Algorithm {
        /** {@link #IM2COL} for small convolutions (where a native call's fixed cost dominates), else {@link #NATIVE}. */
        AUTO,
        /** One ND4J {@code conv2d} / {@code conv3dnew} call (oneDNN in the {@code -onednn-avx2} build). */
        NATIVE,
        /** Column matrix built in Java, then one matrix product per sample through {@link Gemm}. */
        IM2COL
    }

    /**
     * Up to this many multiply-adds per call {@link Algorithm#AUTO} uses im2col + Gemm: a native convolution call has
     * a fixed set-up cost of about a millisecond, so for small convolutions im2col is faster (measured alternating
     * call by call on the 2-core machine: im2col ahead up to ~150 M multiply-adds, the native call ahead from
     * ~570 M on; see {@code ConvBench}). Every convolution of the real-width VAE is far above this.
     */
    static final long IM2COL_MAX_MACS = 128L << 20;
    /** Largest column matrix {@link Algorithm#AUTO} builds (floats, 64 MiB). */
    static final long IM2COL_MAX_FLOATS = 16L << 20;

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
        conv(x, w, bias, new int[] {stride, stride}, new int[] {pad, pad}, out, Algorithm.AUTO);
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
        conv(x, w, bias, new int[] {strideH, strideW}, new int[] {padH, padW}, out, Algorithm.AUTO);
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
        conv(x, w, bias, stride, pad, out, Algorithm.AUTO);
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

    // ------------------------------------------------------------------ any rank

    /**
     * A 2-D (rank-4 operands) or 3-D (rank-5) convolution {@code out = conv(x, w) + bias} computed by the given
     * algorithm. 1×1(×1) kernels with stride 1 and no padding are always one matrix product per sample.
     *
     * @param x      [N, I, spatial...]
     * @param w      [O, I, kernel...]
     * @param bias   [O] or null
     * @param stride one per spatial dimension
     * @param pad    one per spatial dimension (symmetric zero padding)
     * @param out    [N, O, outSpatial...], written; must not overlap x
     */
    public static void conv(Tensor x, Tensor w, Tensor bias, int[] stride, int[] pad, Tensor out,
            Algorithm algorithm) {
        int rank = x.rank();
        String op = rank == 4 ? "conv2d" : "conv3d";
        if (rank != 4 && rank != 5) {
            throw new IllegalArgumentException("convolution needs a rank-4 or rank-5 input, found " + x.shapeString());
        }
        checkRank(op, x, w, rank);
        int d = rank - 2;
        if (stride.length != d || pad.length != d) {
            throw new IllegalArgumentException(op + " needs " + d + " strides and paddings, found "
                    + Arrays.toString(stride) + ", " + Arrays.toString(pad));
        }
        int n = x.dim(0);
        int in = x.dim(1);
        int o = w.dim(0);
        if (w.dim(1) != in) {
            throw new IllegalArgumentException(op + ": input " + x.shapeString() + " has " + in
                    + " channels, weight " + w.shapeString() + " expects " + w.dim(1));
        }
        int[] expected = new int[rank];
        expected[0] = n;
        expected[1] = o;
        boolean pointwise = true;
        long outSpatial = 1;
        long kernel = 1;
        for (int i = 0; i < d; i++) {
            expected[2 + i] = outputSize(x.dim(2 + i), w.dim(2 + i), stride[i], pad[i]);
            outSpatial *= expected[2 + i];
            kernel *= w.dim(2 + i);
            pointwise &= w.dim(2 + i) == 1 && stride[i] == 1 && pad[i] == 0;
        }
        checkBiasOut(op, bias, o, out, expected);
        if (out.size() == 0) {
            return;
        }
        if (in == 0) {
            fillBias(out, bias, n, o);
            return;
        }
        if (pointwise) {
            pointwise(x, w.reshape(o, in), bias, n, in, o, Math.toIntExact(outSpatial), out);
            return;
        }
        long cols = in * kernel * outSpatial;
        boolean im2col = algorithm == Algorithm.IM2COL || (algorithm == Algorithm.AUTO
                && cols * o <= IM2COL_MAX_MACS && cols <= IM2COL_MAX_FLOATS);
        if (im2col) {
            im2col(x, w, bias, stride, pad, out);
        } else {
            nativeConv(x, w, bias, stride, pad, out);
        }
    }

    private static void nativeConv(Tensor x, Tensor w, Tensor bias, int[] stride, int[] pad, Tensor out) {
        boolean three = x.rank() == 5;
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder(three ? "conv3dnew" : "conv2d");
        if (bias != null) {
            op.addInputs(x.nd4j(), w.nd4j(), bias.nd4j());
        } else {
            op.addInputs(x.nd4j(), w.nd4j());
        }
        op.addOutputs(out.nd4j());
        if (three) {
            // kD, kH, kW, sD, sH, sW, pD, pH, pW, dD, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCDHW),
            // wFormat (1 = OIDHW)
            op.addIntegerArguments(w.dim(2), w.dim(3), w.dim(4), stride[0], stride[1], stride[2], pad[0], pad[1],
                    pad[2], 1, 1, 1, 0, 0, 1);
        } else {
            // kH, kW, sH, sW, pH, pW, dH, dW, paddingMode (0 = explicit), dataFormat (0 = NCHW), wFormat (1 = OIHW)
            op.addIntegerArguments(w.dim(2), w.dim(3), stride[0], stride[1], pad[0], pad[1], 1, 1, 0, 0, 1);
        }
        Nd4j.getExecutioner().exec(op.build());
    }

    /**
     * im2col + Gemm: per sample, a column matrix [I·kD·kH·kW, Do·Ho·Wo] (a 2-D convolution is the kD = D = 1 case)
     * built in Java, then out[n] [O, S] = w [O, I·k] · cols.
     */
    private static void im2col(Tensor x, Tensor w, Tensor bias, int[] stride, int[] pad, Tensor out) {
        boolean three = x.rank() == 5;
        int n = x.dim(0);
        int in = x.dim(1);
        int o = w.dim(0);
        // as 3-D: depth 1, kernel 1, stride 1, pad 0 for a 2-D convolution
        int[] xd = three ? new int[] {x.dim(2), x.dim(3), x.dim(4)} : new int[] {1, x.dim(2), x.dim(3)};
        int[] kd = three ? new int[] {w.dim(2), w.dim(3), w.dim(4)} : new int[] {1, w.dim(2), w.dim(3)};
        int[] sd = three ? stride : new int[] {1, stride[0], stride[1]};
        int[] pd = three ? pad : new int[] {0, pad[0], pad[1]};
        int[] od = new int[3];
        for (int i = 0; i < 3; i++) {
            od[i] = (xd[i] + 2 * pd[i] - kd[i]) / sd[i] + 1;
        }
        int kernel = kd[0] * kd[1] * kd[2];
        int rows = Math.multiplyExact(in, kernel);
        int s = Math.multiplyExact(Math.multiplyExact(od[0], od[1]), od[2]);
        int vol = xd[0] * xd[1] * xd[2];
        float[] bv = bias == null ? null : bias.toArray();
        Tensor w2 = w.reshape(o, rows);
        try (Tensor cols = Tensor.zeros(rows, s)) {
            for (int b = 0; b < n; b++) {
                Tensor xb = x.slice(b);
                Parallel.forRange(in, (long) kernel * s, (from, to) -> {
                    float[] src = Ops.scratch(0, vol);
                    float[] row = Ops.scratch(1, s);
                    for (int ic = from; ic < to; ic++) {
                        xb.read((long) ic * vol, src, 0, vol);
                        for (int a = 0; a < kd[0]; a++) {
                            for (int bb = 0; bb < kd[1]; bb++) {
                                for (int cc = 0; cc < kd[2]; cc++) {
                                    fillRow(src, xd, od, sd, pd, a, bb, cc, row);
                                    int r = ((ic * kd[0] + a) * kd[1] + bb) * kd[2] + cc;
                                    cols.write((long) r * s, row, 0, s);
                                }
                            }
                        }
                    }
                });
                Tensor ob = out.slice(b).reshape(o, s);
                Gemm.matmul(w2, false, cols, false, ob, 1f, 0f);
                if (bv != null) {
                    addPerRow(ob, bv, o, s);
                }
            }
        }
    }

    /** One im2col row: the input shifted by kernel offset (a, bb, cc) sampled at every output position. */
    private static void fillRow(float[] src, int[] xd, int[] od, int[] sd, int[] pd, int a, int bb, int cc,
            float[] row) {
        int p = 0;
        for (int z = 0; z < od[0]; z++) {
            int iz = z * sd[0] - pd[0] + a;
            if (iz < 0 || iz >= xd[0]) {
                Arrays.fill(row, p, p + od[1] * od[2], 0f);
                p += od[1] * od[2];
                continue;
            }
            for (int y = 0; y < od[1]; y++) {
                int iy = y * sd[1] - pd[1] + bb;
                if (iy < 0 || iy >= xd[1]) {
                    Arrays.fill(row, p, p + od[2], 0f);
                    p += od[2];
                    continue;
                }
                int base = (iz * xd[1] + iy) * xd[2];
                for (int xx = 0; xx < od[2]; xx++) {
                    int ix = xx * sd[2] - pd[2] + cc;
                    row[p++] = ix < 0 || ix >= xd[2] ? 0f : src[base + ix];
                }
            }
        }
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
        long in = x.dim(2) * plane;   // elements of one (n, c) slab of x
        long pl = front * plane;      // zeros in front of it in out
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

package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** {@link Conv} against a direct-sum convolution in double precision, on odd sizes, paddings and strides. */
class ConvTest {

    private final Random rnd = new Random(11);

    private float[] randn(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }

    /**
     * Naive N-d convolution (d = 2 or 3 spatial dims) with symmetric zero padding, PyTorch layouts.
     * x [N, I, dims...], w [O, I, k...], returns [N, O, out...].
     */
    static float[] naiveConv(float[] x, int[] xs, float[] w, int[] ws, float[] bias, int[] stride, int[] pad) {
        int d = xs.length - 2;
        int n = xs[0], in = xs[1], o = ws[0];
        int[] os = new int[d];
        int outSpatial = 1, inSpatial = 1, kSpatial = 1;
        for (int i = 0; i < d; i++) {
            os[i] = (xs[2 + i] + 2 * pad[i] - ws[2 + i]) / stride[i] + 1;
            outSpatial *= os[i];
            inSpatial *= xs[2 + i];
            kSpatial *= ws[2 + i];
        }
        float[] out = new float[n * o * outSpatial];
        int[] op = new int[d];
        int[] kp = new int[d];
        for (int b = 0; b < n; b++) {
            for (int oc = 0; oc < o; oc++) {
                for (int oi = 0; oi < outSpatial; oi++) {
                    unflatten(oi, os, op);
                    double s = bias == null ? 0 : bias[oc];
                    for (int ic = 0; ic < in; ic++) {
                        for (int ki = 0; ki < kSpatial; ki++) {
                            unflatten(ki, java.util.Arrays.copyOfRange(ws, 2, 2 + d), kp);
                            int flat = 0;
                            boolean inside = true;
                            for (int i = 0; i < d; i++) {
                                int pos = op[i] * stride[i] - pad[i] + kp[i];
                                if (pos < 0 || pos >= xs[2 + i]) {
                                    inside = false;
                                    break;
                                }
                                flat = flat * xs[2 + i] + pos;
                            }
                            if (inside) {
                                s += (double) x[(b * in + ic) * inSpatial + flat] * w[(oc * in + ic) * kSpatial + ki];
                            }
                        }
                    }
                    out[(b * o + oc) * outSpatial + oi] = (float) s;
                }
            }
        }
        return out;
    }

    private static void unflatten(int idx, int[] dims, int[] out) {
        for (int i = dims.length - 1; i >= 0; i--) {
            out[i] = idx % dims[i];
            idx /= dims[i];
        }
    }

    private static void close(float[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length, "length");
        double max = 0;
        for (float e : expected) {
            max = Math.max(max, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(expected[i] - actual[i]) > tol * Math.max(1, max)) {
                throw new AssertionError("element " + i + ": expected " + expected[i] + ", found " + actual[i]);
            }
        }
    }

    @Test
    void conv2dMatchesNaiveOnOddShapes() {
        // {N, I, H, W, O, kH, kW, stride, pad, bias}
        int[][] cases = {
            {1, 3, 7, 5, 4, 3, 3, 1, 1, 1},
            {2, 5, 9, 11, 3, 3, 3, 1, 0, 0},
            {1, 4, 8, 8, 6, 3, 3, 2, 1, 1},
            {2, 7, 5, 6, 5, 1, 1, 1, 0, 1},   // pointwise path
            {1, 3, 6, 7, 2, 1, 1, 2, 0, 0},   // 1×1 with stride: ND4J path
            {1, 2, 3, 3, 3, 5, 3, 1, 2, 1},   // non-square kernel
            {1, 1, 1, 1, 1, 3, 3, 1, 1, 1},
        };
        for (int[] c : cases) {
            int n = c[0], in = c[1], h = c[2], wd = c[3], o = c[4], kh = c[5], kw = c[6], s = c[7], p = c[8];
            float[] x = randn(n * in * h * wd);
            float[] w = randn(o * in * kh * kw);
            float[] b = c[9] == 1 ? randn(o) : null;
            float[] expected = naiveConv(x, new int[] {n, in, h, wd}, w, new int[] {o, in, kh, kw}, b,
                    new int[] {s, s}, new int[] {p, p});
            // operands placed at offsets inside bigger tensors to exercise views
            try (Tensor big = Tensor.zeros(5 + x.length + w.length + o + expected.length + 3)) {
                Tensor tx = big.view(5, n, in, h, wd);
                Tensor tw = big.view(5 + x.length, o, in, kh, kw);
                Tensor tb = big.view(5 + x.length + w.length, o);
                Tensor tout = big.view(5 + x.length + w.length + o, n, o, (h + 2 * p - kh) / s + 1,
                        (wd + 2 * p - kw) / s + 1);
                tx.write(0, x, 0, x.length);
                tw.write(0, w, 0, w.length);
                if (b != null) {
                    tb.write(0, b, 0, o);
                }
                for (Conv.Algorithm alg : Conv.Algorithm.values()) {
                    tout.fill(123f);
                    Conv.conv(tx, tw, b == null ? null : tb, new int[] {s, s}, new int[] {p, p}, tout, alg);
                    close(expected, tout.toArray(), 1e-5);
                }
                assertEquals(0f, big.get(0));
                assertEquals(0f, big.get(big.size() - 1));
            }
        }
    }

    @Test
    void conv2dAllocatingFormAndAsymmetricStride() {
        float[] x = randn(2 * 3 * 9 * 10);
        float[] w = randn(4 * 3 * 3 * 3);
        float[] b = randn(4);
        try (Tensor tx = Tensor.of(x, 2, 3, 9, 10); Tensor tw = Tensor.of(w, 4, 3, 3, 3); Tensor tb = Tensor.of(b, 4);
                Tensor out = Tensor.zeros(2, 4, 9, 5)) {
            float[] exp = naiveConvHW(x, new int[] {2, 3, 9, 10}, w, new int[] {4, 3, 3, 3}, b, 1, 2, 1, 1);
            Conv.conv2d(tx, tw, tb, 1, 2, 1, 1, out);
            close(exp, out.toArray(), 1e-5);
            for (Conv.Algorithm alg : Conv.Algorithm.values()) {
                out.fill(5f);
                Conv.conv(tx, tw, tb, new int[] {1, 2}, new int[] {1, 1}, out, alg);
                close(exp, out.toArray(), 1e-5);
            }
            try (Tensor o2 = Conv.conv2d(tx, tw, tb, 1, 1)) {
                assertTrue(o2.hasShape(2, 4, 9, 10));
                close(naiveConv(x, new int[] {2, 3, 9, 10}, w, new int[] {4, 3, 3, 3}, b, new int[] {1, 1},
                        new int[] {1, 1}), o2.toArray(), 1e-5);
            }
        }
    }

    private static float[] naiveConvHW(float[] x, int[] xs, float[] w, int[] ws, float[] b, int sh, int sw, int ph,
            int pw) {
        // separate strides per dimension: pad/stride arrays differ
        return naiveConv(x, xs, w, ws, b, new int[] {sh, sw}, new int[] {ph, pw});
    }

    @Test
    void conv3dMatchesNaiveOnOddShapes() {
        // {N, I, D, H, W, O, kD, kH, kW, sD, pD, pHW, bias}
        int[][] cases = {
            {1, 3, 5, 4, 6, 4, 3, 3, 3, 1, 1, 1, 1},
            {2, 4, 7, 3, 5, 3, 3, 3, 3, 1, 0, 1, 0},   // causal use: time padding done outside
            {1, 5, 4, 5, 5, 6, 3, 3, 3, 2, 1, 1, 1},   // time stride 2
            {2, 6, 3, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1},   // pointwise path
            {1, 2, 1, 1, 1, 2, 3, 3, 3, 1, 1, 1, 0},
        };
        for (int[] c : cases) {
            int n = c[0], in = c[1], d = c[2], h = c[3], wd = c[4], o = c[5], kd = c[6], kh = c[7], kw = c[8];
            int sd = c[9], pd = c[10], phw = c[11];
            float[] x = randn(n * in * d * h * wd);
            float[] w = randn(o * in * kd * kh * kw);
            float[] b = c[12] == 1 ? randn(o) : null;
            int[] stride = {sd, 1, 1};
            int[] pad = {pd, phw, phw};
            float[] expected = naiveConv(x, new int[] {n, in, d, h, wd}, w, new int[] {o, in, kd, kh, kw}, b, stride,
                    pad);
            try (Tensor big = Tensor.zeros(7 + x.length + w.length + expected.length);
                    Tensor tb = b == null ? null : Tensor.of(b, o)) {
                Tensor tx = big.view(7, n, in, d, h, wd);
                Tensor tw = big.view(7 + x.length, o, in, kd, kh, kw);
                Tensor tout = big.view(7 + x.length + w.length, n, o, (d + 2 * pd - kd) / sd + 1,
                        h + 2 * phw - kh + 1, wd + 2 * phw - kw + 1);
                tx.write(0, x, 0, x.length);
                tw.write(0, w, 0, w.length);
                for (Conv.Algorithm alg : Conv.Algorithm.values()) {
                    tout.fill(-7f);
                    Conv.conv(tx, tw, tb, stride, pad, tout, alg);
                    close(expected, tout.toArray(), 1e-5);
                }
                assertEquals(0f, big.get(0));
            }
        }
    }

    @Test
    void causalConv3dByFrontPadding() {
        // causal: pad time by 2 zeros in front only, H/W by 1 each side
        int n = 2, in = 3, d = 5, h = 3, wd = 4, o = 2;
        float[] x = randn(n * in * d * h * wd);
        float[] w = randn(o * in * 27);
        float[] b = randn(o);
        // naive causal: build padded x by hand
        float[] xp = new float[n * in * (d + 2) * h * wd];
        for (int r = 0; r < n * in; r++) {
            System.arraycopy(x, r * d * h * wd, xp, r * (d + 2) * h * wd + 2 * h * wd, d * h * wd);
        }
        float[] expected = naiveConv(xp, new int[] {n, in, d + 2, h, wd}, w, new int[] {o, in, 3, 3, 3}, b,
                new int[] {1, 1, 1}, new int[] {0, 1, 1});
        try (Tensor tx = Tensor.of(x, n, in, d, h, wd); Tensor tw = Tensor.of(w, o, in, 3, 3, 3);
                Tensor tb = Tensor.of(b, o); Tensor padded = Conv.padFront(tx, 2)) {
            assertTrue(padded.hasShape(n, in, d + 2, h, wd));
            assertEquals(0f, padded.get(1, 2, 1, 2, 3));
            assertEquals(x[((1 * in + 2) * d + 0) * h * wd + 2 * wd + 3], padded.get(1, 2, 2, 2, 3));
            try (Tensor out = Conv.conv3d(padded, tw, tb, new int[] {1, 1, 1}, new int[] {0, 1, 1})) {
                assertTrue(out.hasShape(n, o, d, h, wd));
                close(expected, out.toArray(), 1e-5);
            }
        }
    }

    @Test
    void badShapesNameBothOperands() {
        try (Tensor x = Tensor.zeros(1, 3, 5, 5); Tensor w = Tensor.zeros(4, 2, 3, 3); Tensor out = Tensor.zeros(1, 4, 5, 5);
                Tensor w3 = Tensor.zeros(4, 3, 3, 3); Tensor bias = Tensor.zeros(3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Conv.conv2d(x, w, null, 1, 1, out));
            assertTrue(e.getMessage().contains("[1, 3, 5, 5]") && e.getMessage().contains("[4, 2, 3, 3]"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Conv.conv2d(x, w3, bias, 1, 1, out));
            assertTrue(e.getMessage().contains("bias"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Conv.conv2d(x, w3, null, 1, 0, out));
            assertTrue(e.getMessage().contains("[1, 4, 3, 3]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Conv.conv3d(x, w3, null, new int[] {1, 1, 1},
                    new int[] {1, 1, 1}));
            try (Tensor tiny = Tensor.zeros(1, 3, 1, 1)) {
                e = assertThrows(IllegalArgumentException.class, () -> Conv.conv2d(tiny, w3, null, 1, 0));
                assertTrue(e.getMessage().contains("shorter than the kernel"), e.getMessage());
            }
        }
    }
}

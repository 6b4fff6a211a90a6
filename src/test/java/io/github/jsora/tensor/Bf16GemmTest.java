package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * The bf16-weight product on both routes against a naive double-precision product of the same (bf16) weight and
 * the float32 activations, with the bound {@link Bf16Gemm} states.
 */
class Bf16GemmTest {

    private static float[] gaussian(Random rnd, int n, float std) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian() * std;
        }
        return a;
    }

    /** Naive reference in double plus Σ|x_i·w_i| per output (the scale of the rounding error). */
    private static double[][] reference(float[] x, int rows, int in, float[] w, int out, float[] bias) {
        double[] y = new double[rows * out];
        double[] mag = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o];
                double m = 0;
                for (int i = 0; i < in; i++) {
                    double p = (double) x[r * in + i] * w[o * in + i];
                    s += p;
                    m += Math.abs(p);
                }
                y[r * out + o] = s;
                mag[r * out + o] = m;
            }
        }
        return new double[][] {y, mag};
    }

    /** Runs one product by {@code route}; returns the worst error as a fraction of the stated bound. */
    private static double worstOverBound(Bf16Gemm.Route route, int rows, int in, int out, boolean withBias,
            long seed) {
        Random rnd = new Random(seed);
        float[] xv = gaussian(rnd, rows * in, 1f);
        float[] wv = gaussian(rnd, out * in, 0.05f);
        float[] bv = withBias ? gaussian(rnd, out, 0.5f) : null;
        try (Tensor x = Tensor.of(xv, rows, in); Tensor w = Tensor.of(wv, out, in);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor wq = pw.expand();
                Tensor bias = withBias ? Tensor.of(bv, out) : null; Tensor y = Tensor.zeros(rows, out)) {
            double[][] ref = reference(xv, rows, in, wq.toArray(), out, bv);
            Bf16Gemm.linear(x, pw, bias, y, null, route);
            float[] got = y.toArray();
            double worst = 0;
            double errSq = 0;
            double refSq = 0;
            for (int i = 0; i < got.length; i++) {
                double err = Math.abs(got[i] - ref[0][i]);
                double bound = 0x1p-9 * ref[1][i] + 0x1p-8 * Math.abs(ref[0][i]) + 1e-6 * ref[1][i] + 1e-30;
                worst = Math.max(worst, err / bound);
                errSq += err * err;
                refSq += ref[0][i] * ref[0][i];
            }
            assertTrue(Math.sqrt(errSq / refSq) < 1e-2, "relative Frobenius error " + Math.sqrt(errSq / refSq));
            System.err.printf("bf16 linear %s %dx%dx%d: worst error %.3f of the bound, relative Frobenius error "
                    + "%.2e%n", route, rows, in, out, worst, Math.sqrt(errSq / refSq));
            return worst;
        }
    }

    @Test
    void nativeRouteWithinStatedBound() {
        // 128·256·512 = 2^24 multiply-adds: the smallest product the native route takes
        assertTrue(worstOverBound(Bf16Gemm.Route.NATIVE, 128, 256, 512, true, 1) <= 1.0);
        assertTrue(worstOverBound(Bf16Gemm.Route.NATIVE, 300, 384, 200, false, 2) <= 1.0);
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void nativeRouteIsNotTheExpansion(boolean presets) {
        DnnlMatmul.setEnabled(presets);
        try {
            nativeRouteIsNotTheExpansion();
            if (presets) {
                assertEquals(DnnlMatmul.loaded(), Bf16Gemm.nativeWritesFloat32());
            } else {
                assertFalse(Bf16Gemm.nativeWritesFloat32());
                assertTrue(worstOverBound(Bf16Gemm.Route.NATIVE, 128, 256, 512, true, 5) <= 1.0, "ND4J's op");
            }
        } finally {
            DnnlMatmul.setEnabled(true);
        }
    }

    @Test
    void fusedBiasGeluIsTheGeluOfTheProductRoundedOnce() {
        assertEquals(DnnlMatmul.available(), Bf16Gemm.fusesBiasGelu());
        Random rnd = new Random(11);
        int rows = 200;
        int in = 256;
        int out = 384;
        float[] bv = gaussian(rnd, out, 0.5f);
        try (Tensor x = Tensor.of(gaussian(rnd, rows * in, 1f), rows, in);
                Tensor w = Tensor.of(gaussian(rnd, out * in, 0.1f), out, in);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor wq = pw.expand();
                Tensor bias = Tensor.of(bv, out);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, in) + Bf16Matrix.floats(rows, out)))) {
            Bf16Matrix xb = Bf16Matrix.in(mem, 0, rows, in);
            Bf16Matrix hb = Bf16Matrix.in(mem, Bf16Matrix.floats(rows, in), rows, out);
            xb.roundFrom(x);
            if (!Bf16Gemm.fusesBiasGelu()) {
                assertThrows(IllegalStateException.class, () -> Bf16Gemm.productBiasGelu(xb, pw, bias, hb));
                return;
            }
            assertTrue(Bf16Gemm.fusesBiasGelu(rows, pw), "oneDNN makes the fused product");
            Bf16Gemm.productBiasGelu(xb, pw, bias, hb);
            float[] xr = new float[rows * in];
            xb.readRows(0, rows, xr, 0);
            float[] got = new float[rows * out];
            hb.readRows(0, rows, got, 0);
            double[][] ref = reference(xr, rows, in, wq.toArray(), out, bv);
            double worst = 0;
            for (int i = 0; i < got.length; i++) {
                double z = ref[0][i];
                double want = 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
                // one bf16 rounding of the result, float32 sums (GELU's slope is at most 1.13), oneDNN's tanh
                double bound = 0x1p-8 * Math.abs(want) + 1.13 * 1e-6 * ref[1][i] + 1e-5;
                worst = Math.max(worst, Math.abs(got[i] - want) / bound);
                assertEquals(0, Float.floatToRawIntBits(got[i]) & 0xffff, "element " + i + " is a bf16 value");
            }
            assertTrue(worst <= 1.0, "worst error " + worst + " of the bound");
            try (Tensor shortBias = Tensor.of(new float[out - 1], out - 1)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Bf16Gemm.productBiasGelu(xb, pw, shortBias, hb));
                assertTrue(e.getMessage().contains("bias"), e.getMessage());
            }
            DnnlMatmul.setEnabled(false);
            try {
                assertFalse(Bf16Gemm.fusesBiasGelu());
                assertFalse(Bf16Gemm.fusesBiasGelu(rows, pw));
                assertThrows(IllegalStateException.class, () -> Bf16Gemm.productBiasGelu(xb, pw, bias, hb));
            } finally {
                DnnlMatmul.setEnabled(true);
            }
        }
    }

    @Test
    void thePresetsLoadOnLinuxX86() {
        boolean linuxX86 = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")
                && System.getProperty("os.arch", "").matches("amd64|x86_64");
        assertEquals(linuxX86, DnnlMatmul.loaded(), DnnlMatmul.detail());
        if (linuxX86) {
            String kernel = DnnlMatmul.kernel(128, 256, 512, false);
            assertFalse(kernel.isBlank(), "oneDNN names its kernel");
            System.err.println("oneDNN presets: " + DnnlMatmul.detail() + ", 128x256x512 kernel " + kernel);
        }
    }

    private void nativeRouteIsNotTheExpansion() {
        // guards against the native route silently expanding: rounding the activations must show up
        Random rnd = new Random(3);
        int rows = 128;
        int in = 256;
        int out = 512;
        try (Tensor x = Tensor.of(gaussian(rnd, rows * in, 1f), rows, in);
                Tensor w = Tensor.of(gaussian(rnd, out * in, 0.05f), out, in);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor wq = pw.expand();
                Tensor a = Tensor.zeros(rows, out); Tensor b = Tensor.zeros(rows, out)) {
            Bf16Gemm.linear(x, pw, null, a, null, Bf16Gemm.Route.NATIVE);
            Gemm.linear(x, wq, null, b);
            try (Tensor scratch = Tensor.zeros(Math.toIntExact(Bf16Gemm.scratchFloats(rows, pw)));
                    Tensor c = Tensor.zeros(rows, out)) {
                scratch.fill(Float.NaN); // contents must not matter
                Bf16Gemm.linear(x, pw, null, c, scratch, Bf16Gemm.Route.NATIVE);
                assertArrayEquals(a.toArray(), c.toArray());
                // the native route needs the bf16 operands only, not the expansion's room
                long nativeNeed = Bf16Gemm.scratchFloats(rows, pw, Bf16Gemm.Route.NATIVE);
                assertEquals((rows * in + 1) / 2 + (rows * out + 1) / 2, nativeNeed);
                Bf16Gemm.linear(x, pw, null, c, scratch.view(0, (int) nativeNeed), Bf16Gemm.Route.NATIVE);
                assertArrayEquals(a.toArray(), c.toArray());
                Tensor small = scratch.view(0, (int) nativeNeed - 1);
                assertThrows(IllegalArgumentException.class,
                        () -> Bf16Gemm.linear(x, pw, null, c, small, Bf16Gemm.Route.NATIVE));
            }
            float[] fa = a.toArray();
            float[] fb = b.toArray();
            int differ = 0;
            for (int i = 0; i < fa.length; i++) {
                differ += fa[i] != fb[i] ? 1 : 0;
                if (!Bf16Gemm.nativeWritesFloat32()) {
                    // every output of ND4J's op is a bf16 value (its output type)
                    assertEquals(0, Float.floatToRawIntBits(fa[i]) & 0xffff, "element " + i + " = " + fa[i]);
                }
            }
            assertTrue(differ > fa.length / 2, differ + " of " + fa.length + " differ");
        }
    }

    @Test
    void expansionRouteWithinBoundAndBitIdenticalToExpandThenGemm() {
        assertTrue(worstOverBound(Bf16Gemm.Route.EXPAND, 17, 40, 23, true, 4) <= 1.0);
        Random rnd = new Random(5);
        int rows = 130;
        int in = 256;
        int out = 512; // large enough for the native route: forcing EXPAND must still expand
        try (Tensor x = Tensor.of(gaussian(rnd, 2 * rows * in, 1f), 2, rows, in);
                Tensor w = Tensor.of(gaussian(rnd, out * in, 0.05f), out, in);
                Tensor bias = Tensor.of(gaussian(rnd, out, 1f), out);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor wq = pw.expand();
                Tensor scratch = Tensor.zeros(out * in + 7); Tensor a = Tensor.zeros(2, rows, out);
                Tensor b = Tensor.zeros(2, rows, out); Tensor c = Tensor.zeros(2, rows, out)) {
            Bf16Gemm.linear(x, pw, bias, a, scratch, Bf16Gemm.Route.EXPAND);
            Bf16Gemm.linear(x, pw, bias, c, null, Bf16Gemm.Route.EXPAND);
            Gemm.linear(x, wq, bias, b);
            assertArrayEquals(b.toArray(), a.toArray());
            assertArrayEquals(b.toArray(), c.toArray());
        }
    }

    @Test
    void smallProductsExpandEvenOnTheNativeRoute() {
        Random rnd = new Random(6);
        try (Tensor x = Tensor.of(gaussian(rnd, 8 * 64, 1f), 8, 64);
                Tensor w = Tensor.of(gaussian(rnd, 32 * 64, 0.05f), 32, 64);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor wq = pw.expand();
                Tensor a = Tensor.zeros(8, 32); Tensor b = Tensor.zeros(8, 32)) {
            Bf16Gemm.linear(x, pw, null, a, null, Bf16Gemm.Route.NATIVE);
            Gemm.linear(x, wq, null, b);
            assertArrayEquals(b.toArray(), a.toArray());
        }
    }

    @Test
    void forcedExpansionIsUsedBySelection() {
        try {
            Bf16Gemm.setRoute(Bf16Gemm.Route.EXPAND);
            assertEquals(Bf16Gemm.Route.EXPAND, Bf16Gemm.selection().route());
            Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
            assertEquals(Bf16Gemm.Route.NATIVE, Bf16Gemm.selection().route());
        } finally {
            Bf16Gemm.setRoute(null);
        }
    }

    @Test
    void automaticSelectionMatchesTheCpu() {
        try {
            Bf16Gemm.setRoute(null);
            Bf16Gemm.Selection s = Bf16Gemm.selection();
            if (!Bf16Gemm.cpuSupport().bf16()) {
                assertEquals(Bf16Gemm.Route.EXPAND, s.route(), s.reason());
            }
            assertFalse(s.reason().isEmpty());
        } finally {
            Bf16Gemm.setRoute(null);
        }
    }

    @Test
    void cpuDetection() {
        String x86 = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n\nprocessor\t: 1\n";
        assertTrue(Bf16Gemm.detectCpu(x86, "amd64").bf16());
        assertTrue(Bf16Gemm.detectCpu("flags : avx512f amx_bf16 amx_tile\n", "amd64").bf16());
        assertFalse(Bf16Gemm.detectCpu("flags : fpu avx2 avx512f avx512bw\n", "amd64").bf16());
        assertTrue(Bf16Gemm.detectCpu("Features\t: fp asimd bf16 i8mm\n", "aarch64").bf16());
        assertFalse(Bf16Gemm.detectCpu("Features\t: fp asimd sve\n", "aarch64").bf16());
        assertFalse(Bf16Gemm.detectCpu("model name : x\n", "amd64").bf16());
    }

    /** A native route that is slow for its first products (as measured on a Xeon with AMX) is still chosen. */
    @Test
    void calibrationWarmsTheNativeRouteBeforeTimingIt() {
        int[] calls = new int[2];
        double[] t = Bf16Gemm.compare(() -> calls[0]++ < 10 ? 30_000_000L : 9_000_000L, () -> {
            calls[1]++;
            return 20_000_000L;
        });
        assertEquals(0.009, t[0], 1e-12);
        assertEquals(0.020, t[1], 1e-12);
        assertEquals(Bf16Gemm.Route.NATIVE, Bf16Gemm.decide(t, "test").route());
        assertEquals(1 + Bf16Gemm.ROUNDS, calls[1]);
        // the warm-up is bounded in time (300 ms of 30 ms products: 10) and in count (products of no time)
        assertEquals(10 + Bf16Gemm.ROUNDS, calls[0]);
        int[] free = new int[1];
        Bf16Gemm.compare(() -> {
            free[0]++;
            return 0L;
        }, () -> 1L);
        assertEquals(Bf16Gemm.WARM_MAX_RUNS + Bf16Gemm.ROUNDS, free[0]);
    }

    @Test
    void calibrationKeepsFloat32UnlessNativeIsTenPercentFaster() {
        assertEquals(Bf16Gemm.Route.EXPAND, Bf16Gemm.decide(new double[] {0.030, 0.020}, "x").route());
        assertEquals(Bf16Gemm.Route.EXPAND, Bf16Gemm.decide(new double[] {0.019, 0.020}, "x").route());
        Bf16Gemm.Selection s = Bf16Gemm.decide(new double[] {0.009, 0.020}, "CPU y");
        assertEquals(Bf16Gemm.Route.NATIVE, s.route());
        assertTrue(s.reason().startsWith("CPU y; 1024x1152x1152: native 9.0 ms, float32 20.0 ms"), s.reason());
        assertTrue(Bf16Gemm.decide(new double[] {0.03, 0.02}, "x").reason().endsWith("native not faster"));
    }

    @Test
    void badShapesNameTheOperands() {
        try (Tensor w = Tensor.zeros(4, 8); PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16);
                PackedWeight q = PackedWeight.pack(w, PackedWeight.Format.INT8); Tensor x = Tensor.zeros(3, 7);
                Tensor x8 = Tensor.zeros(3, 8); Tensor out = Tensor.zeros(3, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Bf16Gemm.linear(x, pw, null, out));
            assertTrue(e.getMessage().contains("[3, 7]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Bf16Gemm.linear(x8, q, null, out));
        }
    }
}

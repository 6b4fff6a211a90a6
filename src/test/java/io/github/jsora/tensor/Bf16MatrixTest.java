package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * bf16 matrices in a float32 tensor's memory: the Java rounding and widening against {@link PackedWeight#bf16Bits}
 * and the native casts, {@link Bf16Matrix#transformRows}, and {@link Bf16Gemm#product} against the native route of
 * {@link Bf16Gemm#linear} (the same bits: that route is the product between two casts).
 */
class Bf16MatrixTest {

    @AfterEach
    void selectAgain() {
        Bf16Gemm.setRoute(null);
    }

    /** Floats that round every way: random, ties (odd and even), near overflow, subnormal, ±0, ±∞, NaN. */
    private static float[] awkward(Random rnd, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            switch (i % 12) {
                case 0 -> f[i] = (float) rnd.nextGaussian() * 3;
                case 1 -> f[i] = Float.intBitsToFloat((rnd.nextInt() & 0xffff0000) | 0x8000);  // a tie
                case 2 -> f[i] = Float.intBitsToFloat(rnd.nextInt());                          // any bits
                case 3 -> f[i] = Float.intBitsToFloat(0x7f7fffff - rnd.nextInt(0x10000));      // rounds to ∞
                case 4 -> f[i] = Float.intBitsToFloat(rnd.nextInt(0x800000));                  // subnormal
                case 5 -> f[i] = rnd.nextBoolean() ? 0f : -0f;
                case 6 -> f[i] = rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                case 7 -> f[i] = Float.intBitsToFloat(0x7f800001 + rnd.nextInt(0x7fffff));    // NaN payloads
                case 8 -> f[i] = Float.intBitsToFloat(0xffffffff - rnd.nextInt(0x7fffff));    // negative NaNs
                default -> f[i] = (float) (rnd.nextGaussian() * 1e-3);
            }
        }
        return f;
    }

    @Test
    void roundingAndWideningAreTheScalarBitsOnEveryLength() {
        Random rnd = new Random(11);
        for (int n : new int[] {0, 1, 7, 8, 15, 16, 17, 31, 33, 100, 1152}) {
            float[] f = awkward(rnd, n);
            short[] s = new short[n];
            Bf16Matrix.round(f, s, n);
            float[] back = new float[n];
            Bf16Matrix.widen(s, back, n);
            for (int i = 0; i < n; i++) {
                assertEquals(PackedWeight.bf16Bits(f[i]), s[i], "n=" + n + " element " + i + " = " + f[i]);
                assertEquals(s[i] << 16, Float.floatToRawIntBits(back[i]), "widened element " + i);
                if (Float.isNaN(f[i])) {
                    assertTrue(Float.isNaN(back[i]), "a NaN stays NaN: element " + i);
                }
            }
        }
    }

    @Test
    void javaRoundingIsTheNativeCastOnNumbers() {
        Random rnd = new Random(12);
        int rows = 9;
        int cols = 37;
        float[] f = awkward(rnd, rows * cols);
        for (int i = 0; i < f.length; i++) {
            if (Float.isNaN(f[i])) {
                f[i] = 1.5f;    // NaN payloads are the one place the native cast may differ (both stay NaN)
            }
        }
        try (Tensor x = Tensor.of(f, rows, cols);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, cols)));
                Tensor wide = Tensor.zeros(rows, cols)) {
            Bf16Matrix m = Bf16Matrix.in(mem, 0, rows, cols);
            m.roundFrom(x);
            m.widenInto(wide);
            float[] nat = wide.toArray();
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                m.readRow(r, row);
                for (int i = 0; i < cols; i++) {
                    int e = r * cols + i;
                    assertEquals(PackedWeight.bf16Bits(f[e]) << 16, Float.floatToRawIntBits(nat[e]),
                            "native cast of element " + e + " = " + f[e]);
                    assertEquals(Float.floatToRawIntBits(nat[e]), Float.floatToRawIntBits(row[i]));
                }
            }
        }
    }

    @Test
    void transformRowsIsWidenApplyRound() {
        Random rnd = new Random(13);
        int rows = 300;        // several chunks over the compute threads
        int cols = 260;
        float[] f = new float[rows * cols];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) rnd.nextGaussian();
        }
        try (Tensor x = Tensor.of(f, rows, cols);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, cols)) + 3)) {
            Bf16Matrix m = Bf16Matrix.in(mem, 3, rows, cols);   // an odd float offset
            m.roundFrom(x);
            m.transformRows((r, row) -> {
                for (int i = 0; i < cols; i++) {
                    row[i] = Ops.geluTanh(row[i] + r * 0.01f);
                }
            }, 16);
            float[] got = new float[cols];
            for (int r = 0; r < rows; r++) {
                m.readRow(r, got);
                for (int i = 0; i < cols; i++) {
                    float widened = Float.intBitsToFloat(PackedWeight.bf16Bits(f[r * cols + i]) << 16);
                    float want = Float.intBitsToFloat(PackedWeight.bf16Bits(Ops.geluTanh(widened + r * 0.01f)) << 16);
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i]),
                            "row " + r + " column " + i);
                }
            }
            assertEquals(0f, mem.get(0));                           // the floats before the matrix are untouched
            assertEquals(0f, mem.get(2));
        }
    }

    @Test
    void productIsTheNativeLinearBitForBit() {
        for (boolean presets : new boolean[] {true, false}) {
            DnnlMatmul.setEnabled(presets);
            try {
                productIsTheNativeLinearBitForBitOnce();
            } finally {
                DnnlMatmul.setEnabled(true);
            }
        }
    }

    private void productIsTheNativeLinearBitForBitOnce() {
        Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
        Random rnd = new Random(14);
        int rows = 130;
        int in = 192;
        int out = 96;
        float[] xv = new float[rows * in];
        float[] wv = new float[out * in];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < wv.length; i++) {
            wv[i] = (float) rnd.nextGaussian() * 0.05f;
        }
        try (Tensor x = Tensor.of(xv, rows, in); Tensor w = Tensor.of(wv, out, in);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16);
                Tensor ref = Tensor.zeros(rows, out); Tensor got = Tensor.zeros(rows, out);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, in) + Bf16Matrix.floats(rows, out)))) {
            Bf16Gemm.setMinNativeMacs(0);
            try {
                Bf16Gemm.linear(x, pw, null, ref, null, Bf16Gemm.Route.NATIVE);
            } finally {
                Bf16Gemm.setMinNativeMacs(Bf16Gemm.MIN_NATIVE_MACS);
            }
            Bf16Matrix xb = Bf16Matrix.in(mem, 0, rows, in);
            Bf16Matrix ob = Bf16Matrix.in(mem, Bf16Matrix.floats(rows, in), rows, out);
            xb.roundFrom(x);
            Bf16Gemm.product(xb, pw, got);                          // float32 output: linear's bits
            assertArrayEquals(ref.toArray(), got.toArray());
            Bf16Gemm.product(xb, pw, ob);                           // bf16 output: within a rounding of them
            float[] f32 = got.toArray();
            ob.widenInto(got);
            float[] b16 = got.toArray();
            for (int i = 0; i < f32.length; i++) {
                assertTrue(Math.abs(b16[i] - f32[i]) <= 0x1p-8 * Math.abs(f32[i]) + 1e-6 * Math.abs(f32[i]),
                        "element " + i + ": bf16 " + b16[i] + ", float32 " + f32[i]);
                assertEquals(0, Float.floatToRawIntBits(b16[i]) & 0xffff);
            }

            // nativeFor: the route and the smallest native product
            assertEquals(false, Bf16Gemm.nativeFor(rows, pw));      // 130·192·96 < 2^24
            Bf16Gemm.setMinNativeMacs(0);
            try {
                assertEquals(true, Bf16Gemm.nativeFor(rows, pw));
                Bf16Gemm.setRoute(Bf16Gemm.Route.EXPAND);
                assertEquals(false, Bf16Gemm.nativeFor(rows, pw));
            } finally {
                Bf16Gemm.setMinNativeMacs(Bf16Gemm.MIN_NATIVE_MACS);
            }
        }
    }

    @Test
    void badMatricesAreRefusedWithTheirShapes() {
        try (Tensor mem = Tensor.zeros(10); Tensor w = Tensor.zeros(4, 6);
                PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16); Tensor small = Tensor.zeros(3, 5)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Bf16Matrix.in(mem, 0, 3, 7));               // 21 values need 11 floats
            assertTrue(e.getMessage().contains("[3, 7]") && e.getMessage().contains("11 floats"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Bf16Matrix.in(mem, -1, 1, 1));
            assertThrows(IllegalArgumentException.class, () -> Bf16Matrix.in(mem, 0, 65536, 65536));
            Bf16Matrix a = Bf16Matrix.in(mem, 0, 3, 6);
            Bf16Matrix b = Bf16Matrix.in(mem, 4, 3, 4);                // floats 4..10: overlaps a (0..9)
            e = assertThrows(IllegalArgumentException.class, () -> Bf16Gemm.product(a, pw, b));
            assertTrue(e.getMessage().contains("overlap"), e.getMessage());
            Bf16Matrix c = Bf16Matrix.in(mem, 9, 1, 2);
            e = assertThrows(IllegalArgumentException.class, () -> Bf16Gemm.product(a, pw, c));
            assertTrue(e.getMessage().contains("[3, 6]") && e.getMessage().contains("[1, 2]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> a.roundFrom(small));
            assertTrue(e.getMessage().contains("[3, 5]"), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> a.readRow(3, new float[6]));
            assertThrows(IllegalArgumentException.class, () -> a.writeRow(0, new float[5]));
        }
        Tensor closed = Tensor.zeros(8);
        Bf16Matrix m = Bf16Matrix.in(closed, 0, 2, 8);
        closed.close();
        assertThrows(IllegalStateException.class, () -> m.readRow(0, new float[8]));
    }
}

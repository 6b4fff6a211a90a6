package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.Naive;
import io.github.jsora.tensor.Ops;
import io.github.jsora.tensor.Tensor;

/**
 * The chunked, row-interleaved norm kernels against the row-at-a-time twins they replace, bit for bit:
 * {@link Kernels#layerNormRows} against {@link Ops#layerNormRow}, {@link Ops#rmsNormHeads} against
 * {@link Ops#rmsNormRow}, {@link Kernels#modulatedLayerNorm} against
 * {@link Kernels#normModulate} per row, {@link Kernels#gatedResidual} and {@link Kernels#gatedResidualNorm} against
 * the per-element residual formula followed by {@code normModulate}.
 */
class KernelsRowsTest {

    private final Random rnd = new Random(23);

    @ParameterizedTest
    @CsvSource({"1, 1152", "3, 1152", "4, 9", "7, 1152", "9, 13"})
    void layerNormRowsMatchesOneRowAtATime(int nr, int c) {
        int off = 5;
        float[] v = new float[off + nr * c];
        float[] src = Naive.randn(rnd, nr * c);
        for (int i = 0; i < src.length; i++) {
            v[off + i] = src[i] * 3f + 0.7f;
        }
        float[] want = v.clone();
        for (int r = 0; r < nr; r++) {
            float[] row = new float[c];
            System.arraycopy(want, off + r * c, row, 0, c);
            Ops.layerNormRow(row, c, 1e-6);
            System.arraycopy(row, 0, want, off + r * c, c);
        }
        Kernels.layerNormRows(v, off, nr, c, 1e-6);
        assertArrayEquals(want, v);
    }

    @ParameterizedTest
    @CsvSource({"1, 72", "4, 72", "8, 72", "16, 72", "17, 72", "7, 5", "9, 5", "12, 3"})
    void rmsNormHeadsMatchesOneHeadAtATime(int heads, int hd) {
        int off = 3;
        float[] v = new float[off + heads * hd + 2];
        float[] src = Naive.randn(rnd, v.length);
        System.arraycopy(src, 0, v, 0, v.length);
        float[] w = Naive.randn(rnd, hd);
        float[] want = v.clone();
        for (int h = 0; h < heads; h++) {
            Ops.rmsNormRow(want, off + h * hd, hd, w, 1e-6f);
        }
        Ops.rmsNormHeads(v, off, heads, hd, w, 1e-6f);
        assertArrayEquals(want, v);
    }

    @Test
    void rotaryPairTablesRefuseAnOddHeadDim() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Kernels.pairTables(new float[4], new float[4], 2, 5));
        assertTrue(e.getMessage().contains("5"), e.getMessage());
    }

    @Test
    void modulatedLayerNormMatchesNormModulatePerRow() {
        int b = 2, t = 3, s = 7, c = 40;
        int frames = b * t;
        float[][][] params = params(b, c);
        int[] frameRow = new int[frames];
        int[] againRow = new int[frames];
        for (int f = 0; f < frames; f++) {
            frameRow[f] = f / t;
            againRow[f] = f % t == 1 ? b + f / t : -1;
        }
        float[] x = Naive.randn(rnd, frames * s * c);
        for (int[] again : new int[][] {null, againRow}) {
            float[] want = x.clone();
            for (int r = 0; r < frames * s; r++) {
                int f = r / s;
                float[] row = new float[c];
                System.arraycopy(want, r * c, row, 0, c);
                Kernels.normModulate(row, c, params[frameRow[f]][1], params[frameRow[f]][0]);
                if (again != null && again[f] >= 0) {
                    Kernels.normModulate(row, c, params[again[f]][1], params[again[f]][0]);
                }
                System.arraycopy(row, 0, want, r * c, c);
            }
            try (Tensor xt = Tensor.of(x, frames * s, c); Tensor out = Tensor.zeros(frames * s, c)) {
                Kernels.modulatedLayerNorm(xt, out, frames, s, c, params, frameRow, 0, 1, again);
                assertArrayEquals(want, out.toArray(), again == null ? "one pass" : "second pass");
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"4, 4, 2", "5, 3, 2", "4, 4, -1", "5, 3, -1"})
    void gatedResidualNormMatchesResidualThenNorm(int t, int tq, int gateK) {
        int b = 2, s = 6, c = 24;
        float[][][] params = params(b, c);
        int[] frameRow = new int[b * t];
        for (int f = 0; f < b * t; f++) {
            frameRow[f] = f % t == 0 ? b + f / t : f / t;
        }
        float[] x = Naive.randn(rnd, b * t * s * c);
        float[] src = Naive.randn(rnd, b * tq * s * c);
        float[] bias = Naive.randn(rnd, c);
        float[] wantX = x.clone();
        float[] wantOut = new float[x.length];
        for (int r = 0; r < b * t * s; r++) {
            int f = r / s;
            int g = (f / t) * tq + (tq == t ? f % t : (f % t) / 2);
            float[] row = new float[c];
            for (int i = 0; i < c; i++) {
                float sv = src[(g * s + r % s) * c + i];
                wantX[r * c + i] += gateK >= 0 ? params[frameRow[f]][gateK][i] * (sv + bias[i]) : sv + bias[i];
                row[i] = wantX[r * c + i];
            }
            Kernels.normModulate(row, c, params[frameRow[f]][1], params[frameRow[f]][0]);
            System.arraycopy(row, 0, wantOut, r * c, c);
        }
        try (Tensor xa = Tensor.of(x, b * t * s, c); Tensor xb = Tensor.of(x, b * t * s, c);
                Tensor st = Tensor.of(src, b * tq * s, c); Tensor out = Tensor.zeros(b * t * s, c)) {
            Kernels.gatedResidual(xa, st, bias, b, t, tq, s, c, params, frameRow, gateK);
            assertArrayEquals(wantX, xa.toArray(), "residual");
            Kernels.gatedResidualNorm(xb, st, bias, b, t, tq, s, c, params, frameRow, gateK, out, 0, 1);
            assertArrayEquals(wantX, xb.toArray(), "fused residual");
            assertArrayEquals(wantOut, out.toArray(), "fused norm");
        }
        // from a bf16 product's result: the float32 kernels' bits on its widened values (fast norm too)
        try (Tensor xa = Tensor.of(x, b * t * s, c); Tensor xb = Tensor.of(x, b * t * s, c);
                Tensor xc = Tensor.of(x, b * t * s, c); Tensor xd = Tensor.of(x, b * t * s, c);
                Tensor st = Tensor.of(src, b * tq * s, c); Tensor unused = Tensor.zeros(b * tq * s, c);
                Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(b * tq * s, c)));
                Tensor outA = Tensor.zeros(b * t * s, c); Tensor outB = Tensor.zeros(b * t * s, c)) {
            Bf16Matrix m = Bf16Matrix.in(mem, 0, b * tq * s, c);
            m.roundFrom(st);
            m.widenInto(st);
            Kernels.gatedResidual(xa, st, bias, b, t, tq, s, c, params, frameRow, gateK);
            Kernels.gatedResidual(xb, unused, m, bias, b, t, tq, s, c, params, frameRow, gateK);
            assertArrayEquals(xa.toArray(), xb.toArray(), "residual from bf16");
            Kernels.gatedResidualNorm(xc, st, null, bias, b, t, tq, s, c, params, frameRow, gateK, outA, 0, 1, true);
            Kernels.gatedResidualNorm(xd, unused, m, bias, b, t, tq, s, c, params, frameRow, gateK, outB, 0, 1, true);
            assertArrayEquals(xc.toArray(), xd.toArray(), "fused residual from bf16");
            assertArrayEquals(outA.toArray(), outB.toArray(), "fused fast norm from bf16");
        }
    }

    /** Modulation rows of 2B rows with slots 0 (shift), 1 (1 + scale), 2 (gate). */
    private float[][][] params(int b, int c) {
        float[][][] p = new float[2 * b][3][];
        for (int r = 0; r < 2 * b; r++) {
            for (int k = 0; k < 3; k++) {
                p[r][k] = Naive.randn(rnd, c);
            }
        }
        return p;
    }
}

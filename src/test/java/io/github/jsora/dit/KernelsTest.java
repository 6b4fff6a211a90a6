package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Naive;
import io.github.jsora.tensor.Tensor;

/** The production modulation kernel of the STDiT3 blocks against the naive LayerNorm and adaLN formula. */
class KernelsTest {

    private final Random rnd = new Random(11);

    private float[] randn(int n) {
        return Naive.randn(rnd, n);
    }

    @Test
    void modulatedLayerNormUsesEachFramesRowAndTheSecondPass() {
        int b = 2, t = 3, s = 4, c = 9;
        int frames = b * t;
        float[] x = randn(frames * s * c);
        // rows 0..b-1 (t) and b..2b-1 (t0); slot 0 shift, slot 1 holds 1 + scale
        float[][][] params = new float[2 * b][2][];
        for (int r = 0; r < 2 * b; r++) {
            params[r][0] = randn(c);
            params[r][1] = randn(c);
        }
        int[] frameRow = new int[frames];
        int[] againRow = new int[frames];
        for (int f = 0; f < frames; f++) {
            frameRow[f] = f / t;
            againRow[f] = f % t == 0 ? b + f / t : -1;       // first frame of each sample: a second pass with t0
        }
        float[] ln = Naive.layerNorm(x, c, 1e-6);
        try (Tensor xt = Tensor.of(x, frames * s, c); Tensor once = Tensor.zeros(frames * s, c);
                Tensor twice = Tensor.zeros(frames * s, c)) {
            Kernels.modulatedLayerNorm(xt, once, frames, s, c, params, frameRow, 0, 1, null);
            Kernels.modulatedLayerNorm(xt, twice, frames, s, c, params, frameRow, 0, 1, againRow);
            for (int row = 0; row < frames * s; row++) {
                int f = row / s;
                float[] p = new float[c];
                for (int i = 0; i < c; i++) {
                    p[i] = ln[row * c + i] * params[frameRow[f]][1][i] + params[frameRow[f]][0][i];
                }
                float[] q = againRow[f] < 0 ? p : Naive.layerNorm(p, c, 1e-6);
                for (int i = 0; i < c; i++) {
                    assertEquals(p[i], once.get((long) row * c + i), 1e-4, "row " + row + " channel " + i);
                    float want = againRow[f] < 0 ? p[i]
                            : q[i] * params[againRow[f]][1][i] + params[againRow[f]][0][i];
                    assertEquals(want, twice.get((long) row * c + i), 1e-4, "second pass row " + row + " ch " + i);
                }
            }
        }
    }
}

package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Tensor;

/** The new fused kernels of {@link Kernels} against the existing ones they would replace. */
class KernelsFastTest {

    @Test
    void modulatedLayerNormFastMatchesModulatedLayerNorm() {
        Random rnd = new Random(22);
        int frames = 3;
        int s = 5;
        int c = 1152;
        float[][][] params = new float[2][2][c];
        for (float[][] p : params) {
            for (float[] v : p) {
                for (int i = 0; i < c; i++) {
                    v[i] = (float) rnd.nextGaussian();
                }
            }
        }
        int[] frameRow = {0, 1, 0};
        int[] again = {-1, 0, -1};
        float[] xv = new float[frames * s * c];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) (rnd.nextGaussian() * 2 + 1);
        }
        try (Tensor x = Tensor.of(xv, frames, s, c); Tensor a = Tensor.zeros(frames, s, c);
                Tensor b = Tensor.zeros(frames, s, c)) {
            Kernels.modulatedLayerNorm(x, a, frames, s, c, params, frameRow, 0, 1, again);
            Kernels.modulatedLayerNormFast(x, b, frames, s, c, params, frameRow, 0, 1, again);
            float[] fa = a.toArray();
            float[] fb = b.toArray();
            for (int i = 0; i < fa.length; i++) {
                assertEquals(fa[i], fb[i], 2e-5 * (1 + Math.abs(fa[i])), "element " + i);
            }
        }
    }
}

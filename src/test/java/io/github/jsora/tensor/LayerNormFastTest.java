package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** {@link Ops#layerNormRowFast} against the naive double LayerNorm and the existing row kernel. */
class LayerNormFastTest {

    @Test
    void matchesNaiveAndExistingKernel() {
        Random rnd = new Random(21);
        for (int c : new int[] {1, 7, 72, 1152, 4096}) {
            for (double shift : new double[] {0, 3}) {
                float[] x = new float[4 * c];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (rnd.nextGaussian() + shift);
                }
                float[] want = Naive.layerNorm(x, c, 1e-6);
                float[] old = x.clone();
                float[] got = new float[x.length + 5];
                System.arraycopy(x, 0, got, 5, x.length);
                float[] row = new float[c];
                for (int r = 0; r < 4; r++) {
                    Ops.layerNormRowFast(got, 5 + r * c, c, 1e-6f);
                    System.arraycopy(old, r * c, row, 0, c);
                    Ops.layerNormRow(row, c, 1e-6);
                    System.arraycopy(row, 0, old, r * c, c);
                }
                for (int i = 0; i < x.length; i++) {
                    assertEquals(want[i], got[5 + i], 2e-6, "c " + c + " element " + i);
                    assertEquals(old[i], got[5 + i], 2e-6, "c " + c + " element " + i + " vs layerNormRow");
                }
            }
        }
    }
}

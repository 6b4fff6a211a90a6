package io.github.jsora.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

import io.github.jsora.tensor.Naive;
import io.github.jsora.tensor.Tensor;

/** The VAE's production GroupNorm against the naive twin, plain, with SiLU, and written into a padded buffer. */
class VaeKernelsTest {

    private final Random rnd = new Random(7);

    private float[] randn(int n) {
        return Naive.randn(rnd, n);
    }

    @Test
    void groupNormMatchesNaive() {
        int n = 2, c = 12, groups = 3, sp = 37;
        float[] x = randn(n * c * sp), w = randn(c), b = randn(c);
        float[] want = Naive.groupNorm(x, n, c, groups, 1e-5, w, b);
        try (Tensor xt = Tensor.of(x, n, c, sp); Tensor out = Tensor.zeros(n, c, sp);
                Tensor silu = Tensor.zeros(n, c, sp); Tensor padded = Tensor.zeros(n, c, sp + 3)) {
            VaeKernels.groupNorm(xt, n, c, sp, groups, 1e-5f, w, b, false, out, (long) c * sp, sp, 0);
            VaeKernels.groupNorm(xt, n, c, sp, groups, 1e-5f, w, b, true, silu, (long) c * sp, sp, 0);
            // [n, c, sp] written at offset 3 of each channel row of [n, c, sp + 3]
            VaeKernels.groupNorm(xt, n, c, sp, groups, 1e-5f, w, b, false, padded, (long) c * (sp + 3), sp + 3, 3);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], out.get(i), 1e-4, "groupNorm element " + i);
                assertEquals(Naive.silu(want[i]), silu.get(i), 1e-4, "groupNorm+SiLU element " + i);
                int row = i / sp;
                assertEquals(want[i], padded.get((long) row * (sp + 3) + 3 + i % sp), 1e-4, "padded element " + i);
            }
        }
    }
}

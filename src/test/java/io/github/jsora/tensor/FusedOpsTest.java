package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** Fused elementwise kernels against the unfused calls they replace and the naive formula. */
class FusedOpsTest {

    @Test
    void geluTanhMulIsGeluThenMul() {
        Random rnd = new Random(31);
        int n = 3 * (1 << 14) + 17; // several blocks and a remainder
        float[] a = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * 3);
            b[i] = (float) rnd.nextGaussian();
        }
        try (Tensor ta = Tensor.of(a, n); Tensor tb = Tensor.of(b, n); Tensor fused = Tensor.zeros(n);
                Tensor twoPass = Tensor.of(a, n)) {
            Ops.geluTanhMul(ta, tb, fused);
            Ops.geluTanh(twoPass, twoPass);
            Ops.mul(twoPass, tb, twoPass);
            assertArrayEquals(twoPass.toArray(), fused.toArray());
            float[] f = fused.toArray();
            for (int i = 0; i < n; i += 97) {
                assertEquals(Naive.gelu(a[i]) * b[i], f[i], 1e-5 * (1 + Math.abs(f[i])), "element " + i);
            }
            Ops.geluTanhMul(ta, tb, ta); // in place
            assertArrayEquals(f, ta.toArray());
            try (Tensor small = Tensor.zeros(n - 1)) {
                assertThrows(IllegalArgumentException.class, () -> Ops.geluTanhMul(tb, small, fused));
            }
        }
    }
}

package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The fast activation approximations against their exact double-precision definitions. */
class ActivationsTest {

    @Test
    void rationalTanhIsWithinFloatPrecision() {
        double worst = 0;
        for (int i = -400_000; i <= 400_000; i++) {
            float x = i * 5e-5f;   // [-20, 20]
            worst = Math.max(worst, Math.abs(Ops.tanh(x) - Math.tanh(x)));
        }
        assertTrue(Ops.tanh(Float.POSITIVE_INFINITY) == 1f || Math.abs(Ops.tanh(1e30f) - 1) < 1e-6);
        assertTrue(Float.isNaN(Ops.tanh(Float.NaN)));
        for (float x : new float[] {8.9f, 9f, 9.1f, 20f, 1e4f, 1e30f, Float.POSITIVE_INFINITY}) {
            assertEquals(1f, Ops.tanh(x), "tanh(" + x + ")");
            assertEquals(-1f, Ops.tanh(-x), "tanh(" + -x + ")");
        }
        // GELU of a large negative input is exactly zero, as with the exact tanh
        assertEquals(0f, Ops.geluTanh(-100f), 0f);
        assertEquals(0f, Ops.geluTanh(-1e4f), 0f);
        assertEquals(1e4f, Ops.geluTanh(1e4f));
        System.out.printf("rational tanh max abs error on [-20, 20]: %.2e%n", worst);
        assertTrue(worst < 5e-7, "tanh error " + worst);
    }

    @Test
    void geluMatchesTheTanhFormula() {
        double worst = 0;
        for (int i = -200_000; i <= 200_000; i++) {
            float x = i * 1e-4f;   // [-20, 20]
            double u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
            double want = 0.5 * x * (1 + Math.tanh(u));
            worst = Math.max(worst, Math.abs(Ops.geluTanh(x) - want) / Math.max(1, Math.abs(x)));
        }
        System.out.printf("gelu max error relative to max(1,|x|) on [-20, 20]: %.2e%n", worst);
        assertTrue(worst < 5e-7, "gelu error " + worst);
    }
}

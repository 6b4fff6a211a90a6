package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * {@link VectorFloat}'s loop, reached through {@link Ops#expNonPositive}, gives the scalar loops' bits: the fast
 * softmax's exp on every 13th float of [−110, 0] and its edges (the underflow threshold, −∞, NaN, subnormal
 * arguments), at lengths and offsets where both whole groups and the scalar tail run.
 */
class VectorFloatTest {

    @Test
    void testJvmRunsTheFloatLoops() {
        assertEquals(VectorFloat.usable() && VectorExp.usable(), ExactExp.vectorised());
        assertTrue(ExactExp.vectorised() || !VectorFloat.usable(), "the SIMD loops are the ones tested");
    }

    @Test
    void expNonPositiveEqualsTheScalarLoopsOnEveryThirteenthFloatDownToMinus110() {
        float[] batch = new float[4091];
        int n = 0;
        long checked = 0;
        for (int bits = Float.floatToRawIntBits(-0f); Float.intBitsToFloat(bits) > -110f; bits += 13) {
            batch[n++] = Float.intBitsToFloat(bits);
            if (n == batch.length) {
                checked += checkExp(batch, n);
                n = 0;
            }
        }
        checked += checkExp(batch, n);
        float[] edges = {0f, -0f, Float.NEGATIVE_INFINITY, Float.NaN, -87.33654f, Math.nextUp(-87.33654f),
            Math.nextDown(-87.33654f), -87.3365f, -87f, -86.9f, -0.34657359f, -0.34657362f, -1e-30f,
            -Float.MIN_VALUE, -Float.MAX_VALUE, -1f, -2f, -88f};
        for (int rep = 1; rep <= 3; rep++) {
            float[] v = new float[edges.length * rep + 5];
            for (int i = 0; i < v.length; i++) {
                v[i] = edges[(i * 5) % edges.length];
            }
            checkExp(v, v.length);
        }
        assertTrue(checked > 80_000_000, "checked " + checked);
    }

    @Test
    void offsetsAndTailsLeaveTheRestOfTheArrayAlone() {
        Random rnd = new Random(6);
        for (int n = 0; n < 70; n++) {
            for (int off : new int[] {0, 1, 5}) {
                float[] v = new float[off + n + 3];
                for (int i = 0; i < v.length; i++) {
                    v[i] = -30f * rnd.nextFloat();
                }
                float[] want = v.clone();
                Ops.expNonPositiveScalar(want, off, n, new float[v.length]);
                float[] got = v.clone();
                Ops.expNonPositive(got, off, n, new float[v.length]);
                assertBits(want, got, "exp n=" + n + " off=" + off);
            }
        }
    }

    @Test
    void rotatePairsRefusesAnOddLength() {
        float[] v = new float[40];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Ops.rotatePairs(v, 0, 33, new float[40], new float[40], 0));
        assertTrue(e.getMessage().contains("33"), e.getMessage());
    }

    private static long checkExp(float[] x, int n) {
        float[] want = Arrays.copyOf(x, n);
        Ops.expNonPositiveScalar(want, 0, n, new float[n]);
        float[] got = Arrays.copyOf(x, n);
        Ops.expNonPositive(got, 0, n, new float[n]);
        assertBits(want, got, "expNonPositive");
        return n;
    }

    private static void assertBits(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " expected " + want[i] + " ("
                        + Integer.toHexString(Float.floatToRawIntBits(want[i])) + ") but was " + got[i] + " ("
                        + Integer.toHexString(Float.floatToRawIntBits(got[i])) + ")");
            }
        }
    }
}

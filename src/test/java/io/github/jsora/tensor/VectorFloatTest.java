package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * {@link VectorFloat}'s loops, reached through {@link Ops}, give the scalar loops' bits: the fast softmax's exp on
 * every 13th float of [−110, 0] and its edges (the underflow threshold, −∞, NaN, subnormal arguments), and the row
 * kernels of the head preparation (rotary pairs against the reference's a·c − b·s form, with zero sines; additions,
 * scalings) on ±0, ±∞, NaN and subnormals, at lengths and offsets where both whole groups and the scalar tail run.
 * (Equal bits here means equal {@code floatToIntBits}: any NaN equals any NaN.) The per-head RMS norms are compared
 * in {@code dit.KernelsRowsTest}.
 */
class VectorFloatTest {

    @Test
    void testJvmRunsTheFloatLoops() {
        assertEquals(VectorFloat.usable() && VectorExp.usable(), ExactExp.vectorised(), "the SIMD loops are the ones tested");
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

    private static boolean sameMax(float want, float got) {
        return Float.floatToIntBits(want) == Float.floatToIntBits(got);
    }

    @Test
    void scaledMaxEqualsTheSequentialMathMaxOnSpecialValues() {
        float[] specials = {0f, -0f, 1f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -3.5f};
        Random rnd = new Random(9);
        for (int n : new int[] {0, 7, 16, 19, 32, 50, 256, 300}) {
            for (int off : new int[] {0, 3}) {
                for (int trial = 0; trial < 40; trial++) {
                    int odds = 1 + trial % 8;                  // from mostly specials to mostly ordinary values
                    float[] v = new float[off + n + 1];
                    float[] mask = new float[n];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = rnd.nextInt(odds * 4) == 0 ? specials[rnd.nextInt(specials.length)]
                                : (float) rnd.nextGaussian();
                    }
                    for (int i = 0; i < n; i++) {
                        mask[i] = rnd.nextInt(odds * 4) == 0 ? specials[rnd.nextInt(specials.length)] : 0f;
                    }
                    int end = VectorFloat.grouped(n);
                    for (float[] m : new float[][] {null, mask}) {
                        float[] want = v.clone();
                        float wantMax = Float.NEGATIVE_INFINITY;
                        for (int i = 0; i < end; i++) {
                            want[off + i] = want[off + i] * 0.37f + (m == null ? 0f : m[i]);
                            wantMax = Math.max(wantMax, want[off + i]);
                        }
                        float[] got = v.clone();
                        float gotMax = VectorFloat.scaleAddMax(got, off, n, 0.37f, m);
                        assertBits(want, got, "scaleAddMax n=" + n + " off=" + off);
                        // NaN compares as NaN: which of the row's NaNs wins depends on the order of the comparisons
                        assertTrue(sameMax(wantMax, gotMax),
                                "scaleAddMax max n=" + n + " off=" + off + ": " + wantMax + " vs " + gotMax);
                    }
                    float[] want = v.clone();
                    float wantMax = Float.NEGATIVE_INFINITY;
                    for (int i = 0; i < end; i++) {
                        want[off + i] *= -1.5f;
                        wantMax = Math.max(wantMax, want[off + i]);
                    }
                    float[] got = v.clone();
                    float gotMax = VectorFloat.scaleMax(got, off, n, -1.5f);
                    assertBits(want, got, "scaleMax n=" + n + " off=" + off);
                    assertTrue(sameMax(wantMax, gotMax),
                            "scaleMax max n=" + n + " off=" + off + ": " + wantMax + " vs " + gotMax);
                }
            }
        }
    }

    @Test
    void rowKernelsEqualTheScalarFormulasOnSpecialValues() {
        float[] specials = {0f, -0f, 1f, -1f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, -Float.MIN_VALUE, 1e-39f, Float.MAX_VALUE, -3.5f, 2.25f};
        Random rnd = new Random(8);
        for (int n : new int[] {2, 14, 16, 18, 32, 66, 130}) {
            for (int off : new int[] {0, 1, 3}) {
                for (int t : new int[] {0, 2, 5}) {
                    float[] v = new float[off + n + 2];
                    float[] add = new float[n];
                    float[] cos = new float[t + n / 2];
                    float[] sin = new float[t + n / 2];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = rnd.nextInt(3) == 0 ? specials[rnd.nextInt(specials.length)] : (float) rnd.nextGaussian();
                    }
                    for (int i = 0; i < n; i++) {
                        add[i] = rnd.nextInt(4) == 0 ? specials[rnd.nextInt(specials.length)] : (float) rnd.nextGaussian();
                    }
                    for (int i = 0; i < cos.length; i++) {
                        boolean still = rnd.nextInt(3) == 0;   // angle 0: cos 1, sin 0 (its table entry then −0)
                        cos[i] = still ? 1f : (float) Math.cos(i * 0.7);
                        sin[i] = still ? 0f : (float) Math.sin(i * 0.7);
                    }
                    // the pair layout of Ops.rotatePairs from angle t on: c, c and −s, s, the minus a unary one
                    float[] cp = new float[2 * t + n];
                    float[] sp = new float[2 * t + n];
                    for (int i = 0; i < n / 2; i++) {
                        cp[2 * t + 2 * i] = cos[t + i];
                        cp[2 * t + 2 * i + 1] = cos[t + i];
                        sp[2 * t + 2 * i] = -sin[t + i];
                        sp[2 * t + 2 * i + 1] = sin[t + i];
                    }
                    float[] want = v.clone();
                    for (int i = 0; i < n / 2; i++) {            // the rotary formula as the reference writes it
                        float a = want[off + 2 * i];
                        float b = want[off + 2 * i + 1];
                        want[off + 2 * i] = a * cos[t + i] - b * sin[t + i];
                        want[off + 2 * i + 1] = b * cos[t + i] + a * sin[t + i];
                    }
                    float[] got = v.clone();
                    Ops.rotatePairs(got, off, n, cp, sp, 2 * t);
                    assertBits(want, got, "rotatePairs n=" + n + " off=" + off + " t=" + t);
                    want = v.clone();
                    for (int i = 0; i < n; i++) {
                        want[off + i] += add[i];
                        want[off + i] *= -0.75f;
                    }
                    got = v.clone();
                    Ops.addRow(got, off, add, n);
                    Ops.scaleRow(got, off, n, -0.75f);
                    assertBits(want, got, "addRow, scaleRow n=" + n + " off=" + off);
                }
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

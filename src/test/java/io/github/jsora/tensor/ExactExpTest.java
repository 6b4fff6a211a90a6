package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * {@link ExactExp}'s loops give the scalar expressions' bits: exp over a dense sample of the softmax arguments
 * (every 61st float of [−110, 0]) and SiLU over every 4099th float bit pattern, special values included, at odd
 * lengths and offsets (so whole groups and the scalar tail both run), and the exact softmax row keeps its results.
 */
class ExactExpTest {

    @Test
    void testJvmRunsTheSimdLoopsWhereTheCpuAllows() {
        assertTrue(ModuleLayer.boot().findModule(ExactExp.MODULE).isPresent(),
                "surefire's argLine must resolve " + ExactExp.MODULE + " so the SIMD loops are the ones tested");
        assertEquals(VectorExp.usable() && VectorFloat.usable(), ExactExp.vectorised());
    }

    @Test
    void expEqualsMathExpOnEverySixtyFirstNonPositiveFloatDownToMinus110() {
        float[] batch = new float[4093];
        int n = 0;
        long checked = 0;
        for (int bits = Float.floatToRawIntBits(-0f); Float.intBitsToFloat(bits) > -110f; bits += 61) {
            batch[n++] = Float.intBitsToFloat(bits);
            if (n == batch.length) {
                checked += checkExp(batch, n);
                n = 0;
            }
        }
        checked += checkExp(batch, n);
        assertTrue(checked > 18_000_000, "checked " + checked);
    }

    @Test
    void expEqualsMathExpOnSpecialAndEdgeValues() {
        float[] special = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -87.33654f,
            -87.3f, -87f, -88f, -103.97f, -104f, -149f, -700f, -700.1f, -745f, 88.72f, 88.73f, 89f, 700f, 701f,
            Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -Float.MIN_VALUE, 1e-30f, -1e-30f, 0.34657359f,
            -0.34657359f, 1f, -1f, 0.5f, -0.5f};
        for (int rep = 1; rep <= 3; rep++) { // whole groups of specials, and specials in the tail
            float[] v = new float[special.length * rep + 3];
            for (int i = 0; i < v.length; i++) {
                v[i] = special[(i * 7) % special.length];
            }
            checkExp(v, v.length);
        }
    }

    @Test
    void siluEqualsTheScalarExpressionOnEvery4099thFloatBitPattern() {
        float[] batch = new float[4091];
        int n = 0;
        long checked = 0;
        for (long bits = 0; bits <= 0xffffffffL; bits += 4099) {
            batch[n++] = Float.intBitsToFloat((int) bits);
            if (n == batch.length) {
                checked += checkSilu(batch, n);
                n = 0;
            }
        }
        checked += checkSilu(batch, n);
        float[] special = {0f, -0f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, 700f, -700f,
            701f, -701f, 745f, -745f, 88f, -88f, 20f, -20f, 1e-40f, -1e-40f, 3f, -3f};
        checkSilu(special, special.length);
        assertTrue(checked > 1_000_000, "checked " + checked);
    }

    @Test
    void offsetsAndTailsLeaveTheRestOfTheArrayAlone() {
        Random rnd = new Random(5);
        for (int n = 0; n < 40; n++) {
            for (int off : new int[] {0, 1, 3}) {
                float[] v = new float[off + n + 2];
                for (int i = 0; i < v.length; i++) {
                    v[i] = -20f * rnd.nextFloat();
                }
                float[] want = v.clone();
                ExactExp.expScalar(want, off, n);
                float[] got = v.clone();
                ExactExp.exp(got, off, n);
                assertArrayBits(want, got, "exp n=" + n + " off=" + off);
                want = v.clone();
                ExactExp.siluScalar(want, off, n);
                got = v.clone();
                ExactExp.silu(got, off, n);
                assertArrayBits(want, got, "silu n=" + n + " off=" + off);
            }
        }
    }

    @Test
    void aTailGroupThatFallsBackToMathExpStillGetsItsOwnInputs() {
        // NaN and |x| > 700 send a group to Math.exp; put them where the tail group overlaps the last whole group,
        // and where only the tail group reaches
        Random rnd = new Random(8);
        for (int n = 9; n < 40; n++) {
            for (int at : new int[] {n - 1, n - 7, n - n % 8 - 1}) {
                float[] v = new float[n + 3];
                for (int i = 0; i < v.length; i++) {
                    v[i] = -5f * rnd.nextFloat();
                }
                v[1 + Math.max(0, at)] = (at & 1) == 0 ? Float.NaN : -800f;
                float[] want = v.clone();
                ExactExp.expScalar(want, 1, n);
                float[] got = v.clone();
                ExactExp.exp(got, 1, n);
                assertArrayBits(want, got, "exp n=" + n + " special at " + at);
            }
        }
    }

    @Test
    void exactSoftmaxRowKeepsTheScalarFormulasBits() {
        Random rnd = new Random(11);
        for (int n : new int[] {1, 7, 20, 77, 256, 300, 1024}) {
            for (int variant = 0; variant < 4; variant++) {
                float[] v = new float[n];
                float[] mask = variant == 0 ? null : new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (float) (rnd.nextGaussian() * 30);
                    if (mask != null) {
                        mask[i] = variant == 3 || rnd.nextInt(3) == 0 ? Float.NEGATIVE_INFINITY : 0f;
                    }
                }
                if (variant == 2) {
                    v[n / 2] = Float.NaN;
                }
                float[] want = v.clone();
                referenceSoftmax(want, n, 0.125f, mask);
                float[] got = v.clone();
                Ops.softmaxRow(got, 0, n, 0.125f, mask);
                assertArrayBits(want, got, "softmax n=" + n + " variant " + variant);
            }
        }
    }

    @Test
    void exactSoftmaxBlockOfRowsEqualsTheScalarFormulaRowByRow() {
        Random rnd = new Random(12);
        for (int n : new int[] {1, 3, 20, 256}) {
            for (int rows = 1; rows <= 11; rows++) {
                float[] v = new float[2 + rows * n];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (rnd.nextGaussian() * 40);
                }
                int special = rnd.nextInt(rows);
                int o = 2 + special * n;
                switch (rows % 4) {
                    case 0 -> Arrays.fill(v, o, o + n, Float.NEGATIVE_INFINITY);     // fully masked row
                    case 1 -> {
                        Arrays.fill(v, o, o + n, Float.NEGATIVE_INFINITY);
                        v[o + n / 2] = Float.NaN;                                  // NaN among −∞ only
                    }
                    case 2 -> v[o + n - 1] = Float.NaN;
                    default -> v[o] = Float.POSITIVE_INFINITY;
                }
                float[] want = v.clone();
                for (int r = 0; r < rows; r++) {
                    float[] row = Arrays.copyOfRange(want, 2 + r * n, 2 + (r + 1) * n);
                    referenceSoftmax(row, n, 0.3f, null);
                    System.arraycopy(row, 0, want, 2 + r * n, n);
                }
                float[] got = v.clone();
                Ops.softmaxRows(got, 2, rows, n, 0.3f);
                assertArrayBits(want, got, "softmax rows=" + rows + " n=" + n);
            }
        }
    }

    /** The exact softmax row as it was written before {@link ExactExp}: scalar Math.exp, double sum. */
    private static void referenceSoftmax(float[] v, int n, float scale, float[] mask) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float a = v[i] * scale + (mask == null ? 0f : mask[i]);
            v[i] = a;
            if (a > max) {
                max = a;
            }
        }
        if (max == Float.NEGATIVE_INFINITY) {
            Arrays.fill(v, 0, n, 0f);
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(v[i] - max);
            v[i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            v[i] *= inv;
        }
    }

    private static int checkExp(float[] x, int n) {
        float[] got = Arrays.copyOf(x, n);
        ExactExp.exp(got, 0, n);
        for (int i = 0; i < n; i++) {
            float want = (float) Math.exp(x[i]);
            if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError("exp(" + x[i] + "): Math.exp gives " + want + ", ExactExp " + got[i]);
            }
        }
        return n;
    }

    private static int checkSilu(float[] x, int n) {
        float[] got = Arrays.copyOf(x, n);
        ExactExp.silu(got, 0, n);
        for (int i = 0; i < n; i++) {
            float want = (float) (x[i] / (1.0 + Math.exp(-x[i])));
            if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError("silu(" + x[i] + "): scalar gives " + want + ", ExactExp " + got[i]);
            }
        }
        return n;
    }

    private static void assertArrayBits(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " is " + got[i] + ", expected " + want[i]);
            }
        }
    }
}

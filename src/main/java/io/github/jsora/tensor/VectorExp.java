package io.github.jsora.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float kernels of {@link ExactExp} in SIMD registers, through the JDK's incubating Vector API: with
 * {@link VectorFloat}, the only classes of jsora that name {@code jdk.incubator.vector}, loaded only when
 * {@link ExactExp} found that module resolved (the JVM was started with {@code --add-modules jdk.incubator.vector}).
 *
 * <p>Each lane computes its result in double: the float argument is widened, exp(x) = 2^k·p(r) with
 * k = round(x·log2 e), r = x − k·ln 2 (ln 2 as a head and a tail) and p the degree-11 Taylor polynomial of exp on
 * |r| ≤ ln2/2 (truncation error 0.35^12/12! ≤ 6.3e-15 relative, rounding errors a few 2⁻⁵³), then rounded to float.
 * That double is within 1e-14 of {@code Math.exp}'s (itself within 1 ulp of exp), so wherever d·(1 − 2⁻⁴⁰) and
 * d·(1 + 2⁻⁴⁰) round to the same float, {@code (float) Math.exp(x)} is that float too. A group of lanes where they do
 * not, or where |x| > 700 (2^k leaves the normal doubles) or x is NaN, is recomputed with {@code Math.exp}: the
 * results are those of the scalar loops bit for bit (tests compare them), and fewer than one argument in 10⁴ takes
 * the fallback.
 *
 * <p>Lane counts follow the CPU: doubles fill the preferred vector (8 lanes on AVX-512, 4 on AVX2) and the floats
 * of a group fill half of it.
 */
final class VectorExp {

    /** Doubles filling the preferred vector. */
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats as many as {@link #D}'s lanes (half the vector). */
    static final VectorSpecies<Float> F =
            VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final VectorSpecies<Long> L = LongVector.SPECIES_PREFERRED;
    /** Floats per group (lanes of the double vector). */
    static final int LANES = D.length();

    /** A tail group's inputs in {@link #exp}. */
    private static final Scratch TAIL = new Scratch(1);

    private static final double LOG2E = 1.4426950408889634;
    private static final double LN2_HI = 0.6931471803691238;    // 32 significant bits: k·LN2_HI is exact
    private static final double LN2_LO = 1.9082149292705877e-10;
    private static final double ROUND = 6755399441055744.0;     // 1.5·2^52: adding it rounds to an integer
    private static final double LIMIT = 700;
    private static final double BELOW = 1 - 0x1p-40;
    private static final double ABOVE = 1 + 0x1p-40;
    private static final double C2 = 1 / 2.0;
    private static final double C3 = 1 / 6.0;
    private static final double C4 = 1 / 24.0;
    private static final double C5 = 1 / 120.0;
    private static final double C6 = 1 / 720.0;
    private static final double C7 = 1 / 5040.0;
    private static final double C8 = 1 / 40320.0;
    private static final double C9 = 1 / 362880.0;
    private static final double C10 = 1 / 3628800.0;
    private static final double C11 = 1 / 39916800.0;

    private VectorExp() {
    }

    /** True when this class can run here: the double vector has at least 4 lanes and shares the long shape. */
    static boolean usable() {
        return D.length() >= 4 && L.length() == D.length() && F.length() == D.length();
    }

    // The constants as vectors, made once: each scalar-argument overload (x.fma(a, b), broadcast(D, c)) costs C2 a
    // few more levels of inlining, and with the SiLU's division around exp the compiled loop ran out of its inlining
    // budget, leaving some vector operations to the Vector API's Java fallback (boxed, 36 bytes an element).
    private static final DoubleVector V_LOG2E = DoubleVector.broadcast(D, LOG2E);
    private static final DoubleVector V_ROUND = DoubleVector.broadcast(D, ROUND);
    private static final DoubleVector V_MINUS_LN2_HI = DoubleVector.broadcast(D, -LN2_HI);
    private static final DoubleVector V_MINUS_LN2_LO = DoubleVector.broadcast(D, -LN2_LO);
    private static final DoubleVector[] V_TAYLOR = taylor();
    private static final DoubleVector V_ONE = DoubleVector.broadcast(D, 1.0);
    private static final DoubleVector V_BELOW = DoubleVector.broadcast(D, BELOW);
    private static final DoubleVector V_ABOVE = DoubleVector.broadcast(D, ABOVE);
    private static final DoubleVector V_LIMIT = DoubleVector.broadcast(D, LIMIT);
    private static final LongVector V_EXPONENT_BIAS = LongVector.broadcast(L, 1023L);
    private static final LongVector V_FRACTION_BITS = LongVector.broadcast(L, 52L);

    /** C11, C10, …, C2, 1, 1: the Horner coefficients of p from the highest. */
    private static DoubleVector[] taylor() {
        double[] c = {C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, 1.0, 1.0};
        DoubleVector[] v = new DoubleVector[c.length];
        for (int i = 0; i < c.length; i++) {
            v[i] = DoubleVector.broadcast(D, c[i]);
        }
        return v;
    }

    /** exp of every lane of x (|x| ≤ 700), in double. */
    private static DoubleVector exp(DoubleVector x) {
        DoubleVector shifted = x.fma(V_LOG2E, V_ROUND);      // k in the low bits of the significand
        DoubleVector k = shifted.sub(V_ROUND);
        DoubleVector r = k.fma(V_MINUS_LN2_HI, x).add(k.mul(V_MINUS_LN2_LO));
        DoubleVector[] c = V_TAYLOR;
        DoubleVector p = r.fma(c[0], c[1]);
        p = p.fma(r, c[2]);
        p = p.fma(r, c[3]);
        p = p.fma(r, c[4]);
        p = p.fma(r, c[5]);
        p = p.fma(r, c[6]);
        p = p.fma(r, c[7]);
        p = p.fma(r, c[8]);
        p = p.fma(r, c[9]);
        p = p.fma(r, c[10]);
        p = p.fma(r, c[11]);
        // 2^k: the low 32 bits of shifted's significand hold k (two's complement), + 1023 into the exponent field
        LongVector bits = shifted.reinterpretAsLongs().add(V_EXPONENT_BIAS).lanewise(VectorOperators.LSHL,
                V_FRACTION_BITS);
        return p.mul(bits.reinterpretAsDoubles());
    }

    /**
     * Whether some lane's float rounding could differ from the scalar double expression's, or its argument lies
     * outside |x| ≤ 700 or is NaN (see the class comment). Two mask tests rather than one mask: JDK 17 boxes a mask
     * cast from double to float lanes and a NaN lane test, so both are left out.
     */
    private static boolean unsure(DoubleVector d, DoubleVector x) {
        FloatVector lo = (FloatVector) d.mul(V_BELOW).convertShape(VectorOperators.D2F, F, 0);
        FloatVector hi = (FloatVector) d.mul(V_ABOVE).convertShape(VectorOperators.D2F, F, 0);
        return !x.abs().compare(VectorOperators.LE, V_LIMIT).allTrue() || lo.compare(VectorOperators.NE, hi).anyTrue();
    }

    /**
     * {@code v[off + i] = (float) Math.exp(v[off + i])} for i in [0, n) bit for bit; returns how many leading
     * elements it did, the caller does the rest: all n when n is at least one group (a tail by one more group that
     * overlaps the last, its inputs put back from a copy after the whole groups, writing the overlap with the values
     * it already held; rows of 20 keys had run a fifth of their elements through {@code Math.exp}), else none.
     */
    static int exp(float[] v, int off, int n) {
        if (n < LANES) {
            return 0;
        }
        int end = n - n % LANES;
        int t = off + n - LANES;                                   // the group ending at n
        int passes = end < n ? 2 : 1;
        float[] tail = passes == 2 ? TAIL.get(0, LANES) : null;
        if (tail != null) {
            System.arraycopy(v, t, tail, 0, LANES);                // its inputs, before the first pass overwrites some
        }
        // pass 0: the whole groups; pass 1: the tail's group (one loop here: a helper method would put the Vector
        // API calls one inlining level deeper, where C2 stops intrinsifying and boxes them)
        int from = off;
        int to = off + end;
        for (int pass = 0; pass < passes; pass++) {
            for (int o = from; o < to; o += LANES) {
                FloatVector xf = FloatVector.fromArray(F, v, o);
                DoubleVector x = (DoubleVector) xf.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector d = exp(x);
                if (unsure(d, x)) {
                    ExactExp.expScalar(v, o, LANES);
                } else {
                    ((FloatVector) d.convertShape(VectorOperators.D2F, F, 0)).intoArray(v, o);
                }
            }
            if (tail != null && pass == 0) {
                System.arraycopy(tail, 0, v, t, LANES);            // back over the overlap
                from = t;
                to = t + LANES;
            }
        }
        return n;
    }

    /**
     * {@code v[off + i] = (float) (y / (1.0 + Math.exp(-y)))} with y = v[off + i] (SiLU) bit for bit, in whole
     * groups; returns how many leading elements it did (a multiple of {@link #LANES}).
     */
    static int silu(float[] v, int off, int n) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            int o = off + i;
            FloatVector yf = FloatVector.fromArray(F, v, o);
            DoubleVector y = (DoubleVector) yf.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector minus = y.neg();
            DoubleVector d = y.div(exp(minus).add(V_ONE));
            if (unsure(d, minus)) {
                ExactExp.siluScalar(v, o, LANES);
            } else {
                ((FloatVector) d.convertShape(VectorOperators.D2F, F, 0)).intoArray(v, o);
            }
        }
        return end;
    }
}

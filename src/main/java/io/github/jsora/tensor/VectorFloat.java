package io.github.jsora.tensor;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float-lane kernels in SIMD registers through the incubating Vector API, each the same float operations in the same
 * order as the scalar loop it replaces (no fused multiply-add, lanewise max with {@code Math.max} semantics), so the
 * bits are those of the scalar loops; tests compare them. Like {@link VectorExp}, loaded only when
 * {@link ExactExp#vectorised()} found the module resolved. Each method does whole groups of {@link #LANES}
 * elements (of {@link #HEADS} heads for {@link #rmsNormHeads}) and returns how many leading elements (heads) it did;
 * the caller's scalar loop does the rest.
 */
final class VectorFloat {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Floats per group (16 on AVX-512, 8 on AVX2). */
    static final int LANES = F.length();
    private static final FloatVector ZERO = FloatVector.zero(F);
    private static final FloatVector EXP_LO = FloatVector.broadcast(F, Ops.EXP_LO);
    private static final FloatVector LOG2E = FloatVector.broadcast(F, Ops.LOG2E);
    private static final FloatVector ROUND_MAGIC = FloatVector.broadcast(F, Ops.ROUND_MAGIC);
    private static final FloatVector LN2_HI = FloatVector.broadcast(F, Ops.LN2_HI);
    private static final FloatVector LN2_LO = FloatVector.broadcast(F, Ops.LN2_LO);
    private static final FloatVector E0 = FloatVector.broadcast(F, Ops.E0);
    private static final FloatVector E1 = FloatVector.broadcast(F, Ops.E1);
    private static final FloatVector E2 = FloatVector.broadcast(F, Ops.E2);
    private static final FloatVector E3 = FloatVector.broadcast(F, Ops.E3);
    private static final FloatVector E4 = FloatVector.broadcast(F, Ops.E4);
    private static final FloatVector E5 = FloatVector.broadcast(F, Ops.E5);
    private static final FloatVector E6 = FloatVector.broadcast(F, Ops.E6);
    /** Heads per group of {@link #rmsNormHeads}: one a double lane ({@link VectorExp}'s species). */
    static final int HEADS = VectorExp.LANES;
    private static final ThreadLocal<int[]> HEAD_INDEX = new ThreadLocal<>();
    /** 127 minus the bits of ROUND_MAGIC: added to the bits of ROUND_MAGIC + nf, gives nf's biased exponent. */
    private static final IntVector EXPONENT_BIAS =
            IntVector.broadcast(F.withLanes(int.class), 127 - Float.floatToRawIntBits(Ops.ROUND_MAGIC));

    private VectorFloat() {
    }

    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class,
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);

    /** True when the float vector has at least 8 lanes. */
    static boolean usable() {
        return LANES >= 8;
    }

    /**
     * {@link Ops#expNonPositive} lanewise: the same polynomial p(r) on the same reduced argument, times 2^nf made
     * from its exponent bits. The scalar loop multiplies by 2^nf in two exact partial products (every partial result
     * stays a normal float, nf ≥ −126) and rounds once at the last, as this single product does, so the bits agree;
     * below {@code EXP_LO} (−∞ included) the result is +0, NaN stays NaN. Takes all n elements when n is at least
     * one group (a tail by one more group overlapping the last, its inputs put back from a copy after the whole
     * groups: rows of 20 or 300 keys had run a fifth or a 25th of their elements through the scalar loops, many
     * times slower), else none; returns the count taken.
     *
     * @param tmp scratch of at least off + n floats ({@link Ops#expNonPositive}'s): elements [off + n − lanes, off + n)
     *            hold the tail group's inputs
     */
    static int expNonPositive(float[] v, int off, int n, float[] tmp) {
        if (n < LANES) {
            return 0;
        }
        int end = n - n % LANES;
        int t = off + n - LANES;                      // the group ending at n
        int passes = end < n ? 2 : 1;
        if (passes == 2) {
            System.arraycopy(v, t, tmp, t, LANES);    // its inputs, before the first pass overwrites part of them
        }
        // pass 0: the whole groups; pass 1: the tail's group. One loop in this method (a helper method would put
        // the Vector API calls one inlining level deeper, past C2's limit inside the softmax: boxed vectors)
        int from = off;
        int to = off + end;
        for (int pass = 0; pass < passes; pass++) {
            for (int o = from; o < to; o += LANES) {
                FloatVector x = FloatVector.fromArray(F, v, o);
                FloatVector xc = x.max(EXP_LO);
                FloatVector shifted = xc.mul(LOG2E).add(ROUND_MAGIC);      // nf in the low bits of the significand
                FloatVector nf = shifted.sub(ROUND_MAGIC);               // round(x·log2 e) ≤ 0
                FloatVector r = xc.sub(nf.mul(LN2_HI)).sub(nf.mul(LN2_LO));
                FloatVector p = r.mul(E6).add(E5).mul(r).add(E4).mul(r).add(E3).mul(r).add(E2).mul(r).add(E1)
                        .mul(r).add(E0);
                // 2^nf: (nf + 127) in the exponent field; a NaN lane's scale is meaningless, its result NaN via p
                FloatVector scale = shifted.reinterpretAsInts().add(EXPONENT_BIAS).lanewise(VectorOperators.LSHL, 23)
                        .reinterpretAsFloats();
                p.mul(scale).blend(ZERO, x.lt(EXP_LO)).intoArray(v, o);
            }
            if (pass == 0 && passes == 2) {
                System.arraycopy(tmp, t, v, t, LANES);    // the tail group's inputs back over the overlap
                from = t;
                to = t + LANES;
            }
        }
        return n;
    }

    /** Leading elements of n that {@link #scaleMax} and {@link #scaleAddMax} do: its whole groups. */
    static int grouped(int n) {
        return n - n % LANES;
    }

    /**
     * {@code v[off + i] *= scale} over the {@link #grouped} elements; returns the {@code Math.max} of the products
     * (−∞ when there are none). Lanewise max and the lane reduction are {@code Math.max}, which is commutative and
     * associative (NaN wins, +0 beats −0), so the result is the sequential loop's; only a NaN result's payload may
     * be another of the row's NaNs. The running max starts from a vector made here: started from a constant vector
     * field, C2 boxes it on every step of the loop.
     */
    static float scaleMax(float[] v, int off, int n, float scale) {
        int end = grouped(n);
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < end; i += LANES) {
            FloatVector a = FloatVector.fromArray(F, v, off + i).mul(scale);
            a.intoArray(v, off + i);
            m = m.max(a);
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    /**
     * {@code v[off + i] = v[off + i]·scale + (mask[i], or +0 without a mask)} over the {@link #grouped} elements;
     * returns their {@code Math.max} as {@link #scaleMax} does.
     */
    static float scaleAddMax(float[] v, int off, int n, float scale, float[] mask) {
        if (mask == null) {
            return scaleAddZeroMax(v, off, n, scale);
        }
        // The masked row in two passes: C2's own loop vectorisation for v·scale + mask (the same float operations),
        // then the max in SIMD registers. A Vector API loop with the two loads boxed its vector on every step in
        // some JIT states of the full suite (SimdAllocationTest's masked fast softmax, 6 bytes an element), even
        // alone in its own method.
        int end = grouped(n);
        for (int i = 0; i < end; i++) {
            v[off + i] = v[off + i] * scale + mask[i];
        }
        return maxOf(v, off, end);
    }

    /** The {@code Math.max} of v[off .. off + end), end a multiple of {@link #LANES}; −∞ when end is 0. */
    private static float maxOf(float[] v, int off, int end) {
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < end; i += LANES) {
            m = m.max(FloatVector.fromArray(F, v, off + i));
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    private static float scaleAddZeroMax(float[] v, int off, int n, float scale) {
        int end = grouped(n);
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        FloatVector zero = FloatVector.zero(F);
        for (int i = 0; i < end; i += LANES) {
            FloatVector a = FloatVector.fromArray(F, v, off + i).mul(scale).add(zero);
            a.intoArray(v, off + i);
            m = m.max(a);
        }
        return m.reduceLanes(VectorOperators.MAX);
    }


    /** {@code v[off + i] *= by}. */
    static int scale(float[] v, int off, int n, float by) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            FloatVector.fromArray(F, v, off + i).mul(by).intoArray(v, off + i);
        }
        return end;
    }

    /** {@code v[off + i] += add[i]}. */
    static int add(float[] v, int off, float[] add, int n) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            FloatVector.fromArray(F, v, off + i).add(FloatVector.fromArray(F, add, i)).intoArray(v, off + i);
        }
        return end;
    }

    /** {@code v[off + i] = v[off + i]·inv·w[i]}. */
    static int scaleByWeight(float[] v, int off, int n, float inv, float[] w) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            FloatVector.fromArray(F, v, off + i).mul(inv).mul(FloatVector.fromArray(F, w, i)).intoArray(v, off + i);
        }
        return end;
    }

    /** The gather offsets {0, hd, 2·hd, …} of {@link #HEADS} heads of hd floats (one array a thread, reused). */
    private static int[] headIndex(int hd) {
        int[] index = HEAD_INDEX.get();
        if (index == null || index[1] != hd) {
            index = new int[HEADS];
            for (int j = 0; j < HEADS; j++) {
                index[j] = j * hd;
            }
            HEAD_INDEX.set(index);
        }
        return index;
    }

    /**
     * {@link Ops#rmsNormHeads} on whole groups of {@link #HEADS} heads; returns how many heads it did. Each double
     * lane sums one head's float squares x·x, x = v[off + j·hd + i], in index order as the scalar loop does (so the
     * same bits), one gather a step; then each head is scaled as {@link Ops#rmsNormRow} scales it.
     */
    static int rmsNormHeads(float[] v, int off, int heads, int hd, float[] w, float eps) {
        int[] index = headIndex(hd);
        int end = heads - heads % HEADS;
        for (int h = 0; h < end; h += HEADS) {
            int o0 = off + h * hd;
            DoubleVector acc = DoubleVector.zero(VectorExp.D);
            for (int i = 0; i < hd; i++) {
                FloatVector x = FloatVector.fromArray(VectorExp.F, v, o0 + i, index, 0);
                acc = acc.add(x.mul(x).convertShape(VectorOperators.F2D, VectorExp.D, 0));
            }
            for (int j = 0; j < HEADS; j++) {
                Ops.scaleByWeight(v, o0 + j * hd, hd, (float) (1.0 / Math.sqrt(acc.lane(j) / hd + eps)), w);
            }
        }
        return end;
    }

    /**
     * {@link Ops#rotatePairs} in whole groups: x·c + swap(x)·s' where swap exchanges the two floats of each pair (a
     * rotation of each 64-bit lane by 32 bits), s' the signed sine table.
     */
    static int rotatePairs(float[] v, int off, int n, float[] cosPairs, float[] sinPairs, int t) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            FloatVector x = FloatVector.fromArray(F, v, off + i);
            LongVector pairs = x.reinterpretAsLongs();
            FloatVector swapped = pairs.lanewise(VectorOperators.LSHL, 32).or(pairs.lanewise(VectorOperators.LSHR, 32))
                    .reinterpretAsFloats();
            x.mul(FloatVector.fromArray(F, cosPairs, t + i))
                    .add(swapped.mul(FloatVector.fromArray(F, sinPairs, t + i))).intoArray(v, off + i);
        }
        return end;
    }

    /**
     * {@code f[i] = float(bf16 bits s[i])} over whole groups of {@link #LANES} (exact: the bits shifted to the
     * float's upper half); returns how many it did.
     */
    static int widenBf16(short[] s, int sOff, float[] f, int fOff, int n) {
        int end = grouped(n);
        for (int i = 0; i < end; i += LANES) {
            IntVector x = (IntVector) ShortVector.fromArray(S, s, sOff + i).convertShape(VectorOperators.S2I, I, 0);
            x.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(f, fOff + i);
        }
        return end;
    }

    /** A length rounded up to whole float vectors. */
    static int padded(int n) {
        return (n + LANES - 1) / LANES * LANES;
    }

    /**
     * A thin product for the few-keys attention: {@code out[outOff + r·outLd + c] = Σ_{j<k} a[aOff + r·aLd + j] ·
     * b[bOff + j·bLd + c]} for r &lt; rows and c &lt; width ({@code width} a multiple of {@link #LANES}; the lanes
     * past a true width are computed and written too, so a row of out needs that slack after it), in float32 with
     * fused multiply-adds, j in order. Four rows at a time share each loaded vector of b. The scores are q [rows, d]
     * times the keys transposed [d, np]; the values, the probabilities [rows, n] times v [n, dvp].
     */
    static void smallProduct(float[] a, int aOff, int aLd, int rows, int k, float[] b, int bOff, int bLd, int width,
            float[] out, int outOff, int outLd) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int a0 = aOff + r * aLd;
            for (int c = 0; c < width; c += LANES) {
                FloatVector s0 = FloatVector.zero(F);
                FloatVector s1 = FloatVector.zero(F);
                FloatVector s2 = FloatVector.zero(F);
                FloatVector s3 = FloatVector.zero(F);
                for (int j = 0; j < k; j++) {
                    FloatVector x = FloatVector.fromArray(F, b, bOff + j * bLd + c);
                    s0 = x.fma(FloatVector.broadcast(F, a[a0 + j]), s0);
                    s1 = x.fma(FloatVector.broadcast(F, a[a0 + aLd + j]), s1);
                    s2 = x.fma(FloatVector.broadcast(F, a[a0 + 2 * aLd + j]), s2);
                    s3 = x.fma(FloatVector.broadcast(F, a[a0 + 3 * aLd + j]), s3);
                }
                int o0 = outOff + r * outLd + c;
                s0.intoArray(out, o0);
                s1.intoArray(out, o0 + outLd);
                s2.intoArray(out, o0 + 2 * outLd);
                s3.intoArray(out, o0 + 3 * outLd);
            }
        }
        for (; r < rows; r++) {
            int a0 = aOff + r * aLd;
            for (int c = 0; c < width; c += LANES) {
                FloatVector s0 = FloatVector.zero(F);
                for (int j = 0; j < k; j++) {
                    s0 = FloatVector.fromArray(F, b, bOff + j * bLd + c).fma(FloatVector.broadcast(F, a[a0 + j]), s0);
                }
                s0.intoArray(out, outOff + r * outLd + c);
            }
        }
    }
}

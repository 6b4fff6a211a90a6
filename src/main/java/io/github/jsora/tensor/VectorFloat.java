package io.github.jsora.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float-lane kernels in SIMD registers through the incubating Vector API, each the same float operations in the same
 * order as the scalar loop it replaces (no fused multiply-add, lanewise max with {@code Math.max} semantics), so the bits are those of the scalar loops; tests compare them. Like {@link VectorExp}, loaded only
 * when {@link ExactExp#vectorised()} found the module resolved. Each method does whole groups of {@link #LANES}
 * and returns how many leading elements it did; the caller's scalar loop does the rest.
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
    /** 127 minus the bits of ROUND_MAGIC: added to the bits of ROUND_MAGIC + nf, gives nf's biased exponent. */
    private static final IntVector EXPONENT_BIAS =
            IntVector.broadcast(F.withLanes(int.class), 127 - Float.floatToRawIntBits(Ops.ROUND_MAGIC));

    private VectorFloat() {
    }

    /** True when the float vector has at least 8 lanes. */
    static boolean usable() {
        return LANES >= 8;
    }

    /**
     * {@link Ops#expNonPositive} lanewise: the same polynomial p(r) on the same reduced argument, times 2^nf made
     * from its exponent bits. The scalar loop multiplies by 2^nf in two exact partial products (every partial result
     * stays a normal float, nf ≥ −126) and rounds once at the last, as this single product does, so the bits agree;
     * below {@code EXP_LO} (−∞ included) the result is +0, NaN stays NaN.
     */
    static int expNonPositive(float[] v, int off, int n) {
        int end = n - n % LANES;
        for (int i = 0; i < end; i += LANES) {
            int o = off + i;
            FloatVector x = FloatVector.fromArray(F, v, o);
            FloatVector xc = x.max(EXP_LO);
            FloatVector shifted = xc.mul(LOG2E).add(ROUND_MAGIC);          // nf in the low bits of the significand
            FloatVector nf = shifted.sub(ROUND_MAGIC);                   // round(x·log2 e) ≤ 0
            FloatVector r = xc.sub(nf.mul(LN2_HI)).sub(nf.mul(LN2_LO));
            FloatVector p = r.mul(E6).add(E5).mul(r).add(E4).mul(r).add(E3).mul(r).add(E2).mul(r).add(E1).mul(r)
                    .add(E0);
            // 2^nf: (nf + 127) in the exponent field; a NaN lane converts to 0 and stays NaN through p
            FloatVector scale = shifted.reinterpretAsInts().add(EXPONENT_BIAS).lanewise(VectorOperators.LSHL, 23)
                    .reinterpretAsFloats();
            p.mul(scale).blend(ZERO, x.lt(EXP_LO)).intoArray(v, o);
        }
        return end;
    }
}

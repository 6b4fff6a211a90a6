package io.github.jsora.golden;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Supplier;

import io.github.jsora.tensor.Bf16Gemm;

/** Runs bf16-compute tests on a forced {@link Bf16Gemm} route, and the error measure of their bounds. */
public final class Bf16Routes {

    private Bf16Routes() {
    }

    /**
     * {@code body} with the route forced; {@link Bf16Gemm.Route#NATIVE} sends every product, however small, to the
     * native op (a tiny golden model's products are below {@link Bf16Gemm#MIN_NATIVE_MACS}). Restores automatic
     * selection and the default threshold afterwards.
     */
    public static <T> T with(Bf16Gemm.Route route, Supplier<T> body) {
        Bf16Gemm.setRoute(route);
        Bf16Gemm.setMinNativeMacs(0);
        try {
            return body.get();
        } finally {
            Bf16Gemm.setMinNativeMacs(Bf16Gemm.MIN_NATIVE_MACS);
            Bf16Gemm.setRoute(null);
        }
    }

    /**
     * Runs {@code run} on each route and asserts its output's {@link #relL2} error against {@code ref} within the
     * route's bound (printing the measured error). @return the native route's output
     */
    public static float[] checkRoutes(String what, Path file, float[] ref, double nativeBound, double expandBound,
            Supplier<float[]> run) {
        float[] nat = null;
        for (Bf16Gemm.Route route : Bf16Gemm.Route.values()) {
            float[] got = with(route, run);
            double rel = relL2(ref, got);
            double bound = route == Bf16Gemm.Route.NATIVE ? nativeBound : expandBound;
            System.out.printf(Locale.ROOT, "bf16 compute %s %s %s: rel_l2=%.3e bound=%.1e%n", what,
                    file.getFileName(), route, rel, bound);
            assertTrue(rel <= bound, what + " " + file.getFileName() + " " + route + ": relative L2 error " + rel
                    + " above " + bound);
            if (route == Bf16Gemm.Route.NATIVE) {
                nat = got;
            }
        }
        return nat;
    }

    /** ‖got − ref‖₂ / ‖ref‖₂ in double. */
    public static double relL2(float[] ref, float[] got) {
        if (ref.length != got.length) {
            throw new AssertionError("lengths differ: " + ref.length + " vs " + got.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) got[i] - ref[i];
            num += d * d;
            den += (double) ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}

package io.github.jsora.tensor;

import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The float32 path's exp-based loops, {@code (float) Math.exp(x)} and SiLU {@code (float) (y / (1 + Math.exp(-y)))},
 * with the same bits as those scalar expressions but in SIMD registers where the JVM offers the Vector API
 * ({@link VectorExp}; about 15× faster per element on AVX-512), so the exact softmax and the VAE's GroupNorm + SiLU
 * keep today's results at a fraction of their cost. The same switch governs the float-lane loops of
 * {@link VectorFloat} (the fast softmax's exp, the attention's head preparation: row additions and scalings, the
 * per-head RMS norms, the rotary pairs), which also keep the scalar loops' bits; {@code off} turns all of them off.
 *
 * <p>The Vector API is an incubating JDK module: it is used when the JVM was started with
 * {@code --add-modules jdk.incubator.vector} (the project's Maven configuration, tests and benchmarks do so), and
 * the scalar loops run otherwise. {@code -Djsora.vector=off} forces the scalar loops. The choice is logged once
 * (INFO); either way the results are the same bits.
 */
public final class ExactExp {

    /** System property: {@code auto} (default) or {@code off}. */
    public static final String PROPERTY = "jsora.vector";
    static final String MODULE = "jdk.incubator.vector";

    private static final Logger LOG = LoggerFactory.getLogger(ExactExp.class);
    private static final boolean VECTOR = choose();

    private ExactExp() {
    }

    /** Whether the SIMD loops ({@link VectorExp}, {@link VectorFloat}) run in this JVM. */
    public static boolean vectorised() {
        return VECTOR;
    }

    private static boolean choose() {
        String p = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        if (!p.equals("auto") && !p.equals("off")) {
            LOG.warn("-D{}={} is not auto or off; using auto", PROPERTY, p);
        }
        if (p.equals("off")) {
            LOG.info("SIMD loops: off (-D{}=off)", PROPERTY);
            return false;
        }
        if (ModuleLayer.boot().findModule(MODULE).isEmpty()) {
            LOG.info("SIMD loops: off (start the JVM with --add-modules {} for them)", MODULE);
            return false;
        }
        try {
            if (!VectorExp.usable() || !VectorFloat.usable()) {
                LOG.info("SIMD loops: off (vectors of fewer than 4 doubles or 8 floats here)");
                return false;
            }
            LOG.info("SIMD loops: on, {} double and {} float lanes ({})", VectorExp.LANES, VectorFloat.LANES, MODULE);
            return true;
        } catch (LinkageError e) {
            LOG.info("SIMD loops: off ({} unusable: {})", MODULE, e.toString());
            return false;
        }
    }

    /** {@code v[off + i] = (float) Math.exp(v[off + i])} for i in [0, n). */
    public static void exp(float[] v, int off, int n) {
        int done = VECTOR ? VectorExp.exp(v, off, n) : 0;
        expScalar(v, off + done, n - done);
    }

    /** {@code v[off + i] = (float) (y / (1.0 + Math.exp(-y)))}, y = v[off + i], for i in [0, n). */
    public static void silu(float[] v, int off, int n) {
        int done = VECTOR ? VectorExp.silu(v, off, n) : 0;
        siluScalar(v, off + done, n - done);
    }

    /** The scalar loop of {@link #exp}: the reference the SIMD loop equals. */
    static void expScalar(float[] v, int off, int n) {
        for (int i = 0; i < n; i++) {
            v[off + i] = (float) Math.exp(v[off + i]);
        }
    }

    /** The scalar loop of {@link #silu}: the reference the SIMD loop equals. */
    static void siluScalar(float[] v, int off, int n) {
        for (int i = 0; i < n; i++) {
            v[off + i] = Ops.silu(v[off + i]);
        }
    }
}

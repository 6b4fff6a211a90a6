package io.github.jsora.tensor;

import java.io.IOException;
import java.util.Locale;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.stream.Collectors;

import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.indexer.Bfloat16Indexer;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fully connected layers whose weight is stored once in bfloat16 ({@link PackedWeight.Format#BF16}): the product
 * runs either natively in bf16 with float32 accumulation, or on the weight expanded to float32.
 *
 * <h2>Routes</h2>
 * <ul>
 * <li>{@link Route#NATIVE}: the activations are rounded to bf16 (round to nearest even, in native code) and the
 * product {@code x_bf16 · w_bf16ᵀ} runs with float32 accumulation in oneDNN: preferably oneDNN 2.5.2 of the JavaCPP
 * presets ({@link DnnlMatmul}, float32 output; on an AMD Zen 4 1.1–1.25× the speed of ND4J's at STDiT3-XL layer shapes), else ND4J's
 * {@code matmul} op, which the bundled libnd4j hands to its own oneDNN ({@code avx512_core_bf16}/AMX kernels where
 * the CPU has them). That op only accepts a bf16 output for bf16 inputs, so there the accumulated result is rounded
 * once more to bf16 and widened to float32 (as exact as a model run in bf16 end to end, e.g. PyTorch's
 * {@code model.to(bfloat16)}).
 * Measured error bound, asserted by the tests: per output element
 * {@code |y − y_ref| ≤ 2⁻⁹·Σ|x_i·w_i| + 2⁻⁸·|y_ref| + 10⁻⁶·Σ|x_i·w_i|} (activation rounding, output rounding,
 * float32 accumulation) against an exact product of the float32 activations and the same bf16 weight; the worst
 * element measured by the tests uses under half of it. Same-run speed on this machine (AMD EPYC with
 * avx512_bf16, 2 cores shared): the native route 1.5–2.5× the float32 sgemm at STDiT3-XL and T5-XXL layer shapes,
 * the bare bf16 product 1.3–2.9× ({@code Bf16GemmAbRun}). On a Xeon with AMX, oneDNN v2.3 uses its AMX kernels
 * only once {@link Amx} has requested them (the bare 10240×1152×4608 product: about 1950 GFLOP/s with AMX, 200 with
 * its AVX-512 bf16 kernel, 355 for the float32 sgemm); without AMX there, calibration keeps the float32 route.</li>
 * <li>{@link Route#EXPAND}: the weight is expanded to float32 ({@link PackedWeight#expandInto}) and multiplied by
 * {@link Gemm#linear}; bit-identical to expanding first and calling {@link Gemm#linear} yourself.</li>
 * </ul>
 *
 * <h2>Selection</h2>
 * The route is chosen once per process (and logged): the system property {@value #ROUTE_PROPERTY}
 * ({@code native}, {@code expand}, {@code auto}; default {@code auto}) or {@link #setRoute} forces it; {@code auto}
 * picks {@link Route#NATIVE} only if the CPU reports bf16 arithmetic ({@code avx512_bf16} or {@code amx_bf16} on
 * x86, {@code bf16} on ARM, see {@link #detectCpu}) <em>and</em> a calibration product (1024×1152×1152) runs
 * faster natively than in float32 by at least 10 % (timed by {@link #compare}: a warm-up, then alternating rounds).
 * Products below {@link #MIN_NATIVE_MACS} multiply-adds always expand: the native op's fixed cost per call dominates
 * them ({@link #setMinNativeMacs} changes that bound).
 */
public final class Bf16Gemm {

    static {
        NativeMemory.init(); // before ND4J loads: JavaCPP reads its limits once
    }

    private static final Logger LOG = LoggerFactory.getLogger(Bf16Gemm.class);

    /** System property forcing the route: {@code native}, {@code expand} or {@code auto}. */
    public static final String ROUTE_PROPERTY = "jsora.bf16.route";

    /** Smallest product (M·N·K multiply-adds) sent to the native route by default. */
    public static final long MIN_NATIVE_MACS = 1L << 24;

    private static volatile long minNativeMacs = MIN_NATIVE_MACS;

    /** How a bf16-weight product is computed. */
    public enum Route {
        /** bf16 × bf16 products with float32 accumulation in native code (oneDNN). */
        NATIVE,
        /** The weight expanded to float32 and a float32 sgemm. */
        EXPAND
    }

    /** The CPU's bf16 support as read from {@code /proc/cpuinfo}. */
    public record CpuSupport(boolean bf16, String detail) {
    }

    /** The route in use and why. */
    public record Selection(Route route, String reason) {
    }

    private static volatile Selection selection;

    private Bf16Gemm() {
    }

    // ------------------------------------------------------------------ selection

    /** The CPU's bf16 support on this machine (false where {@code /proc/cpuinfo} cannot be read). */
    public static CpuSupport cpuSupport() {
        String arch = System.getProperty("os.arch", "");
        try {
            return detectCpu(CpuFlags.read(), arch);
        } catch (IOException | RuntimeException e) {
            return new CpuSupport(false, "cannot read /proc/cpuinfo (" + e.getMessage() + ")");
        }
    }

    /**
     * Parses a {@code /proc/cpuinfo} text: x86 ({@code flags} lines) has bf16 arithmetic with {@code avx512_bf16}
     * or {@code amx_bf16}; ARM ({@code Features} lines) with {@code bf16}.
     */
    static CpuSupport detectCpu(String cpuinfo, String arch) {
        boolean arm = arch.startsWith("aarch64") || arch.startsWith("arm");
        Set<String> flags = CpuFlags.parse(cpuinfo);
        if (flags != null) {
            String found = flags.stream().filter(f -> arm ? f.equals("bf16")
                    : f.equals("avx512_bf16") || f.equals("amx_bf16")).collect(Collectors.joining(" "));
            return !found.isEmpty() ? new CpuSupport(true, "CPU has " + found)
                    : new CpuSupport(false, "CPU reports no bf16 arithmetic (" + (arm ? "bf16" : "avx512_bf16, "
                            + "amx_bf16") + " absent)");
        }
        return new CpuSupport(false, "no CPU feature list in /proc/cpuinfo for " + arch);
    }

    /** The route in use, selected (and logged) on first call. */
    public static Selection selection() {
        Selection s = selection;
        if (s == null) {
            synchronized (Bf16Gemm.class) {
                s = selection;
                if (s == null) {
                    s = select(System.getProperty(ROUTE_PROPERTY, "auto"));
                    LOG.info("bf16 products: {} ({})", s.route() == Route.NATIVE ? "native bf16 ("
                            + (DnnlMatmul.available() ? DnnlMatmul.detail() : "ND4J's oneDNN matmul op") + ")"
                            : "weights expanded to float32", s.reason());
                    selection = s;
                }
            }
        }
        return s;
    }

    /**
     * Sets the smallest product sent to the native route (default {@link #MIN_NATIVE_MACS}; 0 sends every product,
     * e.g. so that tests of a tiny model exercise the native route). @param macs M·N·K multiply-adds, ≥ 0
     */
    public static void setMinNativeMacs(long macs) {
        if (macs < 0) {
            throw new IllegalArgumentException("minimum native product must be >= 0 multiply-adds, found " + macs);
        }
        minNativeMacs = macs;
    }

    /** Forces the route ({@code null}: select again automatically on next use). */
    public static synchronized void setRoute(Route route) {
        selection = route == null ? null : new Selection(route, "set explicitly");
    }

    private static Selection select(String property) {
        switch (property.trim().toLowerCase(Locale.ROOT)) {
            case "native":
                return new Selection(Route.NATIVE, ROUTE_PROPERTY + "=native");
            case "expand":
                return new Selection(Route.EXPAND, ROUTE_PROPERTY + "=expand");
            case "auto":
                break;
            default:
                throw new IllegalArgumentException("system property " + ROUTE_PROPERTY + " must be native, expand "
                        + "or auto, found '" + property + "'");
        }
        CpuSupport cpu = cpuSupport();
        if (!cpu.bf16()) {
            return new Selection(Route.EXPAND, cpu.detail());
        }
        try {
            double[] t = calibrate(1024, 1152, 1152);
            Amx.Status amx = Amx.status();
            return decide(t, cpu.detail() + "; AMX " + (amx.enabled() ? "on" : "off") + " (" + amx.detail() + ")");
        } catch (RuntimeException e) {
            return new Selection(Route.EXPAND, cpu.detail() + "; native bf16 product failed: " + e);
        }
    }

    /** Native only when its calibration product is at least 10 % faster; {@code t} = {native, float32} seconds. */
    static Selection decide(double[] t, String detail) {
        String times = String.format(Locale.ROOT, "%s; 1024x1152x1152: native %.1f ms, float32 %.1f ms", detail,
                t[0] * 1e3, t[1] * 1e3);
        return t[0] * 1.1 < t[1] ? new Selection(Route.NATIVE, times)
                : new Selection(Route.EXPAND, times + ": native not faster");
    }

    /** Wall time the native route is warmed for before it is timed (see {@link #compare}). */
    static final long WARM_NANOS = 300_000_000L;

    /** Most native products of the warm-up, whatever their time. */
    static final int WARM_MAX_RUNS = 40;

    /** Timed rounds, each one product by either route. */
    static final int ROUNDS = 4;

    /**
     * Times the two routes, each {@link LongSupplier} running one product and returning its nanoseconds: first the
     * native route alone for {@link #WARM_NANOS} (at most {@link #WARM_MAX_RUNS} products) and one float32
     * product, then {@link #ROUNDS} alternating rounds; returns the best time of each route in seconds, {native,
     * float32}. The warm-up is needed: on a Xeon with AMX, the native products of a new process were measured to
     * run 2–4× slower for their first 100–300 ms (and a best of 3 taken then chose float32 in 3 of 12 processes).
     */
    static double[] compare(LongSupplier nativeRun, LongSupplier float32Run) {
        long spent = 0;
        for (int runs = 0; spent < WARM_NANOS && runs < WARM_MAX_RUNS; runs++) {
            spent += Math.max(0, nativeRun.getAsLong());
        }
        float32Run.getAsLong();
        long nat = Long.MAX_VALUE;
        long f32 = Long.MAX_VALUE;
        for (int r = 0; r < ROUNDS; r++) {
            nat = Math.min(nat, nativeRun.getAsLong());
            f32 = Math.min(f32, float32Run.getAsLong());
        }
        return new double[] {nat / 1e9, f32 / 1e9};
    }

    /** {@link #compare} of one native bf16 and one float32 product of x [m, k] · wᵀ ([n, k]). */
    private static double[] calibrate(int m, int k, int n) {
        try (Tensor x = Tensor.zeros(m, k); Tensor w = Tensor.zeros(n, k); Tensor o = Tensor.zeros(m, n)) {
            float[] row = new float[k];
            for (int i = 0; i < k; i++) {
                row[i] = ((i * 37) % 101 - 50) / 400f;
            }
            for (int r = 0; r < Math.max(m, n); r++) {
                if (r < m) {
                    x.write((long) r * k, row, 0, k);
                }
                if (r < n) {
                    w.write((long) r * k, row, 0, k);
                }
            }
            try (PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16);
                    Tensor scratch = Tensor.zeros(Math.toIntExact(scratchFloats(m, pw)))) {
                return compare(() -> {
                    StageTimer.Scope t = StageTimer.start("native");
                    nativeLinear(x, pw, o, m, scratch);
                    t.close();
                    return t.nanos();
                }, () -> {
                    StageTimer.Scope t = StageTimer.start("float32");
                    Gemm.linear(x, w, null, o);
                    t.close();
                    return t.nanos();
                });
            }
        }
    }

    // ------------------------------------------------------------------ products

    /**
     * {@code out = x·wᵀ + bias} over the last dimension, with a bf16 weight, by the selected route.
     *
     * @param x    [..., in] float32
     * @param w    [out, in] bfloat16 (PyTorch {@code nn.Linear} layout)
     * @param bias [out] or null
     * @param out  [..., out] float32, written
     */
    public static void linear(Tensor x, PackedWeight w, Tensor bias, Tensor out) {
        linear(x, w, bias, out, null);
    }

    /**
     * {@link #linear(Tensor, PackedWeight, Tensor, Tensor)} with a caller-owned buffer, so that a layer loop makes
     * no native allocation (and no zero-filling) per call. @param scratch at least
     * {@link #selectedScratchFloats(int, PackedWeight)} floats ({@link #scratchFloats(int, PackedWeight)} suits
     * either route; contents overwritten), or null: allocated for the call
     */
    public static void linear(Tensor x, PackedWeight w, Tensor bias, Tensor out, Tensor scratch) {
        linear(x, w, bias, out, scratch, selection().route());
    }

    /**
     * Floats of the scratch a product of {@code rows} rows with {@code w} needs on either route: the weight
     * expanded to float32, or the activations and the output as bf16.
     */
    public static long scratchFloats(int rows, PackedWeight w) {
        return Math.max(w.size(), operandFloats(rows, w));
    }

    /**
     * Floats of the scratch a product of {@code rows} rows with {@code w} needs on {@code route}: the activations
     * and the output as bf16 where the product runs natively, else the weight expanded to float32.
     */
    public static long scratchFloats(int rows, PackedWeight w, Route route) {
        if (route == Route.NATIVE && (long) rows * inputs(w) * w.rows() >= minNativeMacs) {
            return operandFloats(rows, w);
        }
        return w.size();
    }

    /** Floats the bf16 activations [rows, in] and output [rows, out] of a native product take. */
    private static long operandFloats(int rows, PackedWeight w) {
        return ((long) rows * inputs(w) + 1) / 2 + ((long) rows * w.rows() + 1) / 2;
    }

    /** The weight's input width: its last dimension. */
    private static long inputs(PackedWeight w) {
        int[] s = w.shape();
        return s[s.length - 1];
    }

    /** {@link #scratchFloats(int, PackedWeight, Route)} on the route {@link #linear} selects. */
    public static long selectedScratchFloats(int rows, PackedWeight w) {
        return scratchFloats(rows, w, selection().route());
    }

    /** {@link #linear(Tensor, PackedWeight, Tensor, Tensor, Tensor)} by a given route (small products expand). */
    public static void linear(Tensor x, PackedWeight w, Tensor bias, Tensor out, Tensor scratch, Route route) {
        if (w.format() != PackedWeight.Format.BF16 || w.shape().length != 2) {
            throw new IllegalArgumentException("a bf16 linear needs a BF16 weight [out, in], found " + w);
        }
        int in = w.shape()[1];
        int outF = w.rows();
        if (x.rank() < 1 || x.dim(-1) != in || out.rank() < 1 || out.dim(-1) != outF
                || x.size() / in != out.size() / outF) {
            throw new IllegalArgumentException("bf16 linear shapes do not fit: x" + x.shapeString() + " · w"
                    + java.util.Arrays.toString(w.shape()) + "ᵀ → out" + out.shapeString());
        }
        if (bias != null && !bias.hasShape(outF)) {
            throw new IllegalArgumentException("linear bias must be [" + outF + "], found " + bias.shapeString());
        }
        int rows = Math.toIntExact(x.size() / in);
        if (scratch != null && scratch.size() < scratchFloats(rows, w, route)) {
            throw new IllegalArgumentException("bf16 linear scratch of " + scratch.size() + " floats is smaller than "
                    + "the " + scratchFloats(rows, w, route) + " a product of " + rows + " rows with " + w + " needs");
        }
        if (rows == 0) {
            return;
        }
        Tensor x2 = x.reshape(rows, in);
        Tensor o2 = out.reshape(rows, outF);
        if (route == Route.NATIVE && (long) rows * in * outF >= minNativeMacs) {
            if (scratch != null) {
                nativeLinear(x2, w, o2, rows, scratch);
            } else {
                try (Tensor mem = Tensor.zeros(Math.toIntExact(scratchFloats(rows, w, route)))) {
                    nativeLinear(x2, w, o2, rows, mem);
                }
            }
            if (bias != null) {
                Ops.addRowVectorInPlace(o2, bias);
            }
            return;
        }
        if (scratch != null) {
            Tensor wf = scratch.view(0, outF, in);
            w.expandInto(wf);
            Gemm.linear(x2, wf, bias, o2);
        } else {
            try (Tensor wf = w.expand()) {
                Gemm.linear(x2, wf, bias, o2);
            }
        }
    }

    /** o [rows, out] = bf16(bf16(x [rows, in]) · wᵀ), widened to float32; bf16 operands in {@code mem}. */
    private static void nativeLinear(Tensor x, PackedWeight w, Tensor o, int rows, Tensor mem) {
        int in = x.dim(1);
        int outF = o.dim(1);
        x.checkLive();
        o.checkLive();
        Bf16Matrix xb = Bf16Matrix.in(mem, 0, rows, in);
        xb.roundFrom(x);
        if (DnnlMatmul.available()) {
            DnnlMatmul.product(xb.address(), w.bf16Address(), o.address(), rows, in, outF, false);
            return;
        }
        Bf16Matrix ob = Bf16Matrix.in(mem, Bf16Matrix.floats(rows, in), rows, outF);
        product(xb, w, ob);
        ob.widenInto(o);
    }

    /**
     * Whether native products write float32 results (oneDNN's presets, {@link DnnlMatmul}); else they round their
     * results to bf16 (ND4J's matmul op) and a caller that reads them once may as well read them in bf16.
     */
    public static boolean nativeWritesFloat32() {
        return DnnlMatmul.available();
    }

    /**
     * out [rows, outF] float32 = x [rows, in] · wᵀ natively (float32 accumulation), whatever the selected route: the
     * product of {@link #product(Bf16Matrix, PackedWeight, Bf16Matrix)} without rounding its result (widened from
     * bf16 where {@link #nativeWritesFloat32()} is false).
     *
     * @param out float32, rows·outF elements with rows of outF
     */
    public static void product(Bf16Matrix x, PackedWeight w, Tensor out) {
        checkProduct(x, w, x.rows(), w.rows());
        if (out.size() != (long) x.rows() * w.rows() || (out.rank() > 0 && out.dim(-1) != w.rows())) {
            throw new IllegalArgumentException("bf16 product output " + out + " does not fit " + x + " · w"
                    + java.util.Arrays.toString(w.shape()) + "ᵀ");
        }
        out.checkLive();
        if (x.rows() == 0) {
            return;
        }
        if (DnnlMatmul.available()) {
            DnnlMatmul.product(x.address(), w.bf16Address(), out.address(), x.rows(), x.cols(), w.rows(), false);
            return;
        }
        try (Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(x.rows(), w.rows())))) {
            Bf16Matrix ob = Bf16Matrix.in(mem, 0, x.rows(), w.rows());
            product(x, w, ob);
            ob.widenInto(out);
        }
    }

    private static void checkProduct(Bf16Matrix x, PackedWeight w, int outRows, int outCols) {
        if (w.format() != PackedWeight.Format.BF16 || w.shape().length != 2) {
            throw new IllegalArgumentException("a bf16 product needs a BF16 weight [out, in], found " + w);
        }
        if (x.cols() != w.shape()[1] || outCols != w.rows() || x.rows() != outRows) {
            throw new IllegalArgumentException("bf16 product shapes do not fit: " + x + " · w"
                    + java.util.Arrays.toString(w.shape()) + "ᵀ → [" + outRows + ", " + outCols + "]");
        }
    }

    /**
     * Whether {@link #linear} multiplies {@code rows} rows by {@code w} natively in bf16: the selected route is
     * {@link Route#NATIVE} and the product is at least the smallest native product. Where it is, a caller may keep
     * the activations in bf16 and call {@link #product} itself, with the same result.
     */
    public static boolean nativeFor(int rows, PackedWeight w) {
        return w.format() == PackedWeight.Format.BF16 && selection().route() == Route.NATIVE
                && (long) rows * w.rowLength() * w.rows() >= minNativeMacs;
    }

    /**
     * out [rows, outF] = bf16(x [rows, in] · wᵀ) with float32 accumulation, natively (oneDNN), whatever the
     * selected route: the product {@link #linear} runs on its native route, without its two casts.
     *
     * @param w a BF16 weight [outF, in]
     * @throws IllegalArgumentException if the shapes do not fit, or the two matrices overlap
     */
    public static void product(Bf16Matrix x, PackedWeight w, Bf16Matrix out) {
        checkProduct(x, w, out.rows(), out.cols());
        if (x.overlaps(out)) {
            throw new IllegalArgumentException("bf16 product: the input " + x + " and the output " + out
                    + " overlap");
        }
        if (x.rows() == 0) {
            return;
        }
        if (DnnlMatmul.available()) {
            DnnlMatmul.product(x.address(), w.bf16Address(), out.address(), x.rows(), x.cols(), w.rows(), true);
            return;
        }
        Nd4j.exec(new Mmul(x.nd4j(), w.bf16Matrix(), out.nd4j(), MMulTranspose.builder().transposeB(true).build()));
    }

    /**
     * Whether {@link #productBiasGelu} runs here: where native products write float32 (the oneDNN presets), whose
     * matmul takes the bias and the GELU as its epilogue.
     */
    public static boolean fusesBiasGelu() {
        return DnnlMatmul.available();
    }

    /**
     * Whether {@link #productBiasGelu} runs for {@code rows} rows with {@code w}: {@link #fusesBiasGelu()}, and
     * oneDNN made the fused product of that shape (a refusal is logged once; the caller then runs the product and
     * the GELU apart).
     */
    public static boolean fusesBiasGelu(int rows, PackedWeight w) {
        return w.format() == PackedWeight.Format.BF16 && DnnlMatmul.fusesBiasGelu(rows, w.rowLength(), w.rows());
    }

    /**
     * out [rows, outF] = bf16(GELU_tanh(x [rows, in] · wᵀ + bias)) in one native product, float32 accumulation, the
     * bias and the GELU applied to the float32 sums before the one rounding to bf16 (so it is closer to the exact
     * value than a bf16 product followed by the GELU, which rounds twice). Only where
     * {@link #fusesBiasGelu(int, PackedWeight)}.
     *
     * @param w    a BF16 weight [outF, in]
     * @param bias float32 [outF] (contiguous)
     * @throws IllegalArgumentException if the shapes do not fit, or the two matrices overlap
     * @throws IllegalStateException    where {@link #fusesBiasGelu()} is false
     */
    public static void productBiasGelu(Bf16Matrix x, PackedWeight w, Tensor bias, Bf16Matrix out) {
        checkProduct(x, w, out.rows(), out.cols());
        if (bias.size() != w.rows()) {
            throw new IllegalArgumentException("bf16 product with bias: bias " + bias.shapeString() + " has "
                    + bias.size() + " values for " + w.rows() + " outputs");
        }
        if (x.overlaps(out)) {
            throw new IllegalArgumentException("bf16 product: the input " + x + " and the output " + out
                    + " overlap");
        }
        if (!fusesBiasGelu()) {
            throw new IllegalStateException("bf16 product with bias and GELU needs the oneDNN presets: "
                    + DnnlMatmul.detail());
        }
        if (x.rows() == 0) {
            return;
        }
        bias.checkLive();
        DnnlMatmul.productBiasGelu(x.address(), w.bf16Address(), bias.address(), out.address(), x.rows(), x.cols(),
                w.rows());
    }

    /** A C-order BFLOAT16 ND4J matrix on {@code rows·cols} 2-byte values at a native address (not owned). */
    static INDArray bf16View(long address, int rows, int cols) {
        long n = (long) rows * cols;
        ShortPointer sp = new ShortPointer(new PagedPointer(address)).capacity(n).limit(n);
        DataBuffer db = Nd4j.createBuffer(new PagedPointer(address), DataType.BFLOAT16, n,
                Bfloat16Indexer.create(sp));
        return Nd4j.create(db, new long[] {rows, cols}, new long[] {cols, 1}, 0, 'c', DataType.BFLOAT16);
    }
}

package io.github.jsora.tensor;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

import org.bytedeco.dnnl.IntMemoryMap;
import org.bytedeco.dnnl.engine;
import org.bytedeco.dnnl.matmul;
import org.bytedeco.dnnl.memory;
import org.bytedeco.dnnl.post_ops;
import org.bytedeco.dnnl.primitive_attr;
import org.bytedeco.dnnl.stream;
import org.bytedeco.dnnl.global.dnnl;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * bf16 products through oneDNN 2.5.2 (the JavaCPP presets), the newer oneDNN that {@link Bf16Gemm}'s native route
 * prefers to the one inside ND4J: {@code out [m, n] = x [m, k] · wᵀ} with x and w ([n, k], PyTorch's linear layout)
 * in bf16, float32 accumulation, and a float32 or bf16 output. On an AMD EPYC (Zen 4, avx512_bf16) its
 * {@code brg:avx512_core_bf16} kernel ran STDiT3-XL's layer products at 10240 rows at 401–440 GFLOP/s, against
 * 337–367 for ND4J's matmul op (fc2's shape up to 424; {@code bench.Bf16ProductShapesRun}); it also writes a float32 output, which that op refuses for bf16 inputs.
 *
 * <p>One primitive per shape and output type, made on first use and kept for the process (a primitive holds no
 * operand memory). Operands are the callers' native memory, wrapped for each call and released after it. Calls from
 * several threads are safe: each thread has its own stream. oneDNN runs a product on all cores (its OpenMP threads).
 * {@link #available()} is false where the presets' native library cannot load; the reason is logged once.
 */
final class DnnlMatmul {

    private static final Logger LOG = LoggerFactory.getLogger(DnnlMatmul.class);

    /** System property: {@code off} never uses these products (ND4J's matmul op instead). */
    static final String PROPERTY = "jsora.bf16.onednn";

    private static final Runtime RUNTIME = Runtime.load();

    private static final ConcurrentHashMap<String, Product> PRODUCTS = new ConcurrentHashMap<>();
    private static final ConcurrentHashMap<String, Boolean> REFUSED = new ConcurrentHashMap<>();

    private DnnlMatmul() {
    }

    private static volatile boolean enabled = true;

    /** Whether the products can run here: the presets loaded and {@value #PROPERTY} is not {@code off}. */
    static boolean available() {
        return enabled && RUNTIME.eng != null;
    }

    /** Turns these products off or back on for the process (tests of ND4J's route on a machine that has both). */
    static void setEnabled(boolean on) {
        enabled = on;
    }

    /** Whether the presets loaded (whatever {@link #setEnabled} says). */
    static boolean loaded() {
        return RUNTIME.eng != null;
    }

    /** Why {@link #available()} is what it is, for the log. */
    static String detail() {
        return RUNTIME.detail;
    }

    /**
     * out = x · wᵀ: x [m, k] bf16 at {@code xAddress}, w [n, k] bf16 at {@code wAddress}, out [m, n] float32 (or bf16
     * when {@code bf16Out}) at {@code outAddress}; rows dense (row strides k, k and n).
     *
     * @throws IllegalStateException if {@link #available()} is false
     */
    static void product(long xAddress, long wAddress, long outAddress, int m, int k, int n, boolean bf16Out) {
        if (RUNTIME.eng == null) {
            throw new IllegalStateException("oneDNN presets unavailable: " + RUNTIME.detail);
        }
        primitive(m, k, n, bf16Out).run(xAddress, wAddress, outAddress);
    }

    /**
     * out = bf16(GELU_tanh(x · wᵀ + bias)) in one primitive (oneDNN's bias and eltwise post-op on the float32
     * accumulators): x [m, k] bf16, w [n, k] bf16, bias [n] float32 at {@code biasAddress}, out [m, n] bf16.
     *
     * @throws IllegalStateException if {@link #available()} is false
     */
    static void productBiasGelu(long xAddress, long wAddress, long biasAddress, long outAddress, int m, int k,
            int n) {
        if (RUNTIME.eng == null) {
            throw new IllegalStateException("oneDNN presets unavailable: " + RUNTIME.detail);
        }
        primitive(m, k, n, true, true).run(xAddress, wAddress, biasAddress, outAddress);
    }

    /**
     * Whether {@link #productBiasGelu} can run at this shape: the presets are available and oneDNN made the fused
     * primitive (made here on first use; a refusal is logged once and remembered).
     */
    static boolean fusesBiasGelu(int m, int k, int n) {
        if (!available()) {
            return false;
        }
        String key = m + "x" + k + "x" + n;
        if (REFUSED.containsKey(key)) {
            return false;
        }
        try {
            primitive(m, k, n, true, true);
            return true;
        } catch (RuntimeException e) {
            REFUSED.put(key, Boolean.TRUE);
            LOG.info("oneDNN refused the bf16 product with bias and GELU at {}: the GELU runs in Java there ({})", key,
                    e.toString());
            return false;
        }
    }

    /** The name oneDNN gives the kernel of a product of this shape (made if needed), e.g. for the log or a test. */
    static String kernel(int m, int k, int n, boolean bf16Out) {
        if (RUNTIME.eng == null) {
            return "none (" + RUNTIME.detail + ")";
        }
        return primitive(m, k, n, bf16Out).kernel;
    }

    /** The product of this shape and output type, made on first use. */
    private static Product primitive(int m, int k, int n, boolean bf16Out) {
        return primitive(m, k, n, bf16Out, false);
    }

    /** The product of this shape, output type and epilogue (bias + GELU or none), made on first use. */
    private static Product primitive(int m, int k, int n, boolean bf16Out, boolean biasGelu) {
        return PRODUCTS.computeIfAbsent(m + "x" + k + "x" + n + (bf16Out ? "bf16" : "f32") + (biasGelu ? "+gelu" : ""),
                key -> new Product(m, k, n, bf16Out, biasGelu));
    }

    /** One matmul primitive and its operand descriptions. */
    private static final class Product {
        final memory.desc src;
        final memory.desc wei;
        final memory.desc bias;    // null without the bias + GELU epilogue
        final memory.desc dst;
        final matmul primitive;
        final String kernel;

        Product(int m, int k, int n, boolean bf16Out, boolean biasGelu) {
            src = new memory.desc(new long[] {m, k}, memory.data_type.bf16, new long[] {k, 1});     // x [m, k]
            wei = new memory.desc(new long[] {k, n}, memory.data_type.bf16, new long[] {1, k});     // wᵀ [k, n]
            dst = new memory.desc(new long[] {m, n}, bf16Out ? memory.data_type.bf16 : memory.data_type.f32,
                    new long[] {n, 1});                                                            // [m, n]
            matmul.primitive_desc pd;
            if (biasGelu) {
                bias = new memory.desc(new long[] {1, n}, memory.data_type.f32, new long[] {n, 1});  // [1, n]
                try (post_ops ops = new post_ops(); primitive_attr attr = new primitive_attr()) {
                    ops.append_eltwise(1f, dnnl.algorithm.eltwise_gelu_tanh, 0f, 0f);
                    attr.set_post_ops(ops);
                    pd = new matmul.primitive_desc(new matmul.desc(src, wei, bias, dst), attr, RUNTIME.eng);
                }
            } else {
                bias = null;
                pd = new matmul.primitive_desc(new matmul.desc(src, wei, dst), RUNTIME.eng);
            }
            kernel = pd.impl_info_str().getString();
            primitive = new matmul(pd);
        }

        void run(long xAddress, long wAddress, long outAddress) {
            run(xAddress, wAddress, 0L, outAddress);
        }

        void run(long xAddress, long wAddress, long biasAddress, long outAddress) {
            stream st = RUNTIME.streams.get();
            try (PagedPointer xp = new PagedPointer(xAddress); PagedPointer wp = new PagedPointer(wAddress);
                    PagedPointer op = new PagedPointer(outAddress);
                    PagedPointer bp = bias == null ? null : new PagedPointer(biasAddress);
                    memory xm = new memory(src, RUNTIME.eng, xp);
                    memory wm = new memory(wei, RUNTIME.eng, wp);
                    memory om = new memory(dst, RUNTIME.eng, op);
                    memory bm = bias == null ? null : new memory(bias, RUNTIME.eng, bp);
                    IntMemoryMap args = new IntMemoryMap()) {
                args.put(dnnl.DNNL_ARG_SRC, xm);
                args.put(dnnl.DNNL_ARG_WEIGHTS, wm);
                if (bm != null) {
                    args.put(dnnl.DNNL_ARG_BIAS, bm);
                }
                args.put(dnnl.DNNL_ARG_DST, om);
                primitive.execute(st, args);
                st._wait();
            }
        }
    }

    /** The engine (null when unavailable), per-thread streams and the reason. */
    private static final class Runtime {
        final engine eng;
        final ThreadLocal<stream> streams;
        final String detail;

        private Runtime(engine eng, String detail) {
            this.eng = eng;
            this.detail = detail;
            this.streams = eng == null ? null : ThreadLocal.withInitial(() -> new stream(eng));
        }

        static Runtime load() {
            String p = System.getProperty(PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
            if (p.equals("off")) {
                return new Runtime(null, "-D" + PROPERTY + "=off");
            }
            if (!p.equals("auto")) {
                LOG.warn("-D{}={} is not auto or off; using auto", PROPERTY, p);
            }
            try {
                engine e = new engine(engine.kind.cpu, 0);
                return new Runtime(e, "oneDNN " + version() + " (JavaCPP presets)");
            } catch (Throwable t) {    // UnsatisfiedLinkError, NoClassDefFoundError: the presets cannot load here
                LOG.info("oneDNN presets unavailable, bf16 products use ND4J's matmul op: {}", t.toString());
                return new Runtime(null, "oneDNN presets unavailable: " + t);
            }
        }

        private static String version() {
            org.bytedeco.dnnl.dnnl_version_t v = dnnl.dnnl_version();
            return v.major() + "." + v.minor() + "." + v.patch();
        }
    }
}

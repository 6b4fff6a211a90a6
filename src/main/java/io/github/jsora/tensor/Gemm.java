package io.github.jsora.tensor;

import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Matrix products on {@link Tensor}s, run by the OpenBLAS library that ND4J ships and uses for {@code Nd4j.gemm}:
 * {@code cblas_sgemm} is called directly on the tensors' native memory (no copies, no per-row calls).
 *
 * <p>Why not {@code Nd4j.gemm} itself: in ND4J 1.0.0-M2.1 it runs as a custom op whose fixed cost per call was
 * measured at 3–20 ms on small operands on this machine kind (a 64×64×64 product: 3 ms through {@code Nd4j.gemm},
 * 23 µs through {@code cblas_sgemm}; 160×128×384: 18 ms vs 0.9 ms), while both reach the same speed on large ones
 * (1024×1152×1152 and 4096×1152×1152 within noise). Small products dominate the small models and the attention of
 * short sequences. {@code benchmarks/run Gemm} keeps the raw {@code Nd4j.gemm} baseline next to this path.
 *
 * <p>Shapes are checked here and errors name both operands, so a wrong shape never reaches native code.
 */
public final class Gemm {

    static {
        NativeMemory.init(); // before ND4J loads: JavaCPP reads its limits once
    }

    /**
     * Held shared by every product call here and exclusively by {@link #singleThreaded}: while OpenBLAS is set to one
     * thread for one caller, no other thread's product runs with the changed count (with some OpenBLAS kernels the
     * thread count changes the last bits of a product, so results stay independent of what else runs in the JVM).
     */
    private static final ReentrantReadWriteLock BLAS = new ReentrantReadWriteLock();

    /**
     * Guards the two fields below; held only for a thread-count call, never while waiting for anything else (a
     * {@link #setThreads} from under {@link Parallel}'s lock must not wait for a section whose loop needs that lock).
     */
    private static final Object THREADS = new Object();
    private static int wantedThreads;     // the count set by setThreads (0: not set yet)
    private static boolean singleSection; // a singleThreaded section runs: setThreads defers the BLAS count to its end

    private Gemm() {
    }

    /**
     * Runs {@code body} with OpenBLAS set to one thread, so that several Java threads can each run their own small
     * products at once ({@link Attention.Schedule#PER_THREAD}); the count is restored afterwards, also when
     * {@code body} throws. Other threads' products wait until it ends. Inside {@code body}, products are called
     * through {@link #matmulAtUnlocked} only (the public calls would wait for this section to end).
     */
    static void singleThreaded(Runnable body) {
        BLAS.writeLock().lock();
        try {
            synchronized (THREADS) {
                if (wantedThreads < 1) {
                    wantedThreads = Nd4j.factory().blas().getMaxThreads();
                }
                singleSection = true;
                Nd4j.factory().blas().setMaxThreads(1);
            }
            try {
                body.run();
            } finally {
                synchronized (THREADS) {
                    singleSection = false;
                    Nd4j.factory().blas().setMaxThreads(wantedThreads);
                }
            }
        } finally {
            BLAS.writeLock().unlock();
        }
    }

    /** The thread count the shared products run on: the BLAS count outside a single-thread section. */
    static int blasThreads() {
        synchronized (THREADS) {
            return singleSection && wantedThreads > 0 ? wantedThreads : Nd4j.factory().blas().getMaxThreads();
        }
    }

    /** Sets the number of BLAS threads ND4J uses. */
    static void setThreads(int n) {
        synchronized (THREADS) {
            wantedThreads = n;
            if (!singleSection) {
                Nd4j.factory().blas().setMaxThreads(n);
            } // else the section ending sets it
            Nd4j.getEnvironment().setMaxThreads(n);
        }
    }

    /**
     * {@code c = alpha·op(a)·op(b) + beta·c} for 2-D operands, where op transposes when asked.
     *
     * @param a [M, K] (or [K, M] with {@code transA})
     * @param b [K, N] (or [N, K] with {@code transB})
     * @param c [M, N], written in place
     */
    public static void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha, float beta) {
        int[] as = a.shape();
        int[] bs = b.shape();
        int[] cs = c.shape();
        if (as.length != 2 || bs.length != 2 || cs.length != 2) {
            throw new IllegalArgumentException("matmul needs 2-D operands, found " + a.shapeString() + ", "
                    + b.shapeString() + ", " + c.shapeString());
        }
        int m = transA ? as[1] : as[0];
        int k = transA ? as[0] : as[1];
        int kb = transB ? bs[1] : bs[0];
        int n = transB ? bs[0] : bs[1];
        if (k != kb || cs[0] != m || cs[1] != n) {
            throw new IllegalArgumentException("matmul shapes do not fit: a" + a.shapeString() + (transA ? "ᵀ" : "")
                    + " · b" + b.shapeString() + (transB ? "ᵀ" : "") + " → c" + c.shapeString());
        }
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            Ops.scaleInPlace(c, beta);
            return;
        }
        sgemm(transA, transB, m, n, k, alpha, a, 0, b, 0, beta, c, 0);
    }

    /** One row-major cblas_sgemm on element offsets into the operands' memory. */
    private static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a, long aOff,
            Tensor b, long bOff, float beta, Tensor c, long cOff) {
        a.checkLive();
        b.checkLive();
        c.checkLive();
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        FloatPointer pa = pointer(a, aOff);
        FloatPointer pb = pointer(b, bOff);
        FloatPointer pc = pointer(c, cOff);
        BLAS.readLock().lock();
        try {
            openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
                    transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                    transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
                    m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
        } finally {
            BLAS.readLock().unlock();
        }
    }

    private static FloatPointer pointer(Tensor t, long elementOffset) {
        FloatPointer p = new FloatPointer(t.buffer().addressPointer());
        return p.position(t.offset() + elementOffset);
    }

    /** {@code c = op(a)·op(b)} into a new tensor. */
    public static Tensor matmul(Tensor a, boolean transA, Tensor b, boolean transB) {
        int m = transA ? a.dim(1) : a.dim(0);
        int n = transB ? b.dim(0) : b.dim(1);
        Tensor c = Tensor.zeros(m, n);
        matmul(a, transA, b, transB, c, 1f, 0f);
        return c;
    }

    /**
     * Batched product {@code c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i]} over the leading dimension of rank-3
     * operands (one BLAS call per batch entry).
     *
     * @param a [Bt, M, K] (or [Bt, K, M] with {@code transA})
     * @param b [Bt, K, N] (or [Bt, N, K] with {@code transB})
     * @param c [Bt, M, N], written in place
     */
    public static void batchedMatmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor c, float alpha,
            float beta) {
        int[] as = a.shape();
        int[] bs = b.shape();
        int[] cs = c.shape();
        if (as.length != 3 || bs.length != 3 || cs.length != 3 || as[0] != bs[0] || as[0] != cs[0]) {
            throw new IllegalArgumentException("batched matmul needs rank-3 operands with one batch size, found "
                    + a.shapeString() + ", " + b.shapeString() + ", " + c.shapeString());
        }
        int m = transA ? as[2] : as[1];
        int k = transA ? as[1] : as[2];
        int kb = transB ? bs[2] : bs[1];
        int n = transB ? bs[1] : bs[2];
        if (k != kb || cs[1] != m || cs[2] != n) {
            throw new IllegalArgumentException("batched matmul shapes do not fit: a" + a.shapeString()
                    + (transA ? "ᵀ" : "") + " · b" + b.shapeString() + (transB ? "ᵀ" : "") + " → c"
                    + c.shapeString());
        }
        if (as[0] == 0 || m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            Ops.scaleInPlace(c, beta);
            return;
        }
        long aStride = (long) as[1] * as[2];
        long bStride = (long) bs[1] * bs[2];
        long cStride = (long) m * n;
        for (int i = 0; i < as[0]; i++) {
            sgemm(transA, transB, m, n, k, alpha, a, i * aStride, b, i * bStride, beta, c, i * cStride);
        }
    }

    /**
     * A fully connected layer: {@code out = x·wᵀ + bias} over the last dimension.
     *
     * @param x    [..., in]
     * @param w    [out, in] (PyTorch {@code nn.Linear} layout)
     * @param bias [out] or null
     * @param out  [..., out], written
     */
    public static void linear(Tensor x, Tensor w, Tensor bias, Tensor out) {
        if (w.rank() != 2) {
            throw new IllegalArgumentException("linear weight must be [out, in], found " + w.shapeString());
        }
        int in = w.dim(1);
        int outF = w.dim(0);
        if (x.rank() < 1 || x.dim(-1) != in || out.rank() < 1 || out.dim(-1) != outF
                || x.size() / Math.max(in, 1) != out.size() / Math.max(outF, 1)) {
            throw new IllegalArgumentException("linear shapes do not fit: x" + x.shapeString() + " · w"
                    + w.shapeString() + "ᵀ → out" + out.shapeString());
        }
        if (bias != null && !bias.hasShape(outF)) {
            throw new IllegalArgumentException("linear bias must be [" + outF + "], found " + bias.shapeString());
        }
        int rows = Math.toIntExact(x.size() / Math.max(in, 1));
        Tensor x2 = x.reshape(rows, in);
        Tensor o2 = out.reshape(rows, outF);
        matmul(x2, false, w, true, o2, 1f, 0f);
        if (bias != null) {
            Ops.addRowVectorInPlace(o2, bias);
        }
    }

    /** {@link #linear(Tensor, Tensor, Tensor, Tensor)} into a new tensor of shape [..., out]. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        int[] s = x.shape();
        s[s.length - 1] = w.dim(0);
        Tensor out = Tensor.zeros(s);
        linear(x, w, bias, out);
        return out;
    }

    /**
     * Products {@code c_i = alpha·op(a_i)·op(b_i) + beta·c_i} of matrices inside larger tensors, one BLAS call each:
     * matrix i of an operand starts at element {@code off[i]} of its tensor and has row stride {@code ld} (so the
     * heads of token-major rows can be multiplied in place). The products are the same row-major sgemm calls as
     * {@link #batchedMatmul} with other leading dimensions.
     *
     * @param m   rows of op(a_i) and c_i
     * @param n   columns of op(b_i) and c_i
     * @param k   columns of op(a_i), rows of op(b_i)
     * @param lda row stride of a_i as stored ([M, K] rows, or [K, M] with {@code transA})
     * @param ldb row stride of b_i as stored ([K, N], or [N, K] with {@code transB})
     * @param ldc row stride of c_i ([M, N])
     */
    public static void matmulAt(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a,
            long[] aOff, int lda, Tensor b, long[] bOff, int ldb, float beta, Tensor c, long[] cOff, int ldc) {
        BLAS.readLock().lock();
        try {
            matmulAtUnlocked(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        } finally {
            BLAS.readLock().unlock();
        }
    }

    /** {@link #matmulAt} without taking the product lock: for the bodies of {@link #singleThreaded}. */
    static void matmulAtUnlocked(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a,
            long[] aOff, int lda, Tensor b, long[] bOff, int ldb, float beta, Tensor c, long[] cOff, int ldc) {
        int count = aOff.length;
        if (bOff.length != count || cOff.length != count) {
            throw new IllegalArgumentException("matmulAt needs one offset per product in a, b and c, found "
                    + aOff.length + ", " + bOff.length + ", " + cOff.length);
        }
        if (m < 0 || n < 0 || k < 0) {
            throw new IllegalArgumentException("matmulAt sizes must not be negative, found " + m + "x" + n + "x" + k);
        }
        if (m == 0 || n == 0 || k == 0 || count == 0) {
            if (k == 0 && m > 0 && n > 0 && count > 0) {
                throw new IllegalArgumentException("matmulAt with k = 0 is not supported");
            }
            return;
        }
        for (int i = 0; i < count; i++) {
            checkSpan("a", a, aOff[i], transA ? k : m, transA ? m : k, lda, i);
            checkSpan("b", b, bOff[i], transB ? n : k, transB ? k : n, ldb, i);
            checkSpan("c", c, cOff[i], m, n, ldc, i);
        }
        a.checkLive();
        b.checkLive();
        c.checkLive();
        int ta = transA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
        int tb = transB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
        FloatPointer pa = new FloatPointer(a.buffer().addressPointer());
        FloatPointer pb = new FloatPointer(b.buffer().addressPointer());
        FloatPointer pc = new FloatPointer(c.buffer().addressPointer());
        for (int i = 0; i < count; i++) {
            pa.position(a.offset() + aOff[i]);
            pb.position(b.offset() + bOff[i]);
            pc.position(c.offset() + cOff[i]);
            openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, ta, tb, m, n, k, alpha, pa, lda, pb, ldb,
                    beta, pc, ldc);
        }
    }

    /** Checks that a [rows, cols] matrix with row stride ld at offset off lies inside t. */
    private static void checkSpan(String name, Tensor t, long off, int rows, int cols, int ld, int i) {
        if (ld < cols || off < 0 || off + (long) (rows - 1) * ld + cols > t.size()) {
            throw new IllegalArgumentException("matmulAt operand " + name + " matrix " + i + " [" + rows + ", " + cols
                    + "] with row stride " + ld + " at offset " + off + " does not fit in " + t.shapeString());
        }
    }
}

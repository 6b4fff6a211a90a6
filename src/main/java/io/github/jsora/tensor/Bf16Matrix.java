package io.github.jsora.tensor;

import java.nio.ShortBuffer;

import org.bytedeco.javacpp.ShortPointer;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A row-major matrix [rows, cols] of bfloat16 values laid in the native memory of a float32 {@link Tensor} (two values
 * a float, from a float offset), such as a workspace scratch. It is the operand and the result of
 * {@link Bf16Gemm#product}, so that activations can stay in bf16 between two native products instead of being widened
 * to float32 and rounded again (for example the MLP's hidden layer, {@link #transformRows}).
 *
 * <p>Not owning: the values live as long as the tensor does, and every method checks that it is not closed.
 * Rounding to bf16 is to nearest, ties to even, as the native products' own casts round.
 */
public final class Bf16Matrix {

    private static final ThreadLocal<short[]> ROW_BITS = new ThreadLocal<>();
    private static final Scratch ROW_FLOATS = new Scratch(1);   // the widened row of transformRows

    private final Tensor memory;
    private final long floatOffset;
    private final int rows;
    private final int cols;
    private ShortBuffer window;

    private Bf16Matrix(Tensor memory, long floatOffset, int rows, int cols) {
        this.memory = memory;
        this.floatOffset = floatOffset;
        this.rows = rows;
        this.cols = cols;
    }

    /**
     * The bf16 matrix [rows, cols] at float {@code floatOffset} of {@code memory}.
     *
     * @throws IllegalArgumentException if it does not fit the tensor, or holds more than 2³¹ − 1 values
     */
    public static Bf16Matrix in(Tensor memory, long floatOffset, int rows, int cols) {
        if (rows < 0 || cols < 0 || floatOffset < 0) {
            throw new IllegalArgumentException("bf16 matrix [" + rows + ", " + cols + "] at float " + floatOffset
                    + ": negative size or offset");
        }
        long values = (long) rows * cols;
        if (values > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bf16 matrix [" + rows + ", " + cols + "] holds more than 2^31 - 1 "
                    + "values");
        }
        if (floatOffset + floats(rows, cols) > memory.size()) {
            throw new IllegalArgumentException("bf16 matrix [" + rows + ", " + cols + "] at float " + floatOffset
                    + " needs " + floats(rows, cols) + " floats, past the end of " + memory);
        }
        return new Bf16Matrix(memory, floatOffset, rows, cols);
    }

    /** Floats a bf16 matrix [rows, cols] takes (two values a float, rounded up). */
    public static long floats(int rows, int cols) {
        return ((long) rows * cols + 1) / 2;
    }

    /** Rows. */
    public int rows() {
        return rows;
    }

    /** Values a row. */
    public int cols() {
        return cols;
    }

    /** this = bf16(src), src [rows, cols] float32 (any shape of rows·cols elements whose last dimension is cols). */
    public void roundFrom(Tensor src) {
        requireSameSize("round from", src);
        src.checkLive();
        nd4j().assign(src.nd4j().reshape(rows, cols));
    }

    /** dst = this widened to float32 (exact), dst [rows, cols] float32 (any shape of rows·cols, last dimension cols). */
    public void widenInto(Tensor dst) {
        requireSameSize("widen into", dst);
        dst.checkLive();
        dst.nd4j().reshape(rows, cols).assign(nd4j());
    }

    /** A function applied to rows widened to float32. */
    @FunctionalInterface
    public interface RowTransform {
        /**
         * Changes {@code row[0 .. cols)} in place.
         *
         * @param r   the row's index
         * @param row the row, widened to float32 (the array may be longer than cols)
         */
        void apply(int r, float[] row);
    }

    /**
     * Replaces every row by {@code bf16(f(widen(row)))}, rows spread over the compute threads ({@link Parallel}).
     * One pass over the bf16 values: a widening, {@code f}, and the rounding all happen on a row in the core's cache.
     *
     * @param workPerValue rough scalar operations {@code f} spends a value (to keep small matrices on one thread)
     */
    public void transformRows(RowTransform f, long workPerValue) {
        memory.checkLive();
        ShortBuffer all = window();
        Parallel.forRange(rows, (long) cols * Math.max(1, workPerValue + 2), (from, to) -> {
            short[] bits = rowBits(cols);
            float[] row = ROW_FLOATS.get(0, cols);
            for (int r = from; r < to; r++) {
                int o = r * cols;
                all.get(o, bits, 0, cols);
                widen(bits, row, cols);
                f.apply(r, row);
                round(row, bits, cols);
                all.put(o, bits, 0, cols);
            }
        });
    }

    /** Reads row {@code r} widened to float32 into {@code dst[0 .. cols)}. */
    public void readRow(int r, float[] dst) {
        readRows(r, 1, dst, 0);
    }

    /** Reads rows [r0, r0 + count) widened to float32 into {@code dst[dstOff ..]}, row after row. */
    public void readRows(int r0, int count, float[] dst, int dstOff) {
        if (r0 < 0 || count < 0 || r0 + count > rows) {
            throw new IndexOutOfBoundsException("rows " + r0 + " to " + (r0 + count) + " of a bf16 matrix [" + rows
                    + ", " + cols + "]");
        }
        int n = count * cols;
        if (dstOff < 0 || dst.length - dstOff < n) {
            throw new IllegalArgumentException(count + " rows of " + cols + " values do not fit an array of "
                    + dst.length + " from " + dstOff);
        }
        short[] bits = rowBits(n);
        window().get(r0 * cols, bits, 0, n);
        widen(bits, 0, dst, dstOff, n);
    }

    /** Writes {@code bf16(src[0 .. cols))} as row {@code r}. */
    public void writeRow(int r, float[] src) {
        checkRow(r, src.length);
        short[] bits = rowBits(cols);
        round(src, bits, cols);
        window().put(r * cols, bits, 0, cols);
    }

    /** f[i] = the float32 value of bf16 bits s[i], i &lt; n (exact). */
    static void widen(short[] s, float[] f, int n) {
        widen(s, 0, f, 0, n);
    }

    /** f[fOff + i] = the float32 value of bf16 bits s[sOff + i], i &lt; n (exact; in SIMD registers where on). */
    static void widen(short[] s, int sOff, float[] f, int fOff, int n) {
        int i = ExactExp.vectorised() ? VectorFloat.widenBf16(s, sOff, f, fOff, n) : 0;
        for (; i < n; i++) {
            f[fOff + i] = Float.intBitsToFloat(s[sOff + i] << 16);
        }
    }

    /**
     * s[i] = bf16 bits of f[i], i &lt; n: to nearest, ties to even; a NaN stays a quiet NaN. Scalar on purpose: a
     * Vector API version (the int-to-short {@code convertShape}) made the MLP's bf16 pass faster, but once it had run,
     * C2 compiled {@link VectorFloat#rmsNormHeads} (its float-to-double {@code convertShape}) with boxed vectors: 5.6
     * bytes of garbage an element in {@code SimdAllocationTest} after {@code Stdit3Bf16GoldenTest} in one JVM. The
     * short-to-int widening does not do that.
     */
    static void round(float[] f, short[] s, int n) {
        for (int i = 0; i < n; i++) {
            s[i] = PackedWeight.bf16Bits(f[i]);
        }
    }

    /** Native address of the first value. */
    long address() {
        memory.checkLive();
        return memory.address() + floatOffset * Float.BYTES;
    }

    /** Whether the two matrices share a byte of native memory. */
    boolean overlaps(Bf16Matrix o) {
        long a0 = address();
        long a1 = a0 + (long) rows * cols * 2;
        long b0 = o.address();
        long b1 = b0 + (long) o.rows * o.cols * 2;
        return a0 < b1 && b0 < a1;
    }

    /** This matrix as a C-order BFLOAT16 ND4J array on the tensor's memory (not owned). */
    INDArray nd4j() {
        return Bf16Gemm.bf16View(address(), rows, cols);
    }

    private ShortBuffer window() {
        memory.checkLive();
        ShortBuffer w = window;
        if (w == null) {
            long n = (long) rows * cols;
            long address = memory.address() + floatOffset * Float.BYTES;
            w = new ShortPointer(new PagedPointer(address)).capacity(n).limit(n).asBuffer();
            window = w;
        }
        return w;
    }

    private void requireSameSize(String what, Tensor t) {
        if (t.size() != (long) rows * cols || (t.rank() > 0 && t.dim(-1) != cols)) {
            throw new IllegalArgumentException("bf16 matrix [" + rows + ", " + cols + "]: cannot " + what + " "
                    + t + " (needs " + rows + "·" + cols + " elements, rows of " + cols + ")");
        }
    }

    private void checkRow(int r, int length) {
        if (r < 0 || r >= rows) {
            throw new IndexOutOfBoundsException("row " + r + " of a bf16 matrix [" + rows + ", " + cols + "]");
        }
        if (length < cols) {
            throw new IllegalArgumentException("a row of " + cols + " values does not fit an array of " + length);
        }
    }

    private static short[] rowBits(int n) {
        short[] b = ROW_BITS.get();
        if (b == null || b.length < n) {
            b = new short[n];
            ROW_BITS.set(b);
        }
        return b;
    }

    @Override
    public String toString() {
        return "Bf16Matrix[" + rows + ", " + cols + "]";
    }
}

package io.github.jsora.tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.memory.pointers.PagedPointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A weight kept in a smaller form than float32, in native memory: bfloat16 (2 bytes an element) or int8 with one
 * float32 scale per row (1 byte an element plus 4 bytes a row). A <em>row</em> is an index of dimension 0; its
 * elements are the following {@link #rowLength()} values in row-major order, so a linear weight
 * {@code [out, in]} has one scale per output channel and a convolution {@code [out, in, kt, kh, kw]} likewise.
 *
 * <p>The packed weight is not used by the kernels directly: {@link #expandInto} produces the float32 tensor they
 * read (bulk, parallel over rows), and the packed copy is what stays resident.
 *
 * <h2>Rounding</h2>
 * <ul>
 * <li>BF16: round to nearest, ties to even, as PyTorch's {@code tensor.to(torch.bfloat16)} ({@code NaN} stays
 * {@code NaN}). Expanding gives the bfloat16 value exactly.</li>
 * <li>INT8 (symmetric, weight-only): {@code scale = max|row| / 127}, {@code q = rint(w / scale)} clamped to
 * [−127, 127]; a row of zeros has scale 0 and expands to zeros. Expanding gives {@code q · scale} in float32.</li>
 * </ul>
 * {@link #roundInPlace} applies the same rounding to a float32 tensor, bit for bit what packing and expanding
 * would give, for weights that are used without being kept packed.
 *
 * <p>Memory is counted in {@link NativeMemory} from allocation until {@link #close()}, which frees it at once.
 * Concurrent reads (expansions) are safe; writes to one row range must not overlap reads or writes of it.
 */
public final class PackedWeight implements AutoCloseable {

    /** Storage form of a packed weight. */
    public enum Format {
        /** bfloat16, 2 bytes an element. */
        BF16(2),
        /** int8, 1 byte an element, plus one float32 scale a row. */
        INT8(1);

        private final int elementBytes;

        Format(int elementBytes) {
            this.elementBytes = elementBytes;
        }

        /** Bytes an element takes (scales not included). */
        public int elementBytes() {
            return elementBytes;
        }

        /** Native bytes a weight of {@code shape} takes in this format (scales included). */
        public long bytes(int... shape) {
            long n = Tensor.elementCount(shape);
            return n * elementBytes + (this == INT8 ? (long) rows(shape) * Float.BYTES : 0);
        }
    }

    /** Elements converted per step of a loop (one heap buffer of this size per thread). */
    private static final int CHUNK = 1 << 16;

    private final Format format;
    private final int[] shape;
    private final int rows;
    private final int rowLength;
    private final long elements;
    private final BytePointer data;    // elements × format.elementBytes, in dataMemory
    private final FloatPointer scales; // INT8: rows floats in scaleMemory; BF16: null
    private final Tensor dataMemory;   // the bytes live in tensor memory: the arena's slabs, counted there
    private final Tensor scaleMemory;
    private final long bytes;
    private volatile boolean closed;
    private volatile INDArray bf16Matrix; // lazily made view of data, BF16 only

    private PackedWeight(Format format, int[] shape) {
        this.format = format;
        this.shape = shape.clone();
        this.elements = Tensor.elementCount(shape);
        if (shape.length < 2 || elements == 0) {
            throw new IllegalArgumentException("a packed weight needs rank >= 2 and at least one element, found "
                    + "shape " + Arrays.toString(shape));
        }
        this.rows = shape[0];
        long rl = elements / rows;
        if (rl > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("rows of " + rl + " elements are too long to pack (shape "
                    + Arrays.toString(shape) + ")");
        }
        this.rowLength = (int) rl;
        this.bytes = format.bytes(shape);
        // Allocated as (zeroed) float tensors so that the memory comes from NativeArena like every tensor's:
        // counted, and unmapped when freed instead of fragmenting the C heap.
        long dataBytes = elements * format.elementBytes;
        Tensor d = Tensor.zeros(Math.toIntExact((dataBytes + Float.BYTES - 1) / Float.BYTES));
        Tensor s = null;
        try {
            if (format == Format.INT8) {
                s = Tensor.zeros(rows);
            }
        } catch (RuntimeException | Error e) {
            d.close();
            throw e;
        }
        this.dataMemory = d;
        this.scaleMemory = s;
        this.data = new BytePointer(new PagedPointer(d.address())).capacity(dataBytes).limit(dataBytes);
        this.scales = s == null ? null
                : new FloatPointer(new PagedPointer(s.address())).capacity(rows).limit(rows);
    }

    /** Rows of a shape: its dimension 0. */
    private static int rows(int[] shape) {
        return shape.length == 0 ? 1 : shape[0];
    }

    // ------------------------------------------------------------------ construction

    /**
     * A zero-filled packed weight (INT8: every scale 0) to fill with {@link #writeRaw} and {@link #writeScales},
     * e.g. from stored bfloat16 or int8 bytes.
     *
     * @throws IllegalArgumentException for rank &lt; 2 or no elements
     */
    public static PackedWeight allocate(Format format, int... shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        return new PackedWeight(format, shape);
    }

    /** Packs a float32 tensor of rank ≥ 2 (rounding as the class describes). */
    public static PackedWeight pack(Tensor src, Format format) {
        PackedWeight p = allocate(format, src.shape());
        try {
            int rowsPerChunk = Math.max(1, CHUNK / p.rowLength);
            int chunks = (p.rows + rowsPerChunk - 1) / rowsPerChunk;
            Parallel.forRange(chunks, (long) rowsPerChunk * p.rowLength, (from, to) -> {
                float[] f = new float[rowsPerChunk * p.rowLength];
                for (int c = from; c < to; c++) {
                    int r0 = c * rowsPerChunk;
                    int n = Math.min(rowsPerChunk, p.rows - r0);
                    src.read((long) r0 * p.rowLength, f, 0, n * p.rowLength);
                    p.packRows(r0, f, n);
                }
            });
        } catch (RuntimeException | Error e) {
            p.close();
            throw e;
        }
        return p;
    }

    /**
     * Packs {@code nRows} rows from {@code values} ({@code nRows × rowLength} floats, row-major) into rows
     * {@code row0 ..}: rounds to bfloat16, or quantises each row and sets its scale.
     */
    public void packRows(int row0, float[] values, int nRows) {
        checkRows(row0, nRows);
        if (values.length < (long) nRows * rowLength) {
            throw new IllegalArgumentException(nRows + " rows of " + rowLength + " need " + (long) nRows * rowLength
                    + " values, found " + values.length);
        }
        int len = nRows * rowLength;
        ByteBuffer out = view((long) row0 * rowLength * format.elementBytes, len * format.elementBytes);
        if (format == Format.BF16) {
            for (int i = 0; i < len; i++) {
                out.putShort(i * 2, bf16Bits(values[i]));
            }
            return;
        }
        ByteBuffer sc = scaleView(row0, nRows);
        for (int r = 0; r < nRows; r++) {
            int o = r * rowLength;
            float scale = rowScale(values, o, rowLength);
            sc.putFloat(r * Float.BYTES, scale);
            for (int i = 0; i < rowLength; i++) {
                out.put(o + i, quantize(values[o + i], scale));
            }
        }
    }

    /**
     * Copies stored bytes (little-endian bfloat16 bits, or int8 values) into the weight from element
     * {@code elementIndex} on; {@code src.remaining()} must be a whole number of elements. For INT8 set the
     * scales with {@link #writeScales}.
     */
    public void writeRaw(long elementIndex, ByteBuffer src) {
        checkLive();
        int n = src.remaining();
        if (n % format.elementBytes != 0) {
            throw new IllegalArgumentException(n + " bytes are not a whole number of " + format + " elements");
        }
        long count = n / format.elementBytes;
        if (elementIndex < 0 || elementIndex + count > elements) {
            throw new IndexOutOfBoundsException("elements [" + elementIndex + ", " + (elementIndex + count)
                    + ") of a packed weight of " + elements);
        }
        ByteBuffer dst = view(elementIndex * format.elementBytes, n);
        dst.put(src.duplicate().order(ByteOrder.LITTLE_ENDIAN));
        src.position(src.limit());
    }

    /** Sets the scales of rows {@code row0 .. row0 + len} (INT8 only). */
    public void writeScales(int row0, float[] values, int off, int len) {
        requireInt8();
        checkRows(row0, len);
        scaleView(row0, len).asFloatBuffer().put(values, off, len);
    }

    // ------------------------------------------------------------------ reading

    /** A new float32 tensor of the weight's shape with the expanded values. */
    public Tensor expand() {
        Tensor t = Tensor.zeros(shape);
        try {
            expandInto(t);
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** Writes the expanded float32 values into {@code dst} (same element count), in parallel over rows. */
    public void expandInto(Tensor dst) {
        checkLive();
        if (dst.size() != elements) {
            throw new IllegalArgumentException("cannot expand a packed weight " + Arrays.toString(shape) + " into "
                    + dst.shapeString());
        }
        int rowsPerChunk = Math.max(1, CHUNK / rowLength);
        int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        Parallel.forRange(chunks, (long) rowsPerChunk * rowLength, (from, to) -> {
            float[] f = new float[rowsPerChunk * rowLength];
            short[] s = format == Format.BF16 ? new short[f.length] : null;
            byte[] q = format == Format.INT8 ? new byte[f.length] : null;
            float[] sc = format == Format.INT8 ? new float[rowsPerChunk] : null;
            for (int c = from; c < to; c++) {
                int r0 = c * rowsPerChunk;
                int n = Math.min(rowsPerChunk, rows - r0);
                int len = n * rowLength;
                ByteBuffer in = view((long) r0 * rowLength * format.elementBytes, len * format.elementBytes);
                if (format == Format.BF16) {
                    in.asShortBuffer().get(s, 0, len);
                    for (int i = 0; i < len; i++) {
                        f[i] = Float.intBitsToFloat(s[i] << 16);
                    }
                } else {
                    in.get(q, 0, len);
                    scaleView(r0, n).asFloatBuffer().get(sc, 0, n);
                    for (int r = 0; r < n; r++) {
                        float scale = sc[r];
                        int o = r * rowLength;
                        for (int i = o; i < o + rowLength; i++) {
                            f[i] = q[i] * scale;
                        }
                    }
                }
                dst.write((long) r0 * rowLength, f, 0, len);
            }
        });
    }

    /**
     * Copies stored bytes (little-endian bfloat16 bits or int8 values) from element {@code elementIndex} into
     * {@code dst} ({@code dst.remaining()} bytes, a whole number of elements).
     */
    public void readRaw(long elementIndex, ByteBuffer dst) {
        checkLive();
        int n = dst.remaining();
        long count = n / format.elementBytes;
        if (n % format.elementBytes != 0 || elementIndex < 0 || elementIndex + count > elements) {
            throw new IndexOutOfBoundsException(n + " bytes at element " + elementIndex + " of a packed weight of "
                    + elements + " " + format + " elements");
        }
        dst.put(view(elementIndex * format.elementBytes, n));
    }

    /** The scales of all rows (INT8 only), a new array. */
    public float[] scales() {
        requireInt8();
        checkLive();
        float[] s = new float[rows];
        scaleView(0, rows).asFloatBuffer().get(s);
        return s;
    }

    // ------------------------------------------------------------------ rounding without packing

    /**
     * Replaces every element of a float32 tensor of rank ≥ 2 by the value packing it in {@code format} and
     * expanding would give (bit-identical), without keeping a packed copy.
     */
    public static void roundInPlace(Tensor t, Format format) {
        int[] shape = t.shape();
        if (shape.length < 2 || t.size() == 0) {
            throw new IllegalArgumentException("rounding as a packed weight needs rank >= 2 and at least one "
                    + "element, found shape " + Arrays.toString(shape));
        }
        int rows = shape[0];
        long rl = t.size() / rows;
        if (rl > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("rows of " + rl + " elements are too long (shape "
                    + Arrays.toString(shape) + ")");
        }
        int rowLength = (int) rl;
        int rowsPerChunk = Math.max(1, CHUNK / rowLength);
        int chunks = (rows + rowsPerChunk - 1) / rowsPerChunk;
        Parallel.forRange(chunks, (long) rowsPerChunk * rowLength, (from, to) -> {
            float[] f = new float[rowsPerChunk * rowLength];
            for (int c = from; c < to; c++) {
                int r0 = c * rowsPerChunk;
                int n = Math.min(rowsPerChunk, rows - r0);
                int len = n * rowLength;
                t.read((long) r0 * rowLength, f, 0, len);
                for (int r = 0; r < n; r++) {
                    int o = r * rowLength;
                    if (format == Format.BF16) {
                        for (int i = o; i < o + rowLength; i++) {
                            f[i] = Float.intBitsToFloat(bf16Bits(f[i]) << 16);
                        }
                    } else {
                        float scale = rowScale(f, o, rowLength);
                        for (int i = o; i < o + rowLength; i++) {
                            f[i] = quantize(f[i], scale) * scale;
                        }
                    }
                }
                t.write((long) r0 * rowLength, f, 0, len);
            }
        });
    }

    /** float to bfloat16 bits: round to nearest, ties to even; NaN stays a (quiet) NaN. */
    static short bf16Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    /** max|row| / 127 over {@code values[off .. off + len]}. */
    static float rowScale(float[] values, int off, int len) {
        float m = 0f;
        for (int i = off; i < off + len; i++) {
            m = Math.max(m, Math.abs(values[i]));
        }
        return m / 127f;
    }

    /** rint(w / scale) clamped to [−127, 127]; 0 for scale 0. */
    static byte quantize(float w, float scale) {
        if (scale == 0f) {
            return 0;
        }
        float q = (float) Math.rint(w / scale);
        return (byte) Math.max(-127f, Math.min(127f, q));
    }

    // ------------------------------------------------------------------ properties

    public Format format() {
        return format;
    }

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    /** Rows: dimension 0. */
    public int rows() {
        return rows;
    }

    /** Elements a row. */
    public int rowLength() {
        return rowLength;
    }

    /** Number of elements. */
    public long size() {
        return elements;
    }

    /** Native bytes held (data plus scales). */
    public long bytes() {
        return bytes;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Frees the native memory. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        dataMemory.close();
        if (scaleMemory != null) {
            scaleMemory.close();
        }
    }

    @Override
    public String toString() {
        return "PackedWeight[" + format + " " + Arrays.toString(shape) + "]";
    }

    /**
     * The bfloat16 data as a C-order ND4J {@code BFLOAT16} array {@code [rows, rowLength]} sharing this weight's
     * memory (valid until {@link #close()}), for native bf16 products. BF16 only.
     */
    /** Native address of the bf16 values [rows, rowLength] (valid until {@link #close()}). BF16 only. */
    long bf16Address() {
        checkLive();
        if (format != Format.BF16) {
            throw new IllegalStateException("a " + format + " weight has no bfloat16 matrix");
        }
        return dataMemory.address();
    }

    INDArray bf16Matrix() {
        checkLive();
        if (format != Format.BF16) {
            throw new IllegalStateException("a " + format + " weight has no bfloat16 matrix");
        }
        INDArray m = bf16Matrix;
        if (m == null) {
            m = Bf16Gemm.bf16View(dataMemory.address(), rows, rowLength);
            bf16Matrix = m;
        }
        return m;
    }

    // ------------------------------------------------------------------ internals

    private void checkLive() {
        if (closed) {
            throw new IllegalStateException("packed weight " + Arrays.toString(shape) + " is closed");
        }
    }

    private void requireInt8() {
        if (format != Format.INT8) {
            throw new IllegalStateException("a " + format + " weight has no scales");
        }
    }

    private void checkRows(int row0, int n) {
        checkLive();
        if (row0 < 0 || n < 0 || (long) row0 + n > rows) {
            throw new IndexOutOfBoundsException("rows [" + row0 + ", " + ((long) row0 + n) + ") of a packed weight "
                    + "with " + rows + " rows");
        }
    }

    /**
     * A little-endian view of {@code len} data bytes from byte {@code off}; its index 0 is byte {@code off}
     * (JavaCPP's buffer starts at the pointer's address with the position set to {@code off}, hence the slice:
     * without it absolute puts landed in the first chunk).
     */
    private ByteBuffer view(long off, int len) {
        BytePointer p = new BytePointer(data);
        p.position(off).limit(off + len).capacity(off + len);
        return p.asByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A little-endian view of the scales of rows {@code row0 .. row0 + n}. */
    private ByteBuffer scaleView(int row0, int n) {
        BytePointer p = new BytePointer(scales);
        long off = (long) row0 * Float.BYTES;
        long end = off + (long) n * Float.BYTES;
        p.position(off).limit(end).capacity(end);
        return p.asByteBuffer().slice().order(ByteOrder.LITTLE_ENDIAN);
    }
}

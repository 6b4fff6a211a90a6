package io.github.jsora.tensor;

import java.nio.FloatBuffer;
import java.util.Arrays;

import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A dense float32 tensor: a shape and a contiguous row-major (C order) run of elements in native memory.
 *
 * <p>The storage is an ND4J buffer, so matrix products and convolutions ({@link Gemm}, {@link Conv}) run on it
 * without copies, while the project's own Java kernels ({@link Ops}) read and write it through bulk NIO copies.
 * Element counts and offsets are {@code long}: one activation of a video model can pass 2<sup>31</sup> elements.
 *
 * <p>A tensor either owns its buffer or is a <em>view</em> of another tensor's buffer (a contiguous sub-range with
 * its own shape, made by {@link #reshape}, {@link #slice} or {@link #view}). Views are cheap and share memory with
 * their parent; closing a view does nothing, closing the owner frees the native memory of all its views.
 *
 * <p>Not thread-safe for concurrent writes to overlapping ranges; concurrent reads and writes to disjoint ranges
 * (what the parallel kernels do) are safe.
 */
public final class Tensor implements AutoCloseable {

    static {
        NativeMemory.init(); // before ND4J loads: JavaCPP reads its limits once
    }

    /** Native memory shared by a tensor and all its views: an allocation of {@link NativeArena}. */
    private static final class Storage {
        final NativeArena.Allocation memory;
        final INDArray array;
        volatile boolean closed;

        Storage(NativeArena.Allocation memory) {
            this.memory = memory;
            this.array = memory.array();
        }
    }

    private final Storage storage;
    private final DataBuffer buffer;   // storage.array.data()
    private final boolean owner;       // true for the tensor that allocated the storage
    private final long offset;         // element offset of element 0 in buffer
    private final int[] shape;
    private final long size;
    private FloatBuffer window;        // cached NIO view for tensors that fit an int index

    private Tensor(Storage storage, boolean owner, long offset, int[] shape) {
        this.storage = storage;
        this.buffer = storage.array.data();
        this.owner = owner;
        this.offset = offset;
        this.shape = shape;
        this.size = elementCount(shape);
    }

    // ------------------------------------------------------------------ construction

    /**
     * A new zero-filled tensor of the given shape, owning its native memory.
     *
     * @param shape the dimensions, for example [B, C, T, H, W]; none may be negative, and no dimensions means a scalar
     * @return the new tensor; the caller closes it
     * @throws IllegalArgumentException if a dimension is negative
     * @throws MemoryBudgetExceededException if the allocation would pass the native memory limit
     */
    public static Tensor zeros(int... shape) {
        int[] s = checkShape(shape);
        long n = Math.max(elementCount(s), 1);
        NativeArena.Allocation a = NativeArena.allocate(n, s);
        return new Tensor(new Storage(a), true, a.offset(), s);
    }

    /**
     * A new tensor holding a copy of {@code data}, which must have exactly as many elements as the shape.
     *
     * @param data the elements in row-major (C) order
     * @param shape the dimensions; their product must equal {@code data.length}
     * @return the new tensor; the caller closes it
     * @throws IllegalArgumentException if a dimension is negative or the element counts differ
     * @throws MemoryBudgetExceededException if the allocation would pass the native memory limit
     */
    public static Tensor of(float[] data, int... shape) {
        int[] s = checkShape(shape);
        if (elementCount(s) != data.length) {
            throw new IllegalArgumentException("data has " + data.length + " elements, shape " + Arrays.toString(s)
                    + " needs " + elementCount(s));
        }
        Tensor t = zeros(s);
        t.write(0, data, 0, data.length);
        return t;
    }

    /**
     * A new tensor with the same shape and contents as this one (always owning, even when this is a view).
     *
     * @return the copy; the caller closes it
     * @throws MemoryBudgetExceededException if the allocation would pass the native memory limit
     */
    public Tensor copy() {
        Tensor t = zeros(shape);
        t.copyFrom(this);
        return t;
    }

    private static int[] checkShape(int[] shape) {
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        return shape.clone();
    }

    static long elementCount(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    // ------------------------------------------------------------------ shape

    /**
     * A copy of the shape.
     *
     * @return the dimensions, outermost first; changing the array does not change the tensor
     */
    public int[] shape() {
        return shape.clone();
    }

    /**
     * Size of dimension {@code i}; negative {@code i} counts from the end.
     *
     * @param i the dimension, from 0 to rank - 1, or from -rank to -1 counting from the end ({@code -1} is the last)
     * @return the size of that dimension
     * @throws ArrayIndexOutOfBoundsException if {@code i} is outside [-rank, rank)
     */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /**
     * The number of dimensions (0 for a scalar, 5 for a video latent [B, C, T, H, W]).
     *
     * @return the length of the shape
     */
    public int rank() {
        return shape.length;
    }

    /**
     * Number of elements.
     *
     * @return the product of the dimensions (1 for a scalar)
     */
    public long size() {
        return size;
    }

    /**
     * Whether the shape equals {@code expected}.
     *
     * @param expected the dimensions to compare with
     * @return true if rank and every dimension match
     */
    public boolean hasShape(int... expected) {
        return Arrays.equals(shape, expected);
    }

    /**
     * Checks the shape: throws unless it equals {@code expected}.
     *
     * @param what the name of this tensor in the error message
     * @param expected the required dimensions
     * @return this tensor, for chaining
     * @throws IllegalArgumentException naming {@code what} and both shapes if the shape differs
     */
    public Tensor requireShape(String what, int... expected) {
        if (!hasShape(expected)) {
            throw new IllegalArgumentException(what + ": expected shape " + Arrays.toString(expected) + ", found "
                    + Arrays.toString(shape));
        }
        return this;
    }

    /**
     * The shape as text, for messages.
     *
     * @return the dimensions in the form {@code [2, 4, 8]}
     */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    // ------------------------------------------------------------------ views

    /**
     * A view with a new shape of the same element count (no copy). A dimension of -1 is inferred.
     *
     * @param newShape the new dimensions; at most one may be -1, which takes the size that makes the counts match
     * @return a view sharing this tensor's memory
     * @throws IllegalArgumentException if the element counts cannot match, or more than one dimension is -1
     */
    public Tensor reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("more than one -1 in reshape " + Arrays.toString(newShape));
                }
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || size % known != 0) {
                throw new IllegalArgumentException("cannot reshape " + shapeString() + " to " + Arrays.toString(newShape));
            }
            s[infer] = Math.toIntExact(size / known);
        }
        if (elementCount(checkShape(s)) != size) {
            throw new IllegalArgumentException("cannot reshape " + shapeString() + " (" + size + " elements) to "
                    + Arrays.toString(newShape));
        }
        return new Tensor(storage, false, offset, s);
    }

    /**
     * The sub-tensor at index {@code i} of dimension 0: a view of rank one less, without dimension 0.
     *
     * @param i the index along dimension 0, from 0 to {@code dim(0) - 1}
     * @return a view sharing this tensor's memory; for a [B, C, T, H, W] tensor, the [C, T, H, W] sample {@code i}
     * @throws IndexOutOfBoundsException if {@code i} is out of range or the tensor is a scalar
     */
    public Tensor slice(int i) {
        return slice(i, i + 1).reshape(Arrays.copyOfRange(shape, 1, shape.length));
    }

    /**
     * The sub-tensor of indices [from, to) along dimension 0 (a view of the same rank).
     *
     * @param from the first index along dimension 0, inclusive
     * @param to the end index along dimension 0, exclusive
     * @return a view sharing this tensor's memory, whose dimension 0 is {@code to - from}
     * @throws IndexOutOfBoundsException unless {@code 0 <= from <= to <= dim(0)}, or if the tensor is a scalar
     */
    public Tensor slice(int from, int to) {
        if (shape.length == 0 || from < 0 || to > shape[0] || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of shape " + shapeString());
        }
        long inner = shape[0] == 0 ? 0 : size / shape[0];
        int[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(storage, false, offset + from * inner, s);
    }

    /**
     * A view of shape {@code viewShape} starting {@code elementOffset} elements into this tensor.
     *
     * @param elementOffset the flat (row-major) index in this tensor of the view's first element
     * @param viewShape the view's dimensions; the view must lie inside this tensor
     * @return a view sharing this tensor's memory
     * @throws IllegalArgumentException if a dimension is negative
     * @throws IndexOutOfBoundsException if the view would reach outside this tensor
     */
    public Tensor view(long elementOffset, int... viewShape) {
        int[] s = checkShape(viewShape);
        long n = elementCount(s);
        if (elementOffset < 0 || elementOffset + n > size) {
            throw new IndexOutOfBoundsException("view of " + n + " elements at " + elementOffset + " in a tensor of "
                    + size);
        }
        return new Tensor(storage, false, offset + elementOffset, s);
    }

    // ------------------------------------------------------------------ element access

    /**
     * Element at a flat (row-major) index. Slow path: for tests and small bookkeeping, not for kernels.
     *
     * @param index the flat index, from 0 to {@code size() - 1}
     * @return the element
     * @throws IndexOutOfBoundsException if the index is out of range
     * @throws IllegalStateException if the tensor is closed
     */
    public float get(long index) {
        checkIndex(index, 1);
        return buffer.getFloat(offset + index);
    }

    /**
     * Element at a multi-index. Slow path, like {@link #get(long)}.
     *
     * @param idx one index per dimension, each from 0 to that dimension's size - 1
     * @return the element
     * @throws IllegalArgumentException if the number of indices is not the rank
     * @throws IndexOutOfBoundsException if an index is out of range
     * @throws IllegalStateException if the tensor is closed
     */
    public float get(int... idx) {
        return get(flatIndex(idx));
    }

    /**
     * Sets the element at a flat (row-major) index. Slow path, like {@link #get(long)}.
     *
     * @param index the flat index, from 0 to {@code size() - 1}
     * @param value the new element
     * @throws IndexOutOfBoundsException if the index is out of range
     * @throws IllegalStateException if the tensor is closed
     */
    public void set(long index, float value) {
        checkIndex(index, 1);
        buffer.put(offset + index, value);
    }

    /**
     * The flat (row-major) index of a multi-index.
     *
     * @param idx one index per dimension, each from 0 to that dimension's size - 1
     * @return the position of that element in row-major order
     * @throws IllegalArgumentException if the number of indices is not the rank
     * @throws IndexOutOfBoundsException if an index is out of range
     */
    public long flatIndex(int... idx) {
        if (idx.length != shape.length) {
            throw new IllegalArgumentException("index of rank " + idx.length + " for shape " + shapeString());
        }
        long f = 0;
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " for shape " + shapeString());
            }
            f = f * shape[i] + idx[i];
        }
        return f;
    }

    /**
     * Copies {@code len} elements starting at flat index {@code index} into {@code dst[dstOff..]}.
     *
     * @param index the flat (row-major) index of the first element to read
     * @param dst the array to copy into
     * @param dstOff the position in {@code dst} of the first element copied
     * @param len the number of elements to copy
     * @throws IndexOutOfBoundsException if the range lies outside this tensor or outside {@code dst}
     * @throws IllegalStateException if the tensor is closed
     */
    public void read(long index, float[] dst, int dstOff, int len) {
        checkIndex(index, len);
        if (len == 0) {
            return;
        }
        FloatBuffer w = window();
        if (w != null) {
            w.get((int) index, dst, dstOff, len);
        } else {
            farWindow(index, len).get(0, dst, dstOff, len);
        }
    }

    /**
     * Copies {@code len} elements of {@code src[srcOff..]} to this tensor from flat index {@code index} on.
     *
     * @param index the flat (row-major) index of the first element to write
     * @param src the array to copy from
     * @param srcOff the position in {@code src} of the first element copied
     * @param len the number of elements to copy
     * @throws IndexOutOfBoundsException if the range lies outside this tensor or outside {@code src}
     * @throws IllegalStateException if the tensor is closed
     */
    public void write(long index, float[] src, int srcOff, int len) {
        checkIndex(index, len);
        if (len == 0) {
            return;
        }
        FloatBuffer w = window();
        if (w != null) {
            w.put((int) index, src, srcOff, len);
        } else {
            farWindow(index, len).put(0, src, srcOff, len);
        }
    }

    /**
     * All elements as a new heap array (for tests and small tensors).
     *
     * @return the elements in row-major order
     * @throws ArithmeticException if the tensor has more than {@link Integer#MAX_VALUE} elements
     * @throws IllegalStateException if the tensor is closed
     */
    public float[] toArray() {
        float[] a = new float[Math.toIntExact(size)];
        read(0, a, 0, a.length);
        return a;
    }

    /**
     * Copies all elements of {@code src} (same element count) into this tensor, in row-major order.
     *
     * @param src the tensor to copy from; its shape may differ, its element count may not
     * @throws IllegalArgumentException if the element counts differ
     * @throws IllegalStateException if either tensor is closed
     */
    public void copyFrom(Tensor src) {
        if (src.size != size) {
            throw new IllegalArgumentException("copy of " + src.shapeString() + " into " + shapeString());
        }
        float[] tmp = new float[(int) Math.min(size, 1 << 16)];
        for (long i = 0; i < size; i += tmp.length) {
            int n = (int) Math.min(tmp.length, size - i);
            src.read(i, tmp, 0, n);
            write(i, tmp, 0, n);
        }
    }

    /**
     * Sets every element to {@code value}.
     *
     * @param value the value written to every element
     * @throws IllegalStateException if the tensor is closed
     */
    public void fill(float value) {
        float[] tmp = new float[(int) Math.min(size, 1 << 16)];
        Arrays.fill(tmp, value);
        for (long i = 0; i < size; i += tmp.length) {
            int n = (int) Math.min(tmp.length, size - i);
            write(i, tmp, 0, n);
        }
    }

    /** Writes zeros to elements [offset, offset + n) of an array's buffer (for memory handed out again). */
    static void zeroRange(INDArray array, long offset, int n, float[] zeros) {
        FloatPointer p = new FloatPointer(array.data().addressPointer());
        p.position(offset).limit(offset + n).capacity(offset + n);
        FloatBuffer fb = p.asBuffer();
        for (int i = 0; i < n; i += zeros.length) {
            fb.put(zeros, 0, (int) Math.min(zeros.length, n - i));
        }
    }

    /** Throws when the storage was closed (before native code touches it). */
    void checkLive() {
        if (storage.closed) {
            throw new IllegalStateException("tensor " + shapeString() + " is closed");
        }
    }

    private void checkIndex(long index, int len) {
        if (storage.closed) {
            throw new IllegalStateException("tensor " + shapeString() + " is closed");
        }
        if (index < 0 || len < 0 || index + len > size) {
            throw new IndexOutOfBoundsException("range [" + index + ", " + (index + len) + ") of a tensor of " + size
                    + " elements " + shapeString());
        }
    }

    private FloatBuffer window() {
        FloatBuffer w = window;
        if (w == null && size <= Integer.MAX_VALUE) {
            w = farWindow(0, (int) size);
            window = w;
        }
        return w;
    }

    private FloatBuffer farWindow(long index, int len) {
        FloatPointer p = new FloatPointer(buffer.addressPointer());
        p.position(offset + index).limit(offset + index + len).capacity(offset + index + len);
        return p.asBuffer();
    }

    // ------------------------------------------------------------------ ND4J interop

    /**
     * This tensor as a C-order ND4J array sharing the same memory.
     *
     * @return an ND4J float array of this tensor's shape; writes to it change this tensor
     */
    public INDArray nd4j() {
        return nd4j(shape);
    }

    /**
     * This tensor's memory as a C-order ND4J array of another shape with the same element count.
     *
     * @param asShape the dimensions of the array; their product must equal {@link #size()}
     * @return an ND4J float array sharing this tensor's memory
     * @throws IllegalArgumentException if the element counts differ
     */
    public INDArray nd4j(int... asShape) {
        long[] ls = new long[asShape.length];
        for (int i = 0; i < ls.length; i++) {
            ls[i] = asShape[i];
        }
        if (elementCount(asShape) != size) {
            throw new IllegalArgumentException("cannot view " + shapeString() + " as " + Arrays.toString(asShape));
        }
        return Nd4j.create(buffer, ls, Nd4j.getStrides(ls, 'c'), offset, 'c', DataType.FLOAT);
    }

    /** ND4J buffer and element offset, for kernels that address memory directly. */
    DataBuffer buffer() {
        return buffer;
    }

    long offset() {
        return offset;
    }

    /** Address of element 0 in native memory. */
    long address() {
        return buffer.address() + offset * Float.BYTES;
    }

    /**
     * Native bytes owned by this tensor (0 for a view).
     *
     * @return the size in bytes of the allocation this tensor owns, or 0 for a view
     */
    public long ownedBytes() {
        return owner ? storage.memory.elements() * Float.BYTES : 0;
    }

    /**
     * Whether the owning tensor was closed; any element access then throws {@link IllegalStateException}.
     *
     * @return true once the memory shared by this tensor and its views is freed
     */
    public boolean isClosed() {
        return storage.closed;
    }

    /** Frees the native memory if this tensor owns it (its views become unusable). Views: no effect. */
    @Override
    public void close() {
        if (owner) {
            synchronized (storage) {
                if (storage.closed) {
                    return;
                }
                storage.closed = true;
            }
            window = null;
            NativeArena.free(storage.memory);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shapeString();
    }
}

package io.github.jsora.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where tensor memory comes from, so that memory jsora frees goes back to the operating system at once.
 *
 * <h2>Why not one native allocation per tensor</h2>
 * ND4J allocates through the C library's {@code malloc}. glibc serves requests below its mmap threshold from its
 * heap, and the threshold rises (up to 32 MiB) each time a mapped chunk is freed, so after the first freed
 * activation nearly every mid-size tensor lives in the heap. ND4J also leaves small native objects (buffer
 * descriptors, op argument arrays) to the garbage collector; sitting between the freed tensors they keep the heap
 * from shrinking. A VAE decode at 144p freed every tensor it allocated yet grew by ~250 MB a frame, 1.2 GB → 4.1 GB
 * over nine frames, until a collection happened to release the small objects (same run with
 * {@code MALLOC_MMAP_THRESHOLD_=65536}: flat at 1.15 GB).
 *
 * <h2>What this does instead</h2>
 * Tensors of {@value #MIN_SLAB_ELEMENTS} floats or more and below {@link #SLAB_BYTES} / 2 are carved out of
 * {@value #SLAB_MIB} MiB slabs (first fit, neighbours coalesced on free); larger tensors get an allocation of their
 * own. Both sizes are above glibc's largest mmap threshold, so every slab and every large tensor is a mapping of its
 * own, unmapped the moment it is freed. A slab is freed when its last tensor is closed; one empty slab is kept as a
 * spare so that a loop of allocations does not map and unmap a slab each time. Small tensors stay ordinary
 * allocations (they cannot fragment much).
 *
 * <p>Every mapping is counted in {@link NativeMemory} (slabs with their full size: the account is what the process
 * holds, fragmentation included) and is refused past its limit. Thread-safe.
 */
final class NativeArena {

    static final int SLAB_MIB = 64;
    static final long SLAB_BYTES = (long) SLAB_MIB << 20;
    private static final long SLAB_ELEMENTS = SLAB_BYTES / Float.BYTES;
    /** Smaller tensors are plain allocations (16 KiB). */
    static final long MIN_SLAB_ELEMENTS = 4096;
    /** Tensors start on 64-float (256-byte) boundaries within a slab. */
    private static final long ALIGN = 64;

    /** A tensor's memory: an ND4J array and the element range in it. */
    static final class Allocation {
        private final INDArray array;
        private final Slab slab;       // null: the array is this allocation's own
        private final long offset;     // first element in the array
        private final long elements;   // elements asked for
        private final long span;       // elements taken in the slab (aligned)

        Allocation(INDArray array, Slab slab, long offset, long elements, long span) {
            this.array = array;
            this.slab = slab;
            this.offset = offset;
            this.elements = elements;
            this.span = span;
        }

        INDArray array() {
            return array;
        }

        long offset() {
            return offset;
        }

        long elements() {
            return elements;
        }
    }

    /** A slab: free ranges by start element (start → length), coalesced. Guarded by the class lock. */
    private static final class Slab {
        final INDArray array;
        final TreeMap<Long, Long> free = new TreeMap<>();
        long used;

        Slab(INDArray array) {
            this.array = array;
            free.put(0L, SLAB_ELEMENTS);
        }
    }

    private static final List<Slab> SLABS = new ArrayList<>();
    private static Slab spare;

    private NativeArena() {
    }

    /** Zero-filled memory for {@code elements} floats (≥ 1) of a tensor of {@code shape} (for messages). */
    static Allocation allocate(long elements, int[] shape) {
        Allocation a = allocateMemory(elements, shape);
        NativeMemory.tensorAllocated(elements * Float.BYTES);
        return a;
    }

    private static Allocation allocateMemory(long elements, int[] shape) {
        long span = (elements + ALIGN - 1) / ALIGN * ALIGN;
        if (elements < MIN_SLAB_ELEMENTS || span > SLAB_ELEMENTS / 2) {
            long bytes = elements * Float.BYTES;
            NativeMemory.reserve(bytes, "a tensor " + Arrays.toString(shape));
            try {
                INDArray arr = Nd4j.create(DataType.FLOAT, new long[] {elements}, 'c');
                return new Allocation(arr, null, 0, elements, elements);
            } catch (RuntimeException | Error e) {
                NativeMemory.release(bytes);
                throw e;
            }
        }
        Allocation a;
        synchronized (NativeArena.class) {
            a = carve(span, elements, shape);
        }
        zero(a);
        return a;
    }

    private static Allocation carve(long span, long elements, int[] shape) {
        for (Slab s : SLABS) {
            Allocation a = take(s, span, elements);
            if (a != null) {
                return a;
            }
        }
        Slab s = spare;
        spare = null;
        if (s == null) {
            NativeMemory.reserve(SLAB_BYTES, "a " + SLAB_MIB + " MiB slab for a tensor " + Arrays.toString(shape));
            try {
                s = new Slab(Nd4j.create(DataType.FLOAT, new long[] {SLAB_ELEMENTS}, 'c'));
            } catch (RuntimeException | Error e) {
                NativeMemory.release(SLAB_BYTES);
                throw e;
            }
        }
        SLABS.add(s);
        return take(s, span, elements);
    }

    /** First fit in one slab, or null. */
    private static Allocation take(Slab s, long span, long elements) {
        for (var e : s.free.entrySet()) {
            long start = e.getKey();
            long len = e.getValue();
            if (len >= span) {
                s.free.remove(start);
                if (len > span) {
                    s.free.put(start + span, len - span);
                }
                s.used += span;
                return new Allocation(s.array, s, start, elements, span);
            }
        }
        return null;
    }

    /** Returns an allocation's memory (the caller frees each allocation once). */
    static void free(Allocation a) {
        NativeMemory.tensorFreed(a.elements * Float.BYTES);
        if (a.slab == null) {
            if (a.array.closeable()) {
                a.array.close();
            }
            NativeMemory.release(a.elements * Float.BYTES);
            return;
        }
        Slab toClose = null;
        synchronized (NativeArena.class) {
            Slab s = a.slab;
            long start = a.offset;
            long len = a.span;
            var below = s.free.floorEntry(start);
            if (below != null && below.getKey() + below.getValue() == start) {
                start = below.getKey();
                len += below.getValue();
                s.free.remove(below.getKey());
            }
            Long aboveLen = s.free.remove(a.offset + a.span);
            if (aboveLen != null) {
                len += aboveLen;
            }
            s.free.put(start, len);
            s.used -= a.span;
            if (s.used == 0) {
                SLABS.remove(s);
                if (spare == null) {
                    spare = s;
                } else {
                    toClose = s;
                }
            }
        }
        if (toClose != null) {
            toClose.array.close();
            NativeMemory.release(SLAB_BYTES);
        }
    }

    /** Frees the spare slab, if any (for a caller about to leave memory idle for long). */
    static void releaseSpare() {
        Slab s;
        synchronized (NativeArena.class) {
            s = spare;
            spare = null;
        }
        if (s != null) {
            s.array.close();
            NativeMemory.release(SLAB_BYTES);
        }
    }

    private static final float[] ZEROS = new float[1 << 14];

    private static void zero(Allocation a) {
        Tensor.zeroRange(a.array, a.offset, Math.toIntExact(a.elements), ZEROS);
    }
}

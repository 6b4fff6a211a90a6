package io.github.jsora.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.ResidentBlockSource.MaterialBlock;

/**
 * Reads the blocks of a checkpoint in a lighter {@link WeightPrecision}: packed for residency ({@link #pack}), or
 * as float32 with the precision's rounding applied ({@link #loadRounded}, for streamed blocks), the two giving the
 * same values bit for bit.
 *
 * <p>Tensors are read in chunks of whole rows from the stored bytes ({@link TensorBytes}), so packing a weight
 * never holds a float32 copy of it; stored bfloat16 kept as BF16, and the I8 weights of a {@link ConvertedCheckpoint}
 * kept as INT8, are copied without conversion. A checkpoint without stored bytes (another {@link Checkpoint}
 * kind) is read through {@link Checkpoint#loadInto}, one float32 tensor at a time outside any budget.
 *
 * <p>Calls may run concurrently (each uses its own buffers); {@link #close()} ends the reads.
 */
final class WeightLoader implements AutoCloseable {

    /** Bytes read per step. */
    private static final int CHUNK_BYTES = 1 << 20;

    private final Checkpoint ckpt;
    private final WeightPrecision precision;
    private final TensorBytes raw; // null: read with ckpt.loadInto

    WeightLoader(Checkpoint ckpt, WeightPrecision precision, boolean positionalReads) {
        if (precision == WeightPrecision.FLOAT32) {
            throw new IllegalArgumentException("float32 blocks are materialised directly, not by a weight loader");
        }
        this.ckpt = ckpt;
        this.precision = precision;
        this.raw = TensorBytes.of(ckpt, positionalReads);
    }

    /** Bytes a block occupies resident (packed weights plus float32 tensors). */
    static long residentBytes(BlockLayout.BlockSpec spec, WeightPrecision precision) {
        long b = 0;
        for (int[] s : spec.tensors().values()) {
            b += precision.residentBytes(s);
        }
        return b;
    }

    /** Bytes of a block's float32 form (a tensor allocates at least one element). */
    static long float32Bytes(BlockLayout.BlockSpec spec) {
        return residentBytes(spec, WeightPrecision.FLOAT32);
    }

    /** The block packed; {@code checkCancel} runs before each tensor and may throw to stop. */
    PackedBlock pack(BlockLayout.BlockSpec spec, Runnable checkCancel) {
        Map<String, Object> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                checkCancel.run();
                if (precision.packs(e.getValue())) {
                    m.put(e.getKey(), packTensor(e.getKey(), e.getValue()));
                } else {
                    m.put(e.getKey(), loadFloat(e.getKey(), e.getValue()));
                }
            }
        } catch (RuntimeException | Error e) {
            new PackedBlock(spec.name(), m).free();
            throw e;
        }
        return new PackedBlock(spec.name(), m);
    }

    /** The block as float32 with the precision's rounding applied to its weights of rank ≥ 2. */
    MaterialBlock loadRounded(BlockLayout.BlockSpec spec, Runnable checkCancel) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                checkCancel.run();
                m.put(e.getKey(), loadRounded(e.getKey(), e.getValue()));
            }
        } catch (RuntimeException | Error e) {
            m.values().forEach(Tensor::close);
            throw e;
        }
        return new MaterialBlock(spec.name(), m);
    }

    /**
     * The block in the form bf16 compute uses ({@link ComputeBlock}): the weights {@code products} names packed to
     * bfloat16, the others as {@link #loadRounded}; the same values bit for bit. BF16 only.
     */
    ComputeBlock loadCompute(BlockLayout.BlockSpec spec, Predicate<String> products, Runnable checkCancel) {
        if (precision != WeightPrecision.BF16) {
            throw new IllegalStateException("bf16 compute needs bf16 weights, found " + precision);
        }
        Map<String, Tensor> f = new LinkedHashMap<>();
        Map<String, PackedWeight> p = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                checkCancel.run();
                if (ComputeBlock.isPacked(e.getKey(), e.getValue(), products)) {
                    p.put(e.getKey(), packTensor(e.getKey(), e.getValue()));
                } else {
                    f.put(e.getKey(), loadRounded(e.getKey(), e.getValue()));
                }
            }
        } catch (RuntimeException | Error e) {
            new ComputeBlock(spec.name(), f, p).free();
            throw e;
        }
        return new ComputeBlock(spec.name(), f, p);
    }

    /** One tensor as float32 with the precision's rounding applied when it is of rank ≥ 2. */
    private Tensor loadRounded(String name, int[] shape) {
        Tensor t = loadFloat(name, shape);
        try {
            if (precision.packs(shape) && !storedInFormat(ckpt.info(name))) {
                PackedWeight.roundInPlace(t, precision.format());
            }
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** True when the stored values already are what the precision keeps (BF16 data, or a converted I8 weight). */
    private boolean storedInFormat(TensorInfo t) {
        return switch (precision) {
            case BF16 -> t.dtype() == DType.BF16;
            case INT8 -> t.dtype() == DType.I8;
            case FLOAT32 -> true;
        };
    }

    private PackedWeight packTensor(String name, int[] shape) {
        TensorInfo t = ckpt.info(name);
        PackedWeight.Format format = precision.format();
        if (raw == null) {
            try (Tensor tmp = Tensor.zeros(shape)) {
                ckpt.loadInto(name, tmp);
                return PackedWeight.pack(tmp, format);
            }
        }
        PackedWeight p = PackedWeight.allocate(format, shape);
        try {
            int rowLength = p.rowLength();
            if (storedInFormat(t)) {
                // bfloat16 bits or int8 values as stored
                long total = t.byteLength();
                ByteBuffer b = ByteBuffer.allocate((int) Math.min(total, CHUNK_BYTES)).order(ByteOrder.LITTLE_ENDIAN);
                int esz = t.dtype().bytes();
                for (long off = 0; off < total; off += b.capacity()) {
                    b.clear().limit((int) Math.min(b.capacity(), total - off));
                    raw.read(name, off, b);
                    b.flip();
                    p.writeRaw(off / esz, b);
                }
                if (format == PackedWeight.Format.INT8) {
                    float[] s = ((ConvertedCheckpoint) ckpt).scales(name);
                    p.writeScales(0, s, 0, s.length);
                }
            } else {
                int rowsPerChunk = Math.max(1, CHUNK_BYTES / (t.dtype().bytes() * rowLength));
                float[] f = new float[rowsPerChunk * rowLength];
                for (int r0 = 0; r0 < p.rows(); r0 += rowsPerChunk) {
                    int n = Math.min(rowsPerChunk, p.rows() - r0);
                    readFloats(t, (long) r0 * rowLength, f, n * rowLength, null);
                    p.packRows(r0, f, n);
                }
            }
        } catch (RuntimeException | Error e) {
            p.close();
            throw e;
        }
        return p;
    }

    /** A tensor as float32 (an int8 weight times its scales), as stored. */
    private Tensor loadFloat(String name, int[] shape) {
        Tensor dst = Tensor.zeros(shape);
        try {
            TensorInfo t = ckpt.info(name);
            if (raw == null || t.elements() == 0) {
                ckpt.loadInto(name, dst);
                return dst;
            }
            float[] scales = t.dtype() == DType.I8 ? ((ConvertedCheckpoint) ckpt).scales(name) : null;
            long n = t.elements();
            long rowLength = scales == null ? 1 : n / scales.length;
            long perChunk = Math.max(1, CHUNK_BYTES / t.dtype().bytes() / rowLength) * rowLength;
            float[] f = new float[(int) Math.min(n, perChunk)];
            for (long e0 = 0; e0 < n; e0 += f.length) {
                int len = (int) Math.min(f.length, n - e0);
                readFloats(t, e0, f, len, scales);
                dst.write(e0, f, 0, len);
            }
            return dst;
        } catch (RuntimeException | Error e) {
            dst.close();
            throw e;
        }
    }

    /**
     * Reads {@code len} elements from element {@code e0} of a stored tensor as floats; an I8 tensor is multiplied
     * by {@code scales} of its rows ({@code e0} and {@code len} are then whole rows).
     */
    private void readFloats(TensorInfo t, long e0, float[] f, int len, float[] scales) {
        int esz = t.dtype().bytes();
        ByteBuffer b = ByteBuffer.allocate(len * esz).order(ByteOrder.LITTLE_ENDIAN);
        raw.read(t.name(), e0 * esz, b);
        b.flip();
        if (t.dtype() == DType.I8) {
            if (scales == null) {
                throw new WeightFormatException(ckpt.source(), "I8 tensor \"" + t.name() + "\" has no scales");
            }
            int rowLength = Math.toIntExact(t.elements() / scales.length);
            for (int i = 0; i < len; i++) {
                f[i] = b.get(i) * scales[(int) ((e0 + i) / rowLength)];
            }
            return;
        }
        if (!t.dtype().isFloating()) {
            throw new WeightFormatException(ckpt.source(), "tensor \"" + t.name() + "\" is " + t.dtype()
                    + ", expected a floating type");
        }
        SafetensorsFile.convert(t.dtype(), b, f, len);
    }

    @Override
    public void close() {
        if (raw != null) {
            raw.close();
        }
    }
}

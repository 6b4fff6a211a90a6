package io.github.jsora.weights;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.github.jsora.tensor.Tensor;

/**
 * A checkpoint written by {@link WeightCache} in a lighter precision, read back as a {@link Checkpoint}: the same
 * tensor names and shapes as the original, with weights of rank ≥ 2 stored as BF16, or as I8 with their row
 * scales. {@link #load}/{@link #loadInto} give float32 values (bfloat16 widened, int8 times its row's scale), so
 * any model loads from it; a {@link BlockStore} or {@link ResidentBlockSource} of the file's precision keeps the
 * stored bytes packed as they are, without rounding again.
 *
 * <h2>File layout</h2>
 * A safetensors file. Each tensor of the original keeps its name; an int8 weight {@code W} of shape
 * {@code [rows, ...]} is the I8 tensor {@code W} plus the F32 tensor {@code W.scale} of shape {@code [rows]}
 * ({@value #SCALE_SUFFIX} is the suffix), which {@link #names()} does not list. Metadata: the original's entries
 * plus {@value WeightCache#PRECISION} ({@code bf16} or {@code int8}) and the keys naming the source file that
 * {@link WeightCache} checks for staleness.
 *
 * <p>Thread-safe for concurrent loads, as the file it wraps.
 */
public final class ConvertedCheckpoint implements Checkpoint {

    /** Name suffix of the scale tensor of an I8 weight. */
    public static final String SCALE_SUFFIX = ".scale";

    private final SafetensorsFile file;
    private final WeightPrecision precision;
    private final Set<String> names;

    private ConvertedCheckpoint(SafetensorsFile file, WeightPrecision precision, Set<String> names) {
        this.file = file;
        this.precision = precision;
        this.names = names;
    }

    /**
     * Opens and validates a converted file: its precision metadata, every I8 tensor of rank ≥ 2 with an F32 scale
     * tensor of one value a row, no scale tensor without its weight.
     *
     * @throws WeightFormatException naming the file and the fault
     */
    public static ConvertedCheckpoint open(Path path) {
        SafetensorsFile f = SafetensorsFile.open(path);
        try {
            String p = f.metadata().get(WeightCache.PRECISION);
            if (p == null) {
                throw new WeightFormatException(path, "not a converted checkpoint: metadata has no \""
                        + WeightCache.PRECISION + "\"");
            }
            WeightPrecision precision;
            try {
                precision = WeightPrecision.parse(p);
            } catch (IllegalArgumentException e) {
                throw new WeightFormatException(path, "metadata " + WeightCache.PRECISION + ": " + e.getMessage());
            }
            Set<String> names = new TreeSet<>(f.names());
            for (String n : f.names()) {
                TensorInfo t = f.info(n);
                if (t.dtype() != DType.I8) {
                    continue;
                }
                int[] s = t.shape();
                String sn = n + SCALE_SUFFIX;
                if (s.length < 2 || t.elements() == 0) {
                    throw new WeightFormatException(path, "I8 tensor \"" + n + "\" has shape " + t.shapeString()
                            + ": int8 weights need rank >= 2 and at least one element");
                }
                if (!f.contains(sn)) {
                    throw new WeightFormatException(path, "I8 tensor \"" + n + "\" has no scale tensor \"" + sn
                            + "\"");
                }
                TensorInfo si = f.info(sn);
                if (si.dtype() != DType.F32 || !Arrays.equals(si.shape(), new int[] {s[0]})) {
                    throw new WeightFormatException(path, "scale tensor \"" + sn + "\" is " + si.dtype()
                            + si.shapeString() + ", expected F32[" + s[0] + "]");
                }
                names.remove(sn);
            }
            return new ConvertedCheckpoint(f, precision, Collections.unmodifiableSet(names));
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** The precision the file was written in. */
    public WeightPrecision precision() {
        return precision;
    }

    /** The safetensors file read. */
    SafetensorsFile file() {
        return file;
    }

    /** The row scales of an I8 weight. @throws WeightFormatException when {@code name} is not one */
    public float[] scales(String name) {
        TensorInfo t = info(name);
        if (t.dtype() != DType.I8) {
            throw new WeightFormatException(file.source(), "tensor \"" + name + "\" is " + t.dtype()
                    + ", not an int8 weight");
        }
        TensorInfo si = file.info(name + SCALE_SUFFIX);
        ByteBuffer b = ByteBuffer.allocate((int) si.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
        file.readRaw(si.name(), 0, b);
        b.flip();
        float[] s = new float[t.shape()[0]];
        b.asFloatBuffer().get(s);
        return s;
    }

    @Override
    public Path source() {
        return file.source();
    }

    @Override
    public Set<String> names() {
        return names;
    }

    @Override
    public boolean contains(String name) {
        return names.contains(name);
    }

    /** The stored entry (dtype I8 for an int8 weight). */
    @Override
    public TensorInfo info(String name) {
        if (!names.contains(name)) {
            throw new WeightFormatException(file.source(), "no tensor named \"" + name + "\"");
        }
        return file.info(name);
    }

    @Override
    public boolean loadsAsFloat(String name) {
        TensorInfo t = info(name);
        return t.dtype().isFloating() || t.dtype() == DType.I8;
    }

    @Override
    public Map<String, String> metadata() {
        return file.metadata();
    }

    /** Floats of a tensor; an int8 weight as {@code q · scale} of its row. */
    @Override
    public void loadInto(String name, Tensor dst) {
        TensorInfo t = info(name);
        if (t.dtype() != DType.I8) {
            file.loadInto(name, dst);
            return;
        }
        if (dst.size() != t.elements()) {
            throw new IllegalArgumentException(file.source() + ": tensor \"" + name + "\" has shape "
                    + t.shapeString() + ", destination has " + dst.shapeString());
        }
        float[] scales = scales(name);
        int rowLength = Math.toIntExact(t.elements() / scales.length);
        byte[] q = new byte[rowLength];
        float[] f = new float[rowLength];
        for (int r = 0; r < scales.length; r++) {
            ByteBuffer b = ByteBuffer.wrap(q);
            file.readRaw(name, (long) r * rowLength, b);
            for (int i = 0; i < rowLength; i++) {
                f[i] = q[i] * scales[r];
            }
            dst.write((long) r * rowLength, f, 0, rowLength);
        }
    }

    @Override
    public long[] loadLongs(String name) {
        info(name);
        return file.loadLongs(name);
    }

    @Override
    public void close() {
        file.close();
    }

    @Override
    public String toString() {
        return "ConvertedCheckpoint[" + file.source() + ", " + precision + "]";
    }
}

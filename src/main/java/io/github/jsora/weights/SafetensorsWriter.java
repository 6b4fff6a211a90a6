package io.github.jsora.weights;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.github.jsora.tensor.Tensor;

/**
 * Writes a safetensors file: tensors (stored as F32, F16, BF16 or I64) and string metadata. Used to save latents,
 * to build test checkpoints and by the benchmarks.
 *
 * <p>The file is written to a temporary sibling and moved into place, so a failed write never leaves a half file
 * under the target name; an existing file is replaced only when {@code overwrite} is set.
 */
public final class SafetensorsWriter {

    private record Entry(String name, DType dtype, int[] shape, Object data) {
    }

    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /** Adds a float tensor stored as {@code dtype} (F32, F16 or BF16). */
    public SafetensorsWriter add(String name, Tensor t, DType dtype) {
        return add(name, t.toArray(), t.shape(), dtype);
    }

    /** Adds a float tensor as F32. */
    public SafetensorsWriter add(String name, Tensor t) {
        return add(name, t, DType.F32);
    }

    /** Adds float data of the given shape stored as {@code dtype} (F32, F16 or BF16). */
    public SafetensorsWriter add(String name, float[] data, int[] shape, DType dtype) {
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("float data cannot be stored as " + dtype);
        }
        checkCount(name, data.length, shape);
        entries.add(new Entry(name, dtype, shape.clone(), data.clone()));
        return this;
    }

    /** Adds integer data stored as I64. */
    public SafetensorsWriter addLongs(String name, long[] data, int... shape) {
        checkCount(name, data.length, shape);
        entries.add(new Entry(name, DType.I64, shape.clone(), data.clone()));
        return this;
    }

    /** Writes the stored bytes of one tensor, little-endian, in order. */
    @FunctionalInterface
    interface ByteSource {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Adds a tensor whose bytes {@code source} produces when the file is written (one tensor at a time, so a
     * converted checkpoint never sits in memory whole). The source must write exactly shape × dtype bytes.
     */
    SafetensorsWriter addStreamed(String name, DType dtype, int[] shape, ByteSource source) {
        checkCount(name, count(shape), shape);
        entries.add(new Entry(name, dtype, shape.clone(), source));
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    private void checkCount(String name, long n, int[] shape) {
        long c = 1;
        for (int d : shape) {
            c *= d;
        }
        if (c != n) {
            throw new IllegalArgumentException("tensor \"" + name + "\": " + n + " values for shape "
                    + java.util.Arrays.toString(shape));
        }
        for (Entry e : entries) {
            if (e.name.equals(name)) {
                throw new IllegalArgumentException("duplicate tensor name \"" + name + "\"");
            }
        }
    }

    /** The header JSON this writer produces (with data offsets). */
    String header() {
        StringBuilder sb = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            sb.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                sb.append(quote(m.getKey())).append(':').append(quote(m.getValue()));
            }
            sb.append('}');
        }
        long off = 0;
        for (Entry e : entries) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            long len = count(e.shape) * e.dtype.bytes();
            sb.append(quote(e.name)).append(":{\"dtype\":\"").append(e.dtype).append("\",\"shape\":[");
            for (int i = 0; i < e.shape.length; i++) {
                sb.append(i > 0 ? "," : "").append(e.shape[i]);
            }
            sb.append("],\"data_offsets\":[").append(off).append(',').append(off + len).append("]}");
            off += len;
        }
        sb.append('}');
        // pad with spaces to a multiple of 8 bytes, as the reference writer does
        while (sb.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            sb.append(' ');
        }
        return sb.toString();
    }

    private static long count(int[] shape) {
        long c = 1;
        for (int d : shape) {
            c *= d;
        }
        return c;
    }

    static String quote(String s) {
        return Json.quote(new StringBuilder(), s, false).toString();
    }

    /**
     * Writes the file through {@link FileCommit}: a temporary sibling (default permissions of new files) committed
     * under the target name, never replacing a file that appears meanwhile unless {@code overwrite}.
     *
     * @throws java.nio.file.FileAlreadyExistsException when the target exists and {@code overwrite} is false
     * @throws IOException on other I/O errors
     */
    public void write(Path target, boolean overwrite) throws IOException {
        if (!overwrite && Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new java.nio.file.FileAlreadyExistsException(target.toString(), null, "not overwritten");
        }
        Path tmp = FileCommit.createTemp(target, false);
        boolean done = false;
        try {
            try (OutputStream out = new java.io.BufferedOutputStream(
                    Files.newOutputStream(tmp, StandardOpenOption.TRUNCATE_EXISTING), 1 << 16)) {
                byte[] hb = header().getBytes(StandardCharsets.UTF_8);
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hb.length);
                out.write(len.array());
                out.write(hb);
                for (Entry e : entries) {
                    writeData(out, e);
                }
            }
            FileCommit.commitFile(tmp, target.toAbsolutePath(), overwrite);
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static void writeData(OutputStream out, Entry e) throws IOException {
        if (e.data instanceof ByteSource src) {
            long want = count(e.shape) * e.dtype.bytes();
            long[] written = {0};
            OutputStream counting = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    written[0]++;
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    written[0] += len;
                }
            };
            src.writeTo(counting);
            if (written[0] != want) {
                throw new IllegalStateException("tensor \"" + e.name + "\": " + written[0] + " bytes written, "
                        + e.dtype + java.util.Arrays.toString(e.shape) + " needs " + want);
            }
            return;
        }
        int chunk = 1 << 16;
        if (e.dtype == DType.I64) {
            long[] d = (long[]) e.data;
            ByteBuffer b = ByteBuffer.allocate(chunk * 8).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < d.length; i += chunk) {
                b.clear();
                int n = Math.min(chunk, d.length - i);
                for (int j = 0; j < n; j++) {
                    b.putLong(d[i + j]);
                }
                out.write(b.array(), 0, b.position());
            }
            return;
        }
        float[] d = (float[]) e.data;
        ByteBuffer b = ByteBuffer.allocate(chunk * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < d.length; i += chunk) {
            b.clear();
            int n = Math.min(chunk, d.length - i);
            for (int j = 0; j < n; j++) {
                switch (e.dtype) {
                    case F32 -> b.putFloat(d[i + j]);
                    case BF16 -> b.putShort(DType.floatToBf16(d[i + j]));
                    case F16 -> b.putShort(DType.floatToHalf(d[i + j]));
                    default -> throw new IllegalStateException(e.dtype.name());
                }
            }
            out.write(b.array(), 0, b.position());
        }
    }
}

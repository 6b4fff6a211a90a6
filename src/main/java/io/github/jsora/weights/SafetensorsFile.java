package io.github.jsora.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.Tensor;

/**
 * One safetensors file, opened and validated.
 *
 * <p>Format: an 8-byte little-endian header length n, n bytes of UTF-8 JSON mapping each tensor name to
 * {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data section that follows the
 * header) plus an optional {@code "__metadata__"} object of strings, then the raw little-endian data.
 *
 * <p>Everything in the header is checked when the file is opened, so a broken or hostile file fails at once with
 * a {@link WeightFormatException} naming the file and the fault: header length beyond the file or above 100 MB,
 * non-UTF-8 or malformed JSON, unknown dtype, negative or overflowing shapes, offsets outside the data section,
 * overlapping tensors, a byte span that is not shape × dtype size, duplicate names, a data section cut short.
 *
 * <p>Tensor data is read with positional reads ({@code pread}), never through a memory mapping: a file that is cut
 * short while open (by another process) then fails with a {@link WeightFormatException} naming the file and the
 * tensor, instead of a {@code SIGBUS} ({@link InternalError}) in a mapped read. An interrupt of a reading thread
 * surfaces as a {@link java.util.concurrent.CancellationException}; the file stays usable (its channel is reopened).
 */
public final class SafetensorsFile implements Checkpoint {

    /** Largest header accepted. */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    private static final int CHUNK = 1 << 16; // elements converted per bulk step

    private final Path path;
    private volatile FileChannel channel;
    private final long dataStart;
    private final long dataLength;
    private final Map<String, TensorInfo> tensors; // sorted by name
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long dataStart, long dataLength,
            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.dataLength = dataLength;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates a safetensors file. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new WeightFormatException(path, "no such file");
        } catch (IOException e) {
            throw new WeightFormatException(path, "cannot open: " + e.getMessage(), e);
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) {
        long fileSize;
        try {
            fileSize = ch.size();
            if (fileSize < 8) {
                throw new WeightFormatException(path, "truncated: " + fileSize + " bytes, too short for the 8-byte "
                        + "header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            // the value itself is not printed: for a file that is not safetensors it is just its first 8 bytes
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
                throw new WeightFormatException(path, "header length (first 8 bytes) is outside [2, "
                        + MAX_HEADER_BYTES + "] bytes: not a safetensors file, or a corrupt one");
            }
            if (headerLen > fileSize - 8) {
                throw new WeightFormatException(path, "header length (first 8 bytes) exceeds the file (" + fileSize
                        + " bytes): truncated, or not a safetensors file");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            hb.flip();
            String header;
            try {
                CharBuffer cb = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb);
                header = cb.toString();
            } catch (CharacterCodingException e) {
                throw new WeightFormatException(path, "header is not valid UTF-8");
            }
            long dataStart = 8 + headerLen;
            long dataLength = fileSize - dataStart;
            return fromHeader(path, ch, header, dataStart, dataLength);
        } catch (IOException e) {
            throw new WeightFormatException(path, "read error: " + e.getMessage(), e);
        }
    }

    private static SafetensorsFile fromHeader(Path path, FileChannel ch, String header, long dataStart,
            long dataLength) {
        Map<String, Object> root;
        try {
            root = Json.parseObject(header);
        } catch (Json.JsonException e) {
            String m = e.getMessage();
            if (m.startsWith("duplicate key")) {
                throw new WeightFormatException(path, "duplicate tensor name in header: " + m);
            }
            throw new WeightFormatException(path, "header is not valid JSON: " + m);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, TensorInfo> tensors = new TreeMap<>();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) {
                    throw new WeightFormatException(path, "__metadata__ is not an object");
                }
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String v)) {
                        throw new WeightFormatException(path, "__metadata__ value of \"" + me.getKey()
                                + "\" is not a string");
                    }
                    metadata.put((String) me.getKey(), v);
                }
                continue;
            }
            tensors.put(name, entry(path, name, e.getValue(), dataLength));
        }
        checkOverlaps(path, tensors.values());
        long maxEnd = 0;
        for (TensorInfo t : tensors.values()) {
            maxEnd = Math.max(maxEnd, t.end());
        }
        if (maxEnd > dataLength) {
            throw new WeightFormatException(path, "truncated: tensors need " + maxEnd + " data bytes, file has "
                    + dataLength);
        }
        return new SafetensorsFile(path, ch, dataStart, dataLength, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    private static TensorInfo entry(Path path, String name, Object v, long dataLength) {
        if (!(v instanceof Map<?, ?> m)) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": entry is not an object");
        }
        Object dt = m.get("dtype");
        Object sh = m.get("shape");
        Object off = m.get("data_offsets");
        if (!(dt instanceof String dts) || !(sh instanceof List<?> shl) || !(off instanceof List<?> offl)) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": needs dtype, shape and data_offsets");
        }
        DType dtype = DType.fromName(dts);
        if (dtype == null) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": unknown or unsupported dtype " + dts);
        }
        int[] shape = new int[shl.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            Object d = shl.get(i);
            if (!(d instanceof Long dl) || dl < 0 || dl > Integer.MAX_VALUE) {
                throw new WeightFormatException(path, "tensor \"" + name + "\": invalid dimension " + d);
            }
            shape[i] = dl.intValue();
            try {
                elements = Math.multiplyExact(elements, dl);
            } catch (ArithmeticException ex) {
                throw new WeightFormatException(path, "tensor \"" + name + "\": shape overflows");
            }
        }
        if (offl.size() != 2 || !(offl.get(0) instanceof Long b) || !(offl.get(1) instanceof Long en)) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": data_offsets must be two integers");
        }
        if (b < 0 || en < b || en > dataLength) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": data_offsets [" + b + ", " + en
                    + "] outside the data section of " + dataLength + " bytes (file truncated or offsets corrupt)");
        }
        long need;
        try {
            need = Math.multiplyExact(elements, dtype.bytes());
        } catch (ArithmeticException ex) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": shape overflows");
        }
        if (en - b != need) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": byte span " + (en - b) + " does not match "
                    + "shape " + java.util.Arrays.toString(shape) + " × " + dtype + " = " + need + " bytes");
        }
        return new TensorInfo(name, dtype, shape, b, en);
    }

    private static void checkOverlaps(Path path, java.util.Collection<TensorInfo> all) {
        List<TensorInfo> sorted = new ArrayList<>(all);
        sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        TensorInfo prev = null;
        for (TensorInfo t : sorted) {
            if (t.byteLength() == 0) {
                continue;
            }
            if (prev != null && t.begin() < prev.end()) {
                throw new WeightFormatException(path, "tensors \"" + prev.name() + "\" and \"" + t.name()
                        + "\" overlap in the data section");
            }
            prev = t;
        }
    }

    // ------------------------------------------------------------------ Checkpoint

    @Override
    public Path source() {
        return path;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new WeightFormatException(path, "no tensor named \"" + name + "\"");
        }
        return t;
    }

    /** All header entries, sorted by name. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Size of the data section in bytes. */
    public long dataLength() {
        return dataLength;
    }

    @Override
    public void loadInto(String name, Tensor dst) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloating() && t.dtype() != DType.I64 && t.dtype() != DType.I32) {
            throw new WeightFormatException(path, "tensor \"" + name + "\": cannot convert " + t.dtype());
        }
        if (dst.size() != t.elements()) {
            throw new IllegalArgumentException(path + ": tensor \"" + name + "\" has shape " + t.shapeString()
                    + ", destination has " + dst.shapeString());
        }
        long n = t.elements();
        if (n == 0) {
            return;
        }
        int esz = t.dtype().bytes();
        int chunks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
        Parallel.forRange(chunks, CHUNK, (from, to) -> {
            float[] f = new float[CHUNK];
            ByteBuffer buf = ByteBuffer.allocate(CHUNK * esz).order(ByteOrder.LITTLE_ENDIAN);
            for (int c = from; c < to; c++) {
                long e0 = (long) c * CHUNK;
                int len = (int) Math.min(CHUNK, n - e0);
                buf.clear().limit(len * esz);
                read(t, t.begin() + e0 * esz, buf);
                ByteBuffer bb = buf.flip().slice().order(ByteOrder.LITTLE_ENDIAN);
                convert(t.dtype(), bb, f, len);
                dst.write(e0, f, 0, len);
            }
        });
    }

    @Override
    public long[] loadLongs(String name) {
        TensorInfo t = info(name);
        long n = t.elements();
        if (n > Integer.MAX_VALUE) {
            throw new WeightFormatException(path, "tensor \"" + name + "\" too large for a long[]");
        }
        long[] out = new long[(int) n];
        if (t.byteLength() > Integer.MAX_VALUE) {
            throw new WeightFormatException(path, "tensor \"" + name + "\" too large for a long[]");
        }
        ByteBuffer bb = ByteBuffer.allocate((int) t.byteLength()).order(ByteOrder.LITTLE_ENDIAN);
        read(t, t.begin(), bb);
        bb.flip();
        switch (t.dtype()) {
            case I64 -> bb.asLongBuffer().get(out);
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = bb.getInt(i * 4);
                }
            }
            default -> throw new WeightFormatException(path, "tensor \"" + name + "\" is " + t.dtype()
                    + ", not an integer tensor");
        }
        return out;
    }

    /**
     * Copies {@code dst.remaining()} stored bytes of tensor {@code name}, from byte {@code offset} of its data, into
     * {@code dst} (a positional read).
     */
    void readRaw(String name, long offset, ByteBuffer dst) {
        TensorInfo t = info(name);
        int len = dst.remaining();
        if (offset < 0 || offset + len > t.byteLength()) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + len) + ") of tensor \"" + name
                    + "\" (" + t.byteLength() + " bytes) in " + path);
        }
        read(t, t.begin() + offset, dst);
    }

    /** Reads a floating tensor into a new heap array (for small tensors). */
    public float[] loadFloats(String name) {
        TensorInfo t = info(name);
        try (Tensor tmp = load(name)) {
            return tmp.toArray();
        }
    }

    /** Converts {@code len} little-endian elements of a floating or integer type to floats. */
    static void convert(DType dt, ByteBuffer bb, float[] f, int len) {
        switch (dt) {
            case F32 -> bb.asFloatBuffer().get(f, 0, len);
            case BF16 -> {
                for (int i = 0; i < len; i++) {
                    f[i] = DType.bf16ToFloat(bb.getShort(i * 2));
                }
            }
            case F16 -> {
                for (int i = 0; i < len; i++) {
                    f[i] = DType.halfToFloat(bb.getShort(i * 2));
                }
            }
            case F64 -> {
                for (int i = 0; i < len; i++) {
                    f[i] = (float) bb.getDouble(i * 8);
                }
            }
            case I64 -> {
                for (int i = 0; i < len; i++) {
                    f[i] = bb.getLong(i * 8);
                }
            }
            case I32 -> {
                for (int i = 0; i < len; i++) {
                    f[i] = bb.getInt(i * 4);
                }
            }
            default -> throw new IllegalStateException(dt.name());
        }
    }

    /**
     * Fills {@code dst} (its remaining bytes) from data offset {@code off} inside tensor {@code t} with positional
     * reads. A file cut short after opening fails here with a {@link WeightFormatException}, never with a crash.
     */
    private void read(TensorInfo t, long off, ByteBuffer dst) {
        long pos = dataStart + off;
        for (int attempt = 0; ; attempt++) {
            if (closed) {
                throw new IllegalStateException(path + " is closed");
            }
            FileChannel ch = channel;
            int start = dst.position();
            try {
                while (dst.hasRemaining()) {
                    int r = ch.read(dst, pos + (dst.position() - start));
                    if (r < 0) {
                        long size = ch.size();
                        throw new WeightFormatException(path, "truncated after opening: tensor \"" + t.name()
                                + "\" needs bytes up to " + (pos + dst.limit() - start) + ", file now has " + size);
                    }
                }
                return;
            } catch (java.nio.channels.ClosedByInterruptException e) {
                reopen(ch);
                Thread.currentThread().interrupt();
                throw new java.util.concurrent.CancellationException("interrupted while reading tensor \""
                        + t.name() + "\" of " + path);
            } catch (java.nio.channels.ClosedChannelException e) {
                // another thread's interrupt closed the shared channel: reopen it and read again
                dst.position(start);
                if (closed || attempt > 3) {
                    throw new IllegalStateException(path + " is closed");
                }
                reopen(ch);
            } catch (IOException e) {
                throw new WeightFormatException(path, "read error in tensor \"" + t.name() + "\": " + e.getMessage(),
                        e);
            }
        }
    }

    /** Replaces a channel an interrupt closed (once, however many threads saw it closed). */
    private synchronized void reopen(FileChannel dead) {
        if (closed || channel != dead) {
            return;
        }
        try {
            channel = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new WeightFormatException(path, "cannot reopen after an interrupt: " + e.getMessage(), e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeQuietly(channel);
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}

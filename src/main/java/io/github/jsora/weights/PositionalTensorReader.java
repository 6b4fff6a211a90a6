package io.github.jsora.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;

import io.github.jsora.tensor.Tensor;

/**
 * Reads tensors of safetensors files with positional reads ({@code pread}) into a small reusable buffer and
 * converts them to float32, instead of through the checkpoint's memory mapping.
 *
 * <p>Why: pages of a mapping that were touched count in the process's resident set and stay mapped as long as the
 * checkpoint is open, so a streamed 3 GB checkpoint read through its mapping ends up as 3 GB of RSS on top of the
 * block budget. Read with {@code pread}, the file's pages live only in the kernel's page cache (reclaimable, not
 * the process's), and the process holds just the budgeted blocks plus one {@value #BUFFER_BYTES}-byte buffer.
 *
 * <p>Used by {@link BlockStore} for {@link SafetensorsFile} and {@link ShardedCheckpoint}; one reader per store,
 * calls are serialised. A file cut short after opening fails with a {@link WeightFormatException} naming the file
 * and tensor; an interrupt of the reading thread surfaces as a {@link CancellationException} (the channel is
 * reopened on the next read).
 */
final class PositionalTensorReader implements AutoCloseable {

    static final int BUFFER_BYTES = 1 << 22;

    /** A file: path, start of its data section, a channel opened on demand. */
    private static final class FileRef {
        final Path path;
        final long dataStart;
        FileChannel channel;

        FileRef(Path path, long dataStart) {
            this.path = path;
            this.dataStart = dataStart;
        }
    }

    private final Checkpoint ckpt;
    private final Map<Checkpoint, FileRef> files = new HashMap<>();
    private final Map<String, SafetensorsFile> shardOf;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final float[] floats = new float[BUFFER_BYTES / 2];
    private final short[] shorts = new short[BUFFER_BYTES / 2];
    private boolean closed;

    private PositionalTensorReader(Checkpoint ckpt, Map<String, SafetensorsFile> shardOf) {
        this.ckpt = ckpt;
        this.shardOf = shardOf;
    }

    /** A reader for a safetensors checkpoint, or null for other kinds (which are read with {@code loadInto}). */
    static PositionalTensorReader forCheckpoint(Checkpoint ckpt) {
        if (ckpt instanceof SafetensorsFile) {
            return new PositionalTensorReader(ckpt, null);
        }
        if (ckpt instanceof ShardedCheckpoint sc) {
            Map<String, SafetensorsFile> m = new HashMap<>();
            for (SafetensorsFile f : sc.shards().values()) {
                for (String n : f.names()) {
                    if (sc.contains(n) && sc.info(n) == f.info(n)) { // the shard the index names for n
                        m.put(n, f);
                    }
                }
            }
            return new PositionalTensorReader(ckpt, m);
        }
        return null;
    }

    /** The file holding tensor {@code name}. @throws IllegalStateException after close */
    private SafetensorsFile fileOf(String name) {
        if (closed) {
            throw new IllegalStateException("reader of " + ckpt.source() + " is closed");
        }
        SafetensorsFile file = shardOf == null ? (SafetensorsFile) ckpt : shardOf.get(name);
        if (file == null) {
            throw new WeightFormatException(ckpt.source(), "no tensor named \"" + name + "\"");
        }
        return file;
    }

    /** Reads a floating tensor, converted to float32, into {@code dst} (same element count). */
    synchronized void readInto(String name, Tensor dst) {
        SafetensorsFile file = fileOf(name);
        TensorInfo t = file.info(name);
        if (!t.dtype().isFloating()) {
            throw new WeightFormatException(file.source(), "tensor \"" + name + "\" is " + t.dtype()
                    + ", not a floating type");
        }
        if (dst.size() != t.elements()) {
            throw new IllegalArgumentException(file.source() + ": tensor \"" + name + "\" has shape "
                    + t.shapeString() + ", destination has " + dst.shapeString());
        }
        FileRef ref = files.computeIfAbsent(file, f -> new FileRef(f.source(), dataStart(f.source())));
        int esz = t.dtype().bytes();
        long n = t.elements();
        int perChunk = BUFFER_BYTES / esz;
        for (long e0 = 0; e0 < n; e0 += perChunk) {
            int len = (int) Math.min(perChunk, n - e0);
            long pos = ref.dataStart + t.begin() + e0 * esz;
            buf.clear().limit(len * esz);
            readFully(ref, name, pos);
            buf.flip();
            convert(t.dtype(), len);
            dst.write(e0, floats, 0, len);
        }
    }

    /**
     * Copies {@code dst.remaining()} stored bytes of tensor {@code name}, from byte {@code offset} of its data, into
     * {@code dst} with positional reads (no conversion).
     */
    synchronized void readRaw(String name, long offset, ByteBuffer dst) {
        SafetensorsFile file = fileOf(name);
        TensorInfo t = file.info(name);
        if (offset < 0 || offset + dst.remaining() > t.byteLength()) {
            throw new IndexOutOfBoundsException("bytes [" + offset + ", " + (offset + dst.remaining()) + ") of tensor \""
                    + name + "\" (" + t.byteLength() + " bytes) in " + file.source());
        }
        FileRef ref = files.computeIfAbsent(file, f -> new FileRef(f.source(), dataStart(f.source())));
        long pos = ref.dataStart + t.begin() + offset;
        try {
            FileChannel ch = channel(ref);
            long start = dst.position();
            while (dst.hasRemaining()) {
                int r = ch.read(dst, pos + dst.position() - start);
                if (r < 0) {
                    throw new WeightFormatException(ref.path, "truncated after opening: tensor \"" + name
                            + "\" needs bytes up to " + (pos + dst.limit() - start) + ", file now has " + ch.size());
                }
            }
        } catch (ClosedByInterruptException e) {
            ref.channel = null;
            throw new CancellationException("interrupted while reading tensor \"" + name + "\" of " + ref.path);
        } catch (IOException e) {
            throw new WeightFormatException(ref.path, "read error at byte " + pos + " (tensor \"" + name + "\"): "
                    + e.getMessage(), e);
        }
    }

    private void convert(DType dt, int len) {
        switch (dt) {
            case F32 -> buf.asFloatBuffer().get(floats, 0, len);
            case BF16 -> {
                buf.asShortBuffer().get(shorts, 0, len);
                for (int i = 0; i < len; i++) {
                    floats[i] = Float.intBitsToFloat((shorts[i] & 0xffff) << 16);
                }
            }
            case F16 -> {
                buf.asShortBuffer().get(shorts, 0, len);
                for (int i = 0; i < len; i++) {
                    floats[i] = DType.halfToFloat(shorts[i]);
                }
            }
            case F64 -> {
                for (int i = 0; i < len; i++) {
                    floats[i] = (float) buf.getDouble(i * 8);
                }
            }
            default -> throw new IllegalStateException("not a floating type: " + dt);
        }
    }

    private void readFully(FileRef ref, String name, long pos) {
        try {
            FileChannel ch = channel(ref);
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos + buf.position());
                if (r < 0) {
                    throw new WeightFormatException(ref.path, "truncated after opening: tensor \"" + name
                            + "\" needs bytes up to " + (pos + buf.limit()) + ", file now has " + ch.size());
                }
            }
        } catch (ClosedByInterruptException e) {
            ref.channel = null; // the interrupt closed it; reopen next time
            throw new CancellationException("interrupted while reading tensor \"" + name + "\" of " + ref.path);
        } catch (IOException e) {
            throw new WeightFormatException(ref.path, "read error at byte " + pos + " (tensor \"" + name + "\"): "
                    + e.getMessage(), e);
        }
    }

    private static FileChannel channel(FileRef ref) throws IOException {
        FileChannel ch = ref.channel;
        if (ch == null || !ch.isOpen()) {
            ch = FileChannel.open(ref.path, StandardOpenOption.READ);
            ref.channel = ch;
        }
        return ch;
    }

    /** 8 + the header length stored in the first 8 bytes (the file was validated when the checkpoint opened). */
    private static long dataStart(Path path) {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                if (ch.read(b, b.position()) < 0) {
                    throw new WeightFormatException(path, "truncated after opening: no header length");
                }
            }
            return 8 + b.getLong(0);
        } catch (IOException e) {
            throw new WeightFormatException(path, "cannot reopen: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        for (FileRef r : files.values()) {
            if (r.channel != null) {
                try {
                    r.channel.close();
                } catch (IOException ignored) {
                    // read-only channel: nothing to flush
                }
                r.channel = null;
            }
        }
    }
}

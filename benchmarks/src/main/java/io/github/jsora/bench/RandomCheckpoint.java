package io.github.jsora.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.DType;

/**
 * The benchmarks' writer of random safetensors checkpoints: one file or a Hugging Face sharded set
 * ({@code model-0000k-of-0000n.safetensors} plus {@code model.safetensors.index.json}), F32, F16 or BF16, streamed
 * (a multi-GB tensor never sits on the heap: values are drawn into an 8 MB buffer that a background thread writes
 * while the next one is drawn).
 *
 * <p>Values are chosen per tensor by an {@link Init} ({@link #gainsAndUniform}, {@link #fanIn}) and are a pure
 * function of (seed, tensor name, element index): the same seed gives the same values whatever the tensor order,
 * sharding or chunking. Uniform draws come from a counter-based SplitMix64 hash, two floats per 64-bit draw.
 *
 * <p>Layout on disk follows the reference writer (the {@code safetensors} library as called by
 * {@code save_pretrained}): an optional {@code __metadata__} object first, then the tensors, sorted by name when
 * {@link Options#sortNames()} is set (as that library does within a file), the header padded with spaces to a
 * multiple of 8 bytes. Sharding fills shards in the given (state-dict) order up to a byte limit, like
 * {@code save_pretrained}'s {@code max_shard_size}.
 */
final class RandomCheckpoint {

    /** Bytes of one write buffer (two are in use: one filling, one being written). */
    private static final int CHUNK_BYTES = 8 << 20;

    private RandomCheckpoint() {
    }

    // ------------------------------------------------------------------ values

    /** How the values of one tensor are made. */
    sealed interface Fill permits Constant, Uniform, Exact {
    }

    /** Every element {@code value}. */
    record Constant(float value) implements Fill {
    }

    /** Uniform in [−a, a] with a = std·√3 (so the standard deviation is {@code std}). */
    record Uniform(float std) implements Fill {
    }

    /** The given values (a small tensor; the count must match the shape). */
    record Exact(float[] values) implements Fill {
    }

    /** Chooses the fill of a tensor from its name and shape. */
    @FunctionalInterface
    interface Init {
        Fill fill(String name, int[] shape);

        /** This init with {@code name} overridden. */
        default Init with(String name, Fill fill) {
            return (n, s) -> n.equals(name) ? fill : fill(n, s);
        }
    }

    /** Tensors whose name ends in {@code norm.weight} (RMS-norm gains) are 1; every other is uniform with {@code std}. */
    static Init gainsAndUniform(float std) {
        return (name, shape) -> name.endsWith("norm.weight") ? new Constant(1f) : new Uniform(std);
    }

    /**
     * Keeps a random network's activations of order 1 through any depth: weights (rank ≥ 2) uniform with standard
     * deviation 1/√fan_in (fan_in = product of all dimensions but the first, i.e. in-features × kernel); vectors
     * whose name contains {@code norm} and ends in {@code .weight} (layer, group and RMS norm gains) 1; every other
     * vector (biases) 0.
     */
    static Init fanIn() {
        return (name, shape) -> {
            if (shape.length >= 2) {
                long fan = 1;
                for (int i = 1; i < shape.length; i++) {
                    fan *= shape[i];
                }
                return new Uniform((float) (1 / Math.sqrt(fan)));
            }
            return name.contains("norm") && name.endsWith(".weight") ? new Constant(1f) : new Constant(0f);
        };
    }

    /**
     * What to write.
     *
     * @param dtype     F32, F16 or BF16
     * @param init      values per tensor
     * @param seed      the random seed
     * @param sortNames order the tensors of each file by name (as the reference writer does); else as given
     * @param metadata  {@code __metadata__} strings (empty: none)
     */
    record Options(DType dtype, Init init, long seed, boolean sortNames, Map<String, String> metadata) {

        Options {
            if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
                throw new IllegalArgumentException("random checkpoints are F32, F16 or BF16, not " + dtype);
            }
            metadata = new LinkedHashMap<>(metadata);
        }

        /** As {@code save_pretrained} writes a PyTorch model: F32, sorted names, metadata {@code format: pt}. */
        static Options pretrained(Init init, long seed) {
            return new Options(DType.F32, init, seed, true, Map.of("format", "pt"));
        }
    }

    // ------------------------------------------------------------------ writing

    /**
     * Random BF16 weights for every tensor of {@code layout}, in layout order, no metadata; norm gains 1, the rest
     * uniform with standard deviation {@code std}. Returns the file size.
     */
    static long write(Path file, BlockLayout layout, long seed, float std) throws IOException {
        return write(file, tensors(layout), new Options(DType.BF16, gainsAndUniform(std), seed, false, Map.of()));
    }

    /** The tensors of a layout (name → shape) in forward order. */
    static Map<String, int[]> tensors(BlockLayout layout) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec b : layout.blocks()) {
            m.putAll(b.tensors());
        }
        return m;
    }

    /** Writes one safetensors file (through a temporary sibling moved into place); returns its size. */
    static long write(Path file, Map<String, int[]> tensors, Options o) throws IOException {
        List<Map.Entry<String, int[]>> entries = new ArrayList<>(
                o.sortNames() ? new TreeMap<>(tensors).entrySet() : tensors.entrySet());
        byte[] header = header(entries, o);
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        ExecutorService io = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "random-checkpoint-writer");
            t.setDaemon(true);
            return t;
        });
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            Sink sink = new Sink(ch, io);
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            sink.put(len.array());
            sink.put(header);
            float[] scratch = new float[CHUNK_BYTES / Float.BYTES];
            for (Map.Entry<String, int[]> e : entries) {
                writeTensor(sink, scratch, e.getKey(), e.getValue(), o);
            }
            sink.finish();
            ch.force(false);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        } finally {
            io.shutdownNow();
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return Files.size(file);
    }

    /**
     * Writes {@code dir/model-0000k-of-0000n.safetensors} shards of at most {@code maxShardBytes} tensor bytes each
     * (a tensor larger than that gets a shard of its own), filled in the given order, and
     * {@code dir/model.safetensors.index.json} ({@code {"metadata": {"total_size": N}, "weight_map": {...}}}, keys
     * sorted, two-space indent); shards of an earlier write with another count are deleted. Returns the shard paths.
     */
    static List<Path> writeSharded(Path dir, Map<String, int[]> tensors, Options o, long maxShardBytes)
            throws IOException {
        List<Map<String, int[]>> shards = new ArrayList<>();
        Map<String, int[]> cur = new LinkedHashMap<>();
        long curBytes = 0;
        long total = 0;
        for (Map.Entry<String, int[]> e : tensors.entrySet()) {
            long b = count(e.getValue()) * o.dtype().bytes();
            if (!cur.isEmpty() && curBytes + b > maxShardBytes) {
                shards.add(cur);
                cur = new LinkedHashMap<>();
                curBytes = 0;
            }
            cur.put(e.getKey(), e.getValue());
            curBytes += b;
            total += b;
        }
        if (!cur.isEmpty()) {
            shards.add(cur);
        }
        int n = shards.size();
        Map<String, String> weightMap = new TreeMap<>();
        List<Path> paths = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            String name = String.format("model-%05d-of-%05d.safetensors", k + 1, n);
            Path p = dir.resolve(name);
            write(p, shards.get(k), o);
            paths.add(p);
            for (String t : shards.get(k).keySet()) {
                weightMap.put(t, name);
            }
        }
        try (var old = Files.newDirectoryStream(dir, "model-?????-of-?????.safetensors")) {
            for (Path p : old) {
                if (!paths.contains(p)) {
                    Files.delete(p);                            // a shard of an earlier write with another count
                }
            }
        }
        StringBuilder idx = new StringBuilder("{\n  \"metadata\": {\n    \"total_size\": ").append(total)
                .append("\n  },\n  \"weight_map\": {\n");
        int i = 0;
        for (Map.Entry<String, String> e : weightMap.entrySet()) {
            idx.append("    ").append(quote(e.getKey())).append(": ").append(quote(e.getValue()))
                    .append(++i < weightMap.size() ? ",\n" : "\n");
        }
        idx.append("  }\n}\n");
        Files.writeString(dir.resolve("model.safetensors.index.json"), idx, StandardCharsets.UTF_8);
        return paths;
    }

    /** Header JSON bytes (compact, as the reference writer), padded with spaces to a multiple of 8. */
    static byte[] header(List<Map.Entry<String, int[]>> entries, Options o) {
        StringBuilder h = new StringBuilder("{");
        if (!o.metadata().isEmpty()) {
            h.append("\"__metadata__\":{");
            int i = 0;
            for (Map.Entry<String, String> m : o.metadata().entrySet()) {
                h.append(i++ > 0 ? "," : "").append(quote(m.getKey())).append(':').append(quote(m.getValue()));
            }
            h.append('}');
        }
        long off = 0;
        for (Map.Entry<String, int[]> e : entries) {
            long len = count(e.getValue()) * o.dtype().bytes();
            h.append(h.length() > 1 ? "," : "").append(quote(e.getKey())).append(":{\"dtype\":\"")
                    .append(o.dtype()).append("\",\"shape\":[");
            int[] s = e.getValue();
            for (int i = 0; i < s.length; i++) {
                h.append(i > 0 ? "," : "").append(s[i]);
            }
            h.append("],\"data_offsets\":[").append(off).append(',').append(off + len).append("]}");
            off += len;
        }
        h.append('}');
        byte[] b = h.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (b.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(b, padded);
        Arrays.fill(out, b.length, padded, (byte) ' ');
        return out;
    }

    /** Tensor names are plain identifiers; anything JSON would need to escape is refused rather than escaped. */
    private static String quote(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\') {
                throw new IllegalArgumentException("name needs JSON escaping: " + s);
            }
        }
        return '"' + s + '"';
    }

    private static void writeTensor(Sink sink, float[] scratch, String name, int[] shape, Options o)
            throws IOException {
        long n = count(shape);
        Fill fill = o.init().fill(name, shape);
        if (fill instanceof Exact ex && ex.values().length != n) {
            throw new IllegalArgumentException("tensor \"" + name + "\" " + Arrays.toString(shape) + " needs " + n
                    + " values, the init gave " + ex.values().length);
        }
        long key = mix(o.seed() * 0x9E3779B97F4A7C15L + nameHash(name));
        int elem = o.dtype().bytes();
        long done = 0;
        while (done < n) {
            ByteBuffer buf = sink.buffer(elem);
            int k = (int) Math.min(Math.min(n - done, buf.remaining() / elem), scratch.length);
            if (fill instanceof Constant c) {
                Arrays.fill(scratch, 0, k, c.value());
            } else if (fill instanceof Exact ex) {
                System.arraycopy(ex.values(), (int) done, scratch, 0, k);
            } else {
                uniform(scratch, k, key, done, (float) (((Uniform) fill).std() * Math.sqrt(3.0)));
            }
            encode(buf, scratch, k, o.dtype());
            done += k;
        }
    }

    /**
     * Element {@code start + i} of a tensor's uniform stream into {@code dst[i]}, i &lt; k: element j is the low
     * (j even) or high (j odd) 32 bits of SplitMix64(key + ⌊j/2⌋), as a signed integer times a·2⁻³¹.
     */
    private static void uniform(float[] dst, int k, long key, long start, float amp) {
        float scale = amp * 0x1p-31f;
        int i = 0;
        long j = start;
        if ((j & 1) != 0 && k > 0) {
            dst[i++] = (int) (mix(key + (j >> 1) * 0x9E3779B97F4A7C15L) >>> 32) * scale;
            j++;
        }
        long pair = j >> 1;
        for (; i + 1 < k; i += 2, pair++) {
            long r = mix(key + pair * 0x9E3779B97F4A7C15L);
            dst[i] = (int) r * scale;
            dst[i + 1] = (int) (r >>> 32) * scale;
        }
        if (i < k) {
            dst[i] = (int) mix(key + pair * 0x9E3779B97F4A7C15L) * scale;
        }
    }

    private static void encode(ByteBuffer buf, float[] v, int k, DType dtype) {
        int pos = buf.position();
        switch (dtype) {
            case F32 -> buf.asFloatBuffer().put(v, 0, k);
            case BF16, F16 -> {
                var sb = buf.asShortBuffer();
                for (int i = 0; i < k; i++) {
                    sb.put(dtype == DType.BF16 ? DType.floatToBf16(v[i]) : DType.floatToHalf(v[i]));
                }
            }
            default -> throw new IllegalStateException(dtype.name());
        }
        buf.position(pos + k * dtype.bytes());
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static long nameHash(String s) {
        long h = 1125899906842597L;
        for (int i = 0; i < s.length(); i++) {
            h = 31 * h + s.charAt(i);
        }
        return mix(h);
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Two direct buffers: one being filled on the caller's thread, one being written by {@code io}. */
    private static final class Sink {
        private final FileChannel ch;
        private final ExecutorService io;
        private ByteBuffer filling = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private ByteBuffer spare = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        private Future<?> pending;

        Sink(FileChannel ch, ExecutorService io) {
            this.ch = ch;
            this.io = io;
        }

        /** The buffer to fill, with room for at least one element of {@code elem} bytes. */
        ByteBuffer buffer(int elem) throws IOException {
            if (filling.remaining() < elem) {
                flush();
            }
            return filling;
        }

        void put(byte[] b) throws IOException {
            int off = 0;
            while (off < b.length) {
                if (!filling.hasRemaining()) {
                    flush();
                }
                int k = Math.min(filling.remaining(), b.length - off);
                filling.put(b, off, k);
                off += k;
            }
        }

        private void flush() throws IOException {
            await();
            ByteBuffer full = filling.flip();
            pending = io.submit(() -> {
                while (full.hasRemaining()) {
                    ch.write(full);
                }
                return null;
            });
            filling = spare.clear();
            spare = full;
        }

        private void await() throws IOException {
            if (pending == null) {
                return;
            }
            try {
                pending.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while writing", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } finally {
                pending = null;
            }
        }

        void finish() throws IOException {
            flush();
            await();
        }
    }

    /** Deletes a directory tree of files (best effort). */
    static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    System.err.println("cannot delete " + p + ": " + e.getMessage());
                }
            });
        } catch (IOException e) {
            System.err.println("cannot delete " + dir + ": " + e.getMessage());
        }
    }
}

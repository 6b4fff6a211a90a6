package io.github.jsora.weights;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/**
 * Converted checkpoints on disk: a checkpoint in a lighter {@link WeightPrecision}, written once into a cache
 * directory as a safetensors file ({@link ConvertedCheckpoint} describes the layout) and opened instead of the
 * float32 original on later runs, so a run reads a half- or quarter-size file and packs nothing.
 *
 * <p>The file records in its metadata the original's file name ({@value #SOURCE}), size in bytes
 * ({@value #SOURCE_SIZE}) and modification time in milliseconds ({@value #SOURCE_MTIME}) (for a sharded checkpoint:
 * the index's name, the total of index and shards, the latest of their times), the precision ({@value #PRECISION})
 * and the layout version ({@value #FORMAT}). {@link #open} rebuilds a file that is missing, unreadable, of another
 * precision or whose recorded source no longer matches. The original is only read.
 *
 * <p>A file is written to a temporary sibling and moved into place, so a failed or concurrent conversion never
 * leaves a half file under the cache name.
 */
public final class WeightCache {

    private static final Logger LOG = LoggerFactory.getLogger(WeightCache.class);

    public static final String PRECISION = "jsora.converted.precision";
    public static final String SOURCE = "jsora.converted.source";
    public static final String SOURCE_SIZE = "jsora.converted.source_size";
    public static final String SOURCE_MTIME = "jsora.converted.source_mtime";
    public static final String FORMAT = "jsora.converted.format";
    /** Version of the layout written; files of another version are rebuilt. */
    public static final String FORMAT_VERSION = "1";

    private static final int CHUNK_BYTES = 1 << 20;

    private WeightCache() {
    }

    /**
     * The converted checkpoint of {@code source} (a file, index or directory as {@link Checkpoint#open} takes) in
     * {@code precision}, converting it into {@code cacheDir} first when the cache file is missing or stale.
     *
     * @throws IllegalArgumentException for {@link WeightPrecision#FLOAT32} (nothing to convert)
     * @throws UncheckedIOException     when the cache directory or file cannot be written
     */
    public static ConvertedCheckpoint open(Path source, WeightPrecision precision, Path cacheDir) {
        Path file = ensure(source, precision, cacheDir);
        return ConvertedCheckpoint.open(file);
    }

    /** As {@link #open}, returning the path of the (current) cache file. */
    public static Path ensure(Path source, WeightPrecision precision, Path cacheDir) {
        requireLighter(precision);
        SourceId id = SourceId.of(source);
        Path file = cacheFile(source, precision, cacheDir);
        String why = staleness(file, id, precision);
        if (why == null) {
            LOG.debug("converted checkpoint {} is current", file);
            return file;
        }
        LOG.info("converting {} to {} in {} ({})", source, precision, file, why);
        try {
            Files.createDirectories(cacheDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create cache directory " + cacheDir, e);
        }
        try (Checkpoint ckpt = Checkpoint.open(source)) {
            convert(ckpt, precision, file, Map.of(SOURCE, id.name, SOURCE_SIZE, Long.toString(id.size),
                    SOURCE_MTIME, Long.toString(id.mtime)));
        }
        return file;
    }

    /**
     * Where the cache file of {@code source} in {@code precision} lives: {@code <name>-<hash>.<precision>.safetensors}
     * in {@code cacheDir}, the hash being of the source's absolute path (two models with the same file name do not
     * share a file).
     */
    public static Path cacheFile(Path source, WeightPrecision precision, Path cacheDir) {
        requireLighter(precision);
        Path abs = source.toAbsolutePath().normalize();
        Path named = Files.isDirectory(abs) ? abs : abs.getParent() == null ? abs : abs.getParent();
        String base = (named.getFileName() == null ? "model" : named.getFileName().toString())
                .replaceAll("[^A-Za-z0-9._-]", "_");
        String hash = String.format(Locale.ROOT, "%08x", abs.toString().hashCode());
        return cacheDir.resolve(base + "-" + hash + "." + precision.label() + ".safetensors");
    }

    /**
     * Why {@code file} cannot serve as the conversion of the source identified by {@code id}, or null when it
     * can.
     */
    private static String staleness(Path file, SourceId id, WeightPrecision precision) {
        if (!Files.isRegularFile(file)) {
            return "no cache file";
        }
        try (ConvertedCheckpoint c = ConvertedCheckpoint.open(file)) {
            Map<String, String> m = c.metadata();
            if (c.precision() != precision) {
                return "cache holds " + c.precision();
            }
            if (!FORMAT_VERSION.equals(m.get(FORMAT))) {
                return "cache layout version " + m.get(FORMAT) + ", current " + FORMAT_VERSION;
            }
            if (!id.name.equals(m.get(SOURCE)) || !Long.toString(id.size).equals(m.get(SOURCE_SIZE))
                    || !Long.toString(id.mtime).equals(m.get(SOURCE_MTIME))) {
                return "stale: cache made from " + m.get(SOURCE) + " of " + m.get(SOURCE_SIZE) + " bytes, time "
                        + m.get(SOURCE_MTIME) + "; source now " + id.name + " of " + id.size + " bytes, time "
                        + id.mtime;
            }
            return null;
        } catch (WeightFormatException e) {
            return "unreadable cache: " + e.getMessage();
        }
    }

    /**
     * Writes {@code ckpt} converted to {@code precision} as a safetensors file at {@code target} (replacing it):
     * floating tensors of rank ≥ 2 as BF16, or I8 plus an F32 {@code <name>.scale}; other floating tensors as F32;
     * integer tensors as I64. Metadata: the checkpoint's, {@code extraMetadata}, the precision and format version.
     * Memory: one packed tensor at a time.
     */
    public static void convert(Checkpoint ckpt, WeightPrecision precision, Path target,
            Map<String, String> extraMetadata) {
        requireLighter(precision);
        SafetensorsWriter w = new SafetensorsWriter();
        ckpt.metadata().forEach(w::metadata);
        extraMetadata.forEach(w::metadata);
        w.metadata(PRECISION, precision.label());
        w.metadata(FORMAT, FORMAT_VERSION);
        List<String> names = new ArrayList<>(ckpt.names());
        try (WeightLoader loader = new WeightLoader(ckpt, precision, true)) {
            for (String name : names) {
                TensorInfo t = ckpt.info(name);
                int[] shape = t.shape();
                if (!ckpt.loadsAsFloat(name)) {
                    long[] v = ckpt.loadLongs(name);
                    w.addLongs(name, v, shape);
                    continue;
                }
                if (!precision.packs(shape)) {
                    w.addStreamed(name, DType.F32, shape, out -> {
                        try (Tensor f = ckpt.load(name)) {
                            writeFloats(f, out);
                        }
                    });
                    continue;
                }
                String scaleName = name + ConvertedCheckpoint.SCALE_SUFFIX;
                if (precision == WeightPrecision.INT8 && ckpt.contains(scaleName)) {
                    throw new WeightFormatException(ckpt.source(), "tensor \"" + scaleName + "\" clashes with the "
                            + "scale tensor of the int8 weight \"" + name + "\"");
                }
                BlockLayout.BlockSpec one = new BlockLayout.BlockSpec(name, Map.of(name, shape));
                PackedBlock[] held = new PackedBlock[1];
                DType stored = precision == WeightPrecision.BF16 ? DType.BF16 : DType.I8;
                w.addStreamed(name, stored, shape, out -> {
                    held[0] = loader.pack(one, () -> { });
                    try {
                        writePacked((PackedWeight) held[0].entry(name), out);
                    } finally {
                        if (precision == WeightPrecision.BF16) {
                            held[0].free();
                            held[0] = null;
                        }
                    }
                });
                if (precision == WeightPrecision.INT8) {
                    w.addStreamed(scaleName, DType.F32, new int[] {shape[0]}, out -> {
                        try {
                            float[] s = ((PackedWeight) held[0].entry(name)).scales();
                            ByteBuffer b = ByteBuffer.allocate(s.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
                            b.asFloatBuffer().put(s);
                            out.write(b.array());
                        } finally {
                            held[0].free();
                            held[0] = null;
                        }
                    });
                }
            }
            w.write(target, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write converted checkpoint " + target, e);
        }
    }

    private static void writePacked(PackedWeight p, OutputStream out) throws IOException {
        int esz = p.format().elementBytes();
        long n = p.size();
        int per = CHUNK_BYTES / esz;
        ByteBuffer b = ByteBuffer.allocate(per * esz);
        for (long e0 = 0; e0 < n; e0 += per) {
            int len = (int) Math.min(per, n - e0);
            b.clear().limit(len * esz);
            p.readRaw(e0, b);
            out.write(b.array(), 0, len * esz);
        }
    }

    private static void writeFloats(Tensor t, OutputStream out) throws IOException {
        long n = t.size();
        int per = CHUNK_BYTES / Float.BYTES;
        float[] f = new float[(int) Math.min(per, Math.max(n, 1))];
        ByteBuffer b = ByteBuffer.allocate(f.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (long e0 = 0; e0 < n; e0 += f.length) {
            int len = (int) Math.min(f.length, n - e0);
            t.read(e0, f, 0, len);
            b.clear();
            b.asFloatBuffer().put(f, 0, len);
            out.write(b.array(), 0, len * Float.BYTES);
        }
    }

    private static void requireLighter(WeightPrecision precision) {
        if (precision == WeightPrecision.FLOAT32) {
            throw new IllegalArgumentException("a converted checkpoint needs precision bf16 or int8, found f32 "
                    + "(read the original instead)");
        }
    }

    /** The files a source consists of: name, total size, latest modification time (ms). */
    private record SourceId(String name, long size, long mtime) {

        static SourceId of(Path source) {
            Path main = mainFile(source);
            if (!Files.isRegularFile(main)) {
                throw new WeightFormatException(source, "no checkpoint file to convert (" + main + ")");
            }
            List<Path> files = new ArrayList<>();
            files.add(main);
            if (main.getFileName().toString().endsWith(".index.json")) {
                try {
                    Object root = Json.parse(Files.readString(main, StandardCharsets.UTF_8));
                    if (root instanceof Map<?, ?> r && r.get("weight_map") instanceof Map<?, ?> wm) {
                        wm.values().stream().map(String::valueOf).distinct().sorted()
                                .forEach(f -> files.add(main.resolveSibling(f)));
                    }
                } catch (IOException e) {
                    throw new WeightFormatException(main, "cannot read index: " + e.getMessage(), e);
                }
            }
            long size = 0;
            long mtime = 0;
            try {
                for (Path f : files) {
                    size += Files.size(f);
                    mtime = Math.max(mtime, Files.getLastModifiedTime(f).toMillis());
                }
            } catch (IOException e) {
                throw new WeightFormatException(main, "cannot stat checkpoint files: " + e.getMessage(), e);
            }
            return new SourceId(main.getFileName().toString(), size, mtime);
        }

        private static Path mainFile(Path source) {
            if (Files.isDirectory(source)) {
                Path index = source.resolve("model.safetensors.index.json");
                return Files.isRegularFile(index) ? index : source.resolve("model.safetensors");
            }
            return source;
        }
    }
}

package io.github.jsora.weights;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.vae.VaeConfig;

/**
 * Random model weights for tests and benchmarks that need no real checkpoint: every tensor of a {@link BlockLayout}
 * filled by an initialisation rule chosen from its name and shape, either in memory ({@link #source}, {@link #tensor})
 * or written as a safetensors checkpoint ({@link #write}: one file; {@link #writeSharded}: Hugging Face shards plus
 * {@code model.safetensors.index.json}), F32, F16 or BF16, streamed so a multi-GB tensor never sits on the heap.
 *
 * <p>The rules ({@link #byName}), first match wins:
 * <ol>
 *   <li>values given with {@link #with} (the VAE's {@code scale}/{@code shift}, extra test tensors);</li>
 *   <li>{@code rope.freqs} [d/2]: the rotary frequencies 10000^(−2i/d) the reference stores;</li>
 *   <li>{@code *scale_shift_table}: standard deviation 0.1 (adaLN-single tables);</li>
 *   <li>{@code shared.weight}, {@code *embed_tokens.weight} (T5 token embeddings): standard deviation 1;</li>
 *   <li>a vector whose last module name contains {@code norm} ({@code q_norm.weight}, {@code layer_norm.weight},
 *       {@code conv_norm_out.weight}, {@code norm1.weight} …) and that ends in {@code .weight} (a norm gain):
 *       1 + standard deviation 0.1;</li>
 *   <li>any other vector (biases): standard deviation 0.05;</li>
 *   <li>rank ≥ 2 (linear and conv weights, {@code y_embedding}, relative attention biases): standard deviation
 *       1/√fan_in, fan_in = the product of all dimensions but the first, so activations of a random network stay of
 *       order 1 through any depth.</li>
 * </ol>
 * Random values are uniform with the rule's mean and standard deviation (mean ± std·√3) and are a pure function of
 * (seed, tensor name, element index): the same seed gives the same values whatever the layout, tensor order,
 * sharding, dtype or chunking, so a file written from a layout holds exactly what {@link #source} serves for it
 * (after the dtype's rounding). Element j of a tensor is the low (j even) or high (j odd) 32 bits of
 * SplitMix64(key + ⌊j/2⌋·γ), key a hash of the seed and the name, read as a signed integer times a·2⁻³¹.
 */
public final class RandomModel {

    /** Floats drawn per chunk when filling or streaming a tensor. */
    private static final int CHUNK = 1 << 16;

    private static final long GAMMA = 0x9E3779B97F4A7C15L;

    /** How the values of one tensor are made. */
    public sealed interface Fill permits Uniform, Exact {
    }

    /** Uniform in mean ± std·√3 (so the standard deviation is {@code std}). */
    public record Uniform(double mean, double std) implements Fill {
    }

    /** The given values (the count must match the shape). */
    public record Exact(float[] values) implements Fill {
        public Exact {
            values = values.clone();
        }
    }

    /**
     * How tensors are stored: a dtype per tensor name (F32, F16 or BF16), whether each file's tensors are sorted
     * by name (as the reference writer does; otherwise in the given order), and {@code __metadata__} strings.
     */
    public record Format(Function<String, DType> dtype, boolean sortNames, Map<String, String> metadata) {

        public Format {
            metadata = new LinkedHashMap<>(metadata);
        }

        /** Every tensor as {@code dtype}, in the given order, no metadata. */
        public static Format of(DType dtype) {
            return new Format(n -> dtype, false, Map.of());
        }

        /** As {@code save_pretrained} writes a PyTorch model: F32, names sorted, metadata {@code format: pt}. */
        public static Format pretrained() {
            return new Format(n -> DType.F32, true, Map.of("format", "pt"));
        }

        /** This format with one more metadata entry. */
        public Format metadata(String key, String value) {
            Map<String, String> m = new LinkedHashMap<>(metadata);
            m.put(key, value);
            return new Format(dtype, sortNames, m);
        }
    }

    private final long seed;
    private final Map<String, float[]> given;

    private RandomModel(long seed, Map<String, float[]> given) {
        this.seed = seed;
        this.given = given;
    }

    /** Random weights of {@code seed} under the rules by name. */
    public static RandomModel seeded(long seed) {
        return new RandomModel(seed, Map.of());
    }

    /**
     * Random VAE weights: the rules by name, with the latent {@code scale}/{@code shift} the configuration's
     * constants, or Open-Sora v1.2's when the configuration leaves them to the checkpoint.
     */
    public static RandomModel vae(VaeConfig cfg, long seed) {
        VaeConfig v12 = VaeConfig.openSoraV12();
        return seeded(seed).with("scale", floats(cfg.scale() != null ? cfg.scale() : v12.scale()))
                .with("shift", floats(cfg.shift() != null ? cfg.shift() : v12.shift()));
    }

    /** This model with the tensor {@code name} holding exactly {@code values} (any shape of that many elements). */
    public RandomModel with(String name, float... values) {
        Map<String, float[]> m = new LinkedHashMap<>(given);
        m.put(name, values.clone());
        return new RandomModel(seed, m);
    }

    /** The tensors of some layouts (name → shape) in forward order; a name in several layouts appears once. */
    public static Map<String, int[]> tensors(BlockLayout... layouts) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (BlockLayout layout : layouts) {
            for (BlockLayout.BlockSpec b : layout.blocks()) {
                m.putAll(b.tensors());
            }
        }
        return m;
    }

    // ------------------------------------------------------------------ rules

    /** The initialisation rule for a tensor (see the class comment). */
    public static Fill byName(String name, int[] shape) {
        if (name.equals("rope.freqs") && shape.length == 1) {
            return new Exact(ropeFreqs(2 * shape[0]));
        }
        if (name.endsWith("scale_shift_table")) {
            return new Uniform(0, 0.1);
        }
        if (name.equals("shared.weight") || name.endsWith("embed_tokens.weight")) {
            return new Uniform(0, 1);
        }
        if (shape.length == 1) {
            String[] parts = name.split("\\.");
            boolean gain = parts.length >= 2 && parts[parts.length - 1].equals("weight")
                    && parts[parts.length - 2].contains("norm");
            return gain ? new Uniform(1, 0.1) : new Uniform(0, 0.05);
        }
        long fanIn = 1;
        for (int i = 1; i < shape.length; i++) {
            fanIn *= shape[i];
        }
        return new Uniform(0, 1 / Math.sqrt(fanIn));
    }

    /** The fill of a tensor: a value given with {@link #with}, else {@link #byName}; checked against the shape. */
    public Fill fill(String name, int[] shape) {
        float[] v = given.get(name);
        Fill f = v != null ? new Exact(v) : byName(name, shape);
        if (f instanceof Exact ex && ex.values().length != count(shape)) {
            throw new IllegalArgumentException("tensor \"" + name + "\" " + Arrays.toString(shape) + " needs "
                    + count(shape) + " values, " + ex.values().length + " were given");
        }
        return f;
    }

    /** Rotary frequencies 10000^(−2i/d), i &lt; d/2, in float32 (the values rotary-embedding-torch stores). */
    private static float[] ropeFreqs(int headDim) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = 1f / (float) Math.pow(10000.0, (float) (2 * i) / headDim);
        }
        return f;
    }

    // ------------------------------------------------------------------ in memory

    /** One tensor (float32). */
    public Tensor tensor(String name, int... shape) {
        Fill fill = fill(name, shape);
        Tensor t = Tensor.zeros(shape);
        float[] buf = new float[(int) Math.min(Math.max(t.size(), 1), CHUNK)];
        for (long off = 0; off < t.size(); off += buf.length) {
            int k = (int) Math.min(buf.length, t.size() - off);
            values(name, fill, off, buf, k);
            t.write(off, buf, 0, k);
        }
        return t;
    }

    /** A resident block source holding every tensor of {@code layout} (closing it frees them). */
    public BlockSource source(BlockLayout layout) {
        return new ResidentBlockSource(layout, blocks(layout));
    }

    /**
     * A resident source for bf16 compute: the same values, with the weights {@code products} names held packed in
     * bfloat16 for {@link Block#packed} and every other tensor of rank ≥ 2 rounded to bfloat16
     * ({@link ResidentBlockSource#bf16Compute}).
     */
    public BlockSource bf16ComputeSource(BlockLayout layout, Predicate<String> products) {
        return ResidentBlockSource.bf16Compute(layout, blocks(layout), products);
    }

    /** Every tensor of {@code layout}, block by block (the caller owns them). */
    public Map<String, ResidentBlockSource.MaterialBlock> blocks(BlockLayout layout) {
        Map<String, ResidentBlockSource.MaterialBlock> blocks = new LinkedHashMap<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            spec.tensors().forEach((name, shape) -> m.put(name, tensor(name, shape)));
            blocks.put(spec.name(), new ResidentBlockSource.MaterialBlock(spec.name(), m));
        }
        return blocks;
    }

    /** Elements {@code start … start+k-1} of tensor {@code name} into {@code dst[0 … k-1]}. */
    private void values(String name, Fill fill, long start, float[] dst, int k) {
        if (fill instanceof Exact ex) {
            System.arraycopy(ex.values(), Math.toIntExact(start), dst, 0, k);
        } else {
            Uniform u = (Uniform) fill;
            uniform(dst, k, mix(seed * GAMMA + nameHash(name)), start, (float) u.mean(),
                    (float) (u.std() * Math.sqrt(3.0)));
        }
    }

    /** Element {@code start + i} of a tensor's uniform stream, mean + amp·U(−1, 1), into {@code dst[i]}, i &lt; k. */
    private static void uniform(float[] dst, int k, long key, long start, float mean, float amp) {
        float scale = amp * 0x1p-31f;
        int i = 0;
        long j = start;
        while (i < k) {
            long r = mix(key + (j >> 1) * GAMMA);
            if ((j & 1) == 0) {
                dst[i++] = mean + (int) r * scale;
                j++;
                if (i == k) {
                    break;
                }
            }
            dst[i++] = mean + (int) (r >>> 32) * scale;
            j++;
        }
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

    // ------------------------------------------------------------------ files

    /** Writes every tensor of {@code layout} as one safetensors file; returns its size. */
    public long write(Path file, BlockLayout layout, Format format) throws IOException {
        return write(file, tensors(layout), format);
    }

    /**
     * Writes {@code tensors} (name → shape) as one safetensors file through {@link SafetensorsWriter} (a temporary
     * sibling moved into place, replacing an existing file); returns its size.
     */
    public long write(Path file, Map<String, int[]> tensors, Format format) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        format.metadata().forEach(w::metadata);
        for (Map.Entry<String, int[]> e : (format.sortNames() ? new TreeMap<>(tensors) : tensors).entrySet()) {
            String name = e.getKey();
            int[] shape = e.getValue();
            DType dt = format.dtype().apply(name);
            if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16) {
                throw new IllegalArgumentException("random tensor \"" + name + "\" must be F32, F16 or BF16, not "
                        + dt);
            }
            Fill fill = fill(name, shape);
            w.addStreamed(name, dt, shape, out -> stream(out, name, fill, count(shape), dt));
        }
        w.write(file, true);
        return Files.size(file);
    }

    private void stream(OutputStream out, String name, Fill fill, long n, DType dt) throws IOException {
        float[] v = new float[CHUNK];
        ByteBuffer b = ByteBuffer.allocate(CHUNK * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (long off = 0; off < n; off += CHUNK) {
            int k = (int) Math.min(CHUNK, n - off);
            values(name, fill, off, v, k);
            b.clear();
            for (int i = 0; i < k; i++) {
                switch (dt) {
                    case F32 -> b.putFloat(v[i]);
                    case BF16 -> b.putShort(DType.floatToBf16(v[i]));
                    default -> b.putShort(DType.floatToHalf(v[i]));
                }
            }
            out.write(b.array(), 0, b.position());
        }
    }

    /**
     * Writes {@code dir/model-0000k-of-0000n.safetensors} shards of at most {@code maxShardBytes} tensor bytes each
     * (a larger tensor gets a shard of its own), filled in the given order, and {@code dir/model.safetensors.index.json}
     * ({@code {"metadata": {"total_size": N}, "weight_map": {...}}}, keys sorted, two-space indent); shards of an
     * earlier write with another count are deleted. Returns the shard paths.
     */
    public List<Path> writeSharded(Path dir, Map<String, int[]> tensors, Format format, long maxShardBytes)
            throws IOException {
        List<Map<String, int[]>> shards = new ArrayList<>();
        Map<String, int[]> cur = new LinkedHashMap<>();
        long curBytes = 0;
        long total = 0;
        for (Map.Entry<String, int[]> e : tensors.entrySet()) {
            long b = count(e.getValue()) * format.dtype().apply(e.getKey()).bytes();
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
            write(p, shards.get(k), format);
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
            idx.append("    ").append(SafetensorsWriter.quote(e.getKey())).append(": ")
                    .append(SafetensorsWriter.quote(e.getValue())).append(++i < weightMap.size() ? ",\n" : "\n");
        }
        idx.append("  }\n}\n");
        Files.writeString(dir.resolve("model.safetensors.index.json"), idx, StandardCharsets.UTF_8);
        return paths;
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private static float[] floats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }
}

package io.github.jsora.weights;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import io.github.jsora.tensor.Tensor;

/**
 * A checkpoint split over several safetensors shards, described by a {@code model.safetensors.index.json}
 * ({@code {"metadata": {...}, "weight_map": {"tensor name": "shard file name", ...}}}), the layout Hugging Face
 * uses for large models such as {@code DeepFloyd/t5-v1_1-xxl}.
 *
 * <p>Opening checks that every shard exists and holds every tensor the index assigns to it; tensors present in a
 * shard but not named in the index are ignored.
 */
public final class ShardedCheckpoint implements Checkpoint {

    private final Path index;
    private final Map<String, SafetensorsFile> shardOf; // tensor name → shard, sorted
    private final Map<String, SafetensorsFile> shards;  // file name → shard
    private final Map<String, String> metadata;

    private ShardedCheckpoint(Path index, Map<String, SafetensorsFile> shardOf, Map<String, SafetensorsFile> shards,
            Map<String, String> metadata) {
        this.index = index;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
    }

    /**
     * Refuses a shard whose real path (symbolic links followed) leaves the real checkpoint directory: the index
     * names files inside its directory only, so a link elsewhere is never opened.
     */
    private static void checkInside(Path index, Path dir, String file, Path shardPath) {
        try {
            Path realDir = dir.toRealPath();
            Path real = shardPath.toRealPath();
            if (!real.startsWith(realDir)) {
                throw new WeightFormatException(index, "shard \"" + file + "\" is a link to a file outside the "
                        + "checkpoint directory; not opened");
            }
        } catch (IOException e) {
            throw new WeightFormatException(index, "cannot resolve shard \"" + file + "\": " + e.getMessage(), e);
        }
    }

    /** Opens the index file and all shards it names (relative to the index's directory). */
    public static ShardedCheckpoint open(Path index) {
        String text;
        try {
            text = Files.readString(index, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new WeightFormatException(index, "cannot read index: " + e.getMessage(), e);
        }
        Map<String, Object> root;
        try {
            root = Json.parseObject(text);
        } catch (Json.JsonException e) {
            throw new WeightFormatException(index, "index is not valid JSON: " + e.getMessage());
        }
        if (!(root.get("weight_map") instanceof Map<?, ?> wm)) {
            throw new WeightFormatException(index, "index has no \"weight_map\" object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        if (root.get("metadata") instanceof Map<?, ?> md) {
            for (Map.Entry<?, ?> e : md.entrySet()) {
                metadata.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
            }
        }
        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, SafetensorsFile> shardOf = new TreeMap<>();
        try {
            for (Map.Entry<?, ?> e : wm.entrySet()) {
                String name = String.valueOf(e.getKey());
                if (!(e.getValue() instanceof String file)) {
                    throw new WeightFormatException(index, "weight_map entry \"" + name + "\" is not a file name");
                }
                Path shardPath = dir.resolve(file).normalize();
                if (!shardPath.startsWith(dir)) {
                    throw new WeightFormatException(index, "shard \"" + file + "\" lies outside the checkpoint "
                            + "directory");
                }
                SafetensorsFile shard = shards.get(file);
                if (shard == null) {
                    if (!Files.isRegularFile(shardPath)) {
                        throw new WeightFormatException(index, "missing shard file " + shardPath);
                    }
                    checkInside(index, dir, file, shardPath);
                    shard = SafetensorsFile.open(shardPath);
                    shards.put(file, shard);
                }
                if (!shard.contains(name)) {
                    throw new WeightFormatException(index, "tensor \"" + name + "\" is named in the index but absent "
                            + "from shard " + file);
                }
                shardOf.put(name, shard);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        if (!shards.isEmpty()) {
            shards.values().iterator().next().metadata().forEach(metadata::putIfAbsent);
        }
        return new ShardedCheckpoint(index, Collections.unmodifiableMap(shardOf),
                Collections.unmodifiableMap(shards), Collections.unmodifiableMap(metadata));
    }

    @Override
    public Path source() {
        return index;
    }

    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    /** The shard holding tensor {@code name}. @throws WeightFormatException when absent */
    SafetensorsFile shardFor(String name) {
        return shard(name);
    }

    private SafetensorsFile shard(String name) {
        SafetensorsFile s = shardOf.get(name);
        if (s == null) {
            throw new WeightFormatException(index, "no tensor named \"" + name + "\"");
        }
        return s;
    }

    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public void loadInto(String name, Tensor dst) {
        shard(name).loadInto(name, dst);
    }

    @Override
    public long[] loadLongs(String name) {
        return shard(name).loadLongs(name);
    }

    /** The shard files, in index order. */
    public Map<String, SafetensorsFile> shards() {
        return shards;
    }

    @Override
    public void close() {
        shards.values().forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "ShardedCheckpoint[" + index + ", " + shards.size() + " shards, " + shardOf.size() + " tensors]";
    }
}

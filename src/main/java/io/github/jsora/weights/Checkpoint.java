package io.github.jsora.weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.github.jsora.tensor.Tensor;

/**
 * Named tensors of a model checkpoint: one safetensors file ({@link SafetensorsFile}) or a sharded set with an
 * index ({@link ShardedCheckpoint}). Tensors are read from memory-mapped files and converted to float32 on load;
 * nothing is read onto the heap in whole.
 *
 * <p>Thread-safe for concurrent loads (the block store's loader thread and the compute thread may both read).
 */
public interface Checkpoint extends AutoCloseable {

    /** Where the checkpoint was read from (file or directory), for messages. */
    Path source();

    /** All tensor names, sorted. */
    Set<String> names();

    /** True when a tensor of this exact name exists. */
    boolean contains(String name);

    /** Header entry of a tensor. @throws WeightFormatException naming the checkpoint when absent */
    TensorInfo info(String name);

    /** Names that start with {@code prefix} (a block is a prefix such as {@code spatial_blocks.3.}), sorted. */
    default List<String> namesWithPrefix(String prefix) {
        return names().stream().filter(n -> n.startsWith(prefix)).toList();
    }

    /**
     * True when {@link #load} gives the float values of tensor {@code name}: a floating dtype, or (in a
     * {@link ConvertedCheckpoint}) an int8 weight with its scales. @throws WeightFormatException when absent
     */
    default boolean loadsAsFloat(String name) {
        return info(name).dtype().isFloating();
    }

    /** Free-form string metadata ({@code __metadata__}; for sharded checkpoints the first shard's plus the index's). */
    Map<String, String> metadata();

    /** Reads a floating tensor into a new float32 tensor of its shape. */
    default Tensor load(String name) {
        TensorInfo info = info(name);
        Tensor t = Tensor.zeros(info.shape());
        try {
            loadInto(name, t);
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
        return t;
    }

    /** Reads a tensor (converted to float32) into {@code dst}, which must have the same element count. */
    void loadInto(String name, Tensor dst);

    /** Reads an integer tensor (I64 or I32) as longs. */
    long[] loadLongs(String name);

    /** Releases the mappings. */
    @Override
    void close();

    /**
     * Opens a checkpoint: a {@code .safetensors} file, or a directory holding {@code model.safetensors.index.json}
     * (sharded) or a single {@code model.safetensors}.
     */
    static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) {
            Path index = path.resolve("model.safetensors.index.json");
            if (Files.isRegularFile(index)) {
                return ShardedCheckpoint.open(index);
            }
            Path single = path.resolve("model.safetensors");
            if (Files.isRegularFile(single)) {
                return SafetensorsFile.open(single);
            }
            throw new WeightFormatException(path, "directory holds neither model.safetensors.index.json nor "
                    + "model.safetensors");
        }
        if (!Files.exists(path)) {
            throw new WeightFormatException(path, "no such file");
        }
        if (path.getFileName().toString().endsWith(".index.json")) {
            return ShardedCheckpoint.open(path);
        }
        return SafetensorsFile.open(path);
    }
}

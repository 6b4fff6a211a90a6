package io.github.jsora.weights;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a model's checkpoint splits into blocks: an ordered list of named groups of tensors with their expected
 * shapes, in the order a forward pass uses them. Models build their layout from their config; the layout checks a
 * checkpoint against it (missing, extra or mis-shaped tensors fail with the name and both shapes) before anything
 * is loaded.
 */
public final class BlockLayout {

    /** One block: a name and its tensors (full checkpoint name → expected shape). */
    public record BlockSpec(String name, Map<String, int[]> tensors) {

        public BlockSpec {
            tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        }

        /** Bytes of the block once materialised as float32. */
        public long float32Bytes() {
            long b = 0;
            for (int[] s : tensors.values()) {
                long n = 1;
                for (int d : s) {
                    n *= d;
                }
                b += n * Float.BYTES;
            }
            return b;
        }
    }

    private final List<BlockSpec> blocks;
    private final Map<String, BlockSpec> byName;

    private BlockLayout(List<BlockSpec> blocks) {
        this.blocks = Collections.unmodifiableList(blocks);
        Map<String, BlockSpec> m = new LinkedHashMap<>();
        for (BlockSpec b : blocks) {
            if (m.put(b.name(), b) != null) {
                throw new IllegalArgumentException("duplicate block name " + b.name());
            }
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    /** Builder adding blocks in forward order. */
    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final List<BlockSpec> blocks = new ArrayList<>();
        private Map<String, int[]> current;
        private String currentName;

        /** Starts a new block. */
        public Builder block(String name) {
            flush();
            currentName = name;
            current = new LinkedHashMap<>();
            return this;
        }

        /** Adds a tensor of the current block. */
        public Builder tensor(String fullName, int... shape) {
            if (current == null) {
                throw new IllegalStateException("tensor before block");
            }
            current.put(fullName, shape.clone());
            return this;
        }

        private void flush() {
            if (current != null) {
                blocks.add(new BlockSpec(currentName, current));
            }
        }

        public BlockLayout build() {
            flush();
            current = null;
            return new BlockLayout(new ArrayList<>(blocks));
        }
    }

    /** Blocks in forward order. */
    public List<BlockSpec> blocks() {
        return blocks;
    }

    public BlockSpec block(String name) {
        BlockSpec b = byName.get(name);
        if (b == null) {
            throw new IllegalArgumentException("no block named " + name + " (blocks: " + byName.keySet() + ")");
        }
        return b;
    }

    /** Total float32 bytes of all blocks. */
    public long float32Bytes() {
        return blocks.stream().mapToLong(BlockSpec::float32Bytes).sum();
    }

    /**
     * Checks a checkpoint against the layout: every tensor present with its shape; tensors of the checkpoint that
     * no block names are reported as extra unless {@code ignoredPrefixes} covers them.
     *
     * @throws WeightFormatException naming the first missing, mis-shaped or extra tensor
     */
    public void validate(Checkpoint ckpt, String... ignoredPrefixes) {
        java.util.Set<String> expected = new java.util.HashSet<>();
        for (BlockSpec b : blocks) {
            for (Map.Entry<String, int[]> e : b.tensors().entrySet()) {
                expected.add(e.getKey());
                if (!ckpt.contains(e.getKey())) {
                    throw new WeightFormatException(ckpt.source() + ": missing tensor \"" + e.getKey()
                            + "\" (expected shape " + Arrays.toString(e.getValue()) + ")");
                }
                TensorInfo info = ckpt.info(e.getKey());
                if (!Arrays.equals(info.shape(), e.getValue())) {
                    throw new WeightFormatException(ckpt.source() + ": tensor \"" + e.getKey() + "\" has shape "
                            + info.shapeString() + ", expected " + Arrays.toString(e.getValue()));
                }
                if (!ckpt.loadsAsFloat(e.getKey())) {
                    throw new WeightFormatException(ckpt.source() + ": tensor \"" + e.getKey() + "\" is "
                            + info.dtype() + ", expected a floating type");
                }
            }
        }
        outer:
        for (String n : ckpt.names()) {
            if (expected.contains(n)) {
                continue;
            }
            for (String p : ignoredPrefixes) {
                if (n.startsWith(p)) {
                    continue outer;
                }
            }
            throw new WeightFormatException(ckpt.source() + ": unexpected tensor \"" + n + "\" "
                    + ckpt.info(n).shapeString() + " (not part of this model's configuration)");
        }
    }

    /**
     * Checks a block count of a configuration against a checkpoint before any layout of that size is built: the
     * checkpoint's tensors named {@code prefix + i + "."} must have exactly the indices 0 … expected − 1.
     *
     * @param ckpt     the checkpoint
     * @param prefix   the tensor-name prefix of the counted blocks, e.g. {@code "spatial_blocks."}
     * @param expected the count the configuration gives
     * @param key      the configuration key, for the message (e.g. {@code "depth"})
     * @throws WeightFormatException naming the checkpoint, the key and both counts
     */
    public static void requireBlockCount(Checkpoint ckpt, String prefix, int expected, String key) {
        java.util.TreeMap<Integer, String> firstName = new java.util.TreeMap<>();   // index → a tensor of it
        for (String n : ckpt.names()) {
            if (!n.startsWith(prefix)) {
                continue;
            }
            int end = n.indexOf('.', prefix.length());
            if (end <= prefix.length() || end - prefix.length() > 6) {
                continue;
            }
            String idx = n.substring(prefix.length(), end);
            if (idx.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
                firstName.merge(Integer.parseInt(idx), n, (a, b) -> a.compareTo(b) <= 0 ? a : b);
            }
        }
        int found = firstName.size();
        Integer beyond = firstName.ceilingKey(expected);
        int missing = -1;
        for (int i = 0; i < expected && missing < 0; i++) {
            if (!firstName.containsKey(i)) {
                missing = i;
            }
        }
        if (beyond != null || missing >= 0) {
            throw new WeightFormatException(ckpt.source(), "config.json gives " + key + " = " + expected
                    + ", but the checkpoint has " + found + " blocks " + prefix + "N: "
                    + (beyond != null ? "unexpected tensor \"" + firstName.get(beyond) + "\""
                            : "no tensor of block " + prefix + missing));
        }
    }
}

package io.github.jsora.weights;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

import io.github.jsora.tensor.Tensor;

/**
 * A {@link BlockSource} that materialises every block once, up front, and keeps them all resident.
 *
 * <p>In a lighter {@link WeightPrecision} the blocks are kept packed, and each {@link #acquire} returns a float32
 * working copy expanded from the packed block, freed by {@link #release} (so a caller must release what it
 * acquires). In float32 the resident block itself is returned and release does nothing.
 *
 * <p>Thread-safe for acquire and release.
 */
public final class ResidentBlockSource implements BlockSource {

    private final BlockLayout layout;
    private final WeightPrecision precision;
    private final Map<String, Block> blocks = new LinkedHashMap<>();
    private final Map<String, PackedBlock> packed = new LinkedHashMap<>();
    private final Map<Block, Boolean> workingCopies = new IdentityHashMap<>(); // guarded by this

    /** Validates nothing by itself: call {@link BlockLayout#validate} first. Loads every block of the layout. */
    public ResidentBlockSource(Checkpoint ckpt, BlockLayout layout) {
        this(ckpt, layout, WeightPrecision.FLOAT32);
    }

    /**
     * Loads every block of the layout in {@code precision} (packed unless {@link WeightPrecision#FLOAT32}, which
     * is exactly the two-argument constructor). Validates nothing by itself: call {@link BlockLayout#validate}.
     */
    public ResidentBlockSource(Checkpoint ckpt, BlockLayout layout, WeightPrecision precision) {
        this.layout = layout;
        this.precision = precision;
        if (precision != WeightPrecision.FLOAT32) {
            try (WeightLoader loader = new WeightLoader(ckpt, precision, true)) {
                for (BlockLayout.BlockSpec spec : layout.blocks()) {
                    packed.put(spec.name(), loader.pack(spec, () -> { }));
                }
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
            return;
        }
        try {
            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                blocks.put(spec.name(), materialise(ckpt, spec));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Loads every block of the layout in the form bf16 compute uses ({@link BlockStore.Options#withPackedProducts}):
     * the weights {@code products} names packed to bfloat16 and handed out by {@link Block#packed}, never expanded;
     * the other tensors float32 with the bf16 rounding. Acquire returns the resident block; release does nothing.
     * Validates nothing by itself: call {@link BlockLayout#validate}.
     */
    public ResidentBlockSource(Checkpoint ckpt, BlockLayout layout, Predicate<String> products) {
        java.util.Objects.requireNonNull(products, "product weights");
        this.layout = layout;
        this.precision = WeightPrecision.BF16;
        try (WeightLoader loader = new WeightLoader(ckpt, WeightPrecision.BF16, true)) {
            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                blocks.put(spec.name(), loader.loadCompute(spec, products, () -> { }));
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private ResidentBlockSource(BlockLayout layout, Map<String, Block> computeBlocks, WeightPrecision precision) {
        this.layout = layout;
        this.precision = precision;
        blocks.putAll(computeBlocks);
    }

    /**
     * A bf16-compute source over float32 blocks already in memory (random weights for tests and benchmarks),
     * taking ownership of them: the weights {@code products} names packed to bfloat16 (their float32 tensors
     * freed), the other tensors of rank ≥ 2 rounded to bfloat16 in place; the same values as
     * {@link #ResidentBlockSource(Checkpoint, BlockLayout, Predicate)} over a checkpoint of these blocks.
     */
    public static ResidentBlockSource bf16Compute(BlockLayout layout, Map<String, MaterialBlock> materialBlocks,
            Predicate<String> products) {
        Map<String, Block> m = new LinkedHashMap<>();
        try {
            for (BlockLayout.BlockSpec spec : layout.blocks()) {
                MaterialBlock b = materialBlocks.get(spec.name());
                if (b == null) {
                    throw new IllegalArgumentException("no material block for layout block " + spec.name());
                }
                m.put(spec.name(), ComputeBlock.of(b, products));
            }
        } catch (RuntimeException | Error e) {
            m.values().forEach(ComputeBlock::freeOwned);
            throw e;
        }
        return new ResidentBlockSource(layout, m, WeightPrecision.BF16);
    }

    /**
     * A resident source over blocks already in memory (random weights for tests and benchmarks, weights built in
     * code). Every block of the layout must be present; closing the source frees them.
     */
    public ResidentBlockSource(BlockLayout layout, Map<String, MaterialBlock> materialBlocks) {
        this.layout = layout;
        this.precision = WeightPrecision.FLOAT32;
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            MaterialBlock b = materialBlocks.get(spec.name());
            if (b == null) {
                throw new IllegalArgumentException("no material block for layout block " + spec.name());
            }
            blocks.put(spec.name(), b);
        }
    }

    /** Reads one block's tensors from the checkpoint into new float32 tensors. */
    public static MaterialBlock materialise(Checkpoint ckpt, BlockLayout.BlockSpec spec) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                Tensor t = Tensor.zeros(e.getValue());
                m.put(e.getKey(), t);
                ckpt.loadInto(e.getKey(), t);
            }
        } catch (RuntimeException e) {
            m.values().forEach(Tensor::close);
            throw e;
        }
        return new MaterialBlock(spec.name(), m);
    }

    /** A block held in tensors it owns; {@link #free()} releases their memory. */
    public static final class MaterialBlock implements Block {
        private final String name;
        private final Map<String, Tensor> tensors;
        private final long bytes;

        public MaterialBlock(String name, Map<String, Tensor> tensors) {
            this.name = name;
            this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            this.bytes = tensors.values().stream().mapToLong(Tensor::ownedBytes).sum();
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Tensor get(String tensorName) {
            Tensor t = tensors.get(tensorName);
            if (t == null) {
                throw new WeightFormatException("block " + name + " has no tensor \"" + tensorName + "\"");
            }
            return t;
        }

        @Override
        public Map<String, Tensor> tensors() {
            return tensors;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        public void free() {
            tensors.values().forEach(Tensor::close);
        }
    }

    @Override
    public BlockLayout layout() {
        return layout;
    }

    /** The precision blocks are kept in. */
    public WeightPrecision precision() {
        return precision;
    }

    @Override
    public Block acquire(String blockName) {
        PackedBlock p = packed.get(blockName);
        if (p != null) {
            MaterialBlock copy = p.expand();
            synchronized (this) {
                workingCopies.put(copy, Boolean.TRUE);
            }
            return copy;
        }
        Block b = blocks.get(blockName);
        if (b == null) {
            throw new IllegalArgumentException("no block named " + blockName);
        }
        return b;
    }

    /** Frees a working copy (lighter precisions); float32: nothing to do. */
    @Override
    public void release(Block block) {
        boolean copy;
        synchronized (this) {
            copy = workingCopies.remove(block) != null;
        }
        if (copy) {
            ((MaterialBlock) block).free();
        }
    }

    /** Bytes of all resident blocks (packed sizes in a lighter precision; working copies not included). */
    public long bytes() {
        return blocks.values().stream().mapToLong(Block::bytes).sum()
                + packed.values().stream().mapToLong(PackedBlock::bytes).sum();
    }

    /** Frees every block, and the working copies not yet released. */
    @Override
    public void close() {
        for (Block b : blocks.values()) {
            ComputeBlock.freeOwned(b);
        }
        blocks.clear();
        packed.values().forEach(PackedBlock::free);
        packed.clear();
        synchronized (this) {
            workingCopies.keySet().forEach(b -> ((MaterialBlock) b).free());
            workingCopies.clear();
        }
    }
}

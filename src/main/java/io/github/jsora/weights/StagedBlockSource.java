package io.github.jsora.weights;

import java.util.Arrays;
import java.util.function.Predicate;

/**
 * The block source a model is built over once, whose residency is chosen per stage: {@link #open} puts a
 * {@link BlockStore} with the given options behind it (a budget of {@link Long#MAX_VALUE} keeps every block
 * resident once loaded), {@link #closeStore} frees every block. Opening again with the same options keeps the store
 * and its resident blocks, so a model kept between requests loads nothing the second time.
 *
 * <p>Between {@code closeStore} and the next {@code open} the source has no blocks: {@link #acquire} then fails with
 * an {@link IllegalStateException}. Does not own the checkpoint. Thread-safe to open and close while no block is
 * held; acquire and release follow the {@link BlockStore} protocol.
 */
public final class StagedBlockSource implements BlockSource {

    private final Checkpoint ckpt;
    private final BlockLayout layout;
    private final long[] blockBytes;
    private final long totalBytes;
    private final WeightPrecision precision;
    private final Predicate<String> products; // bf16 compute: product weights handed out packed; else null
    private volatile BlockStore store;

    /** Checks that every tensor of the layout is in the checkpoint with its shape and a floating dtype. */
    public StagedBlockSource(Checkpoint ckpt, BlockLayout layout) {
        this(ckpt, layout, WeightPrecision.FLOAT32);
    }

    /**
     * A source whose stores keep resident blocks in {@code precision} ({@link BlockStore.Options#withPrecision}),
     * expanded to float32 working copies when acquired.
     */
    public StagedBlockSource(Checkpoint ckpt, BlockLayout layout, WeightPrecision precision) {
        this(ckpt, layout, precision, null);
    }

    /**
     * A source for bf16 compute when {@code products} is not null: its stores hand out the weights it names packed
     * to bfloat16 ({@link BlockStore.Options#withPackedProducts}, the precision is then bf16); with null the same
     * as {@link #StagedBlockSource(Checkpoint, BlockLayout, WeightPrecision)}.
     */
    public StagedBlockSource(Checkpoint ckpt, BlockLayout layout, WeightPrecision precision,
            Predicate<String> products) {
        this.ckpt = ckpt;
        this.layout = layout;
        this.precision = products != null ? WeightPrecision.BF16 : precision;
        this.products = products;
        long[] f32 = BlockStore.blockBytes(ckpt, layout); // validates
        // the bytes a store plans with: each block in the form the store holds it
        this.blockBytes = products != null ? BlockStore.computeBytes(layout, products) : f32;
        if (products != null) {
            this.totalBytes = Arrays.stream(blockBytes).sum();
        } else if (this.precision == WeightPrecision.FLOAT32) {
            this.totalBytes = Arrays.stream(blockBytes).sum();
        } else {
            // every block packed, plus the float32 working copy of the one computing
            this.totalBytes = Arrays.stream(BlockStore.blockBytes(ckpt, layout, precision)).sum()
                    + Arrays.stream(f32).max().orElse(0);
        }
    }

    /** The precision resident blocks are kept in. */
    public WeightPrecision precision() {
        return precision;
    }

    /** True when the stores hand out packed product weights for bf16 compute. */
    public boolean bf16Compute() {
        return products != null;
    }

    /** The checkpoint the blocks come from. */
    public Checkpoint checkpoint() {
        return ckpt;
    }

    /** Bytes of the whole model resident (packed when the precision is lighter, with one float32 working copy). */
    public long totalBytes() {
        return totalBytes;
    }

    /** Bytes of each block once materialised, in layout order. */
    public long[] blockBytes() {
        return blockBytes.clone();
    }

    /** The smallest store budget that runs this model with {@code prefetchDepth} blocks loading ahead. */
    public long requiredBudget(int prefetchDepth) {
        return ResidencyPlan.requiredBudget(blockBytes, prefetchDepth);
    }

    /**
     * Puts a store with these options (in this source's precision) behind the source; keeps the current one
     * (and its resident blocks) when the
     * options are the same, else closes it first.
     */
    public synchronized void open(BlockStore.Options requested) {
        BlockStore.Options options = requested.withPrecision(precision).withPackedProducts(products);
        BlockStore s = store;
        if (s != null && s.options().equals(options)) {
            s.resetStats();
            return;
        }
        closeStore();
        store = new BlockStore(ckpt, layout, options);
    }

    /** True while a store is behind the source. */
    public boolean isOpen() {
        return store != null;
    }

    /** The options of the current store, or null. */
    public BlockStore.Options options() {
        BlockStore s = store;
        return s == null ? null : s.options();
    }

    /** The current store's counters, or null when none is open. */
    public BlockStoreStats stats() {
        BlockStore s = store;
        return s == null ? null : s.stats();
    }

    /** Block bytes the current store holds now (0 when closed). */
    public long residentBytes() {
        BlockStore s = store;
        return s == null ? 0 : s.stats().residentBytes();
    }

    /** Frees every block and the store's loader. Idempotent. */
    public synchronized void closeStore() {
        BlockStore s = store;
        store = null;
        if (s != null) {
            s.close();
        }
    }

    @Override
    public BlockLayout layout() {
        return layout;
    }

    @Override
    public Block acquire(String blockName) {
        BlockStore s = store;
        if (s == null) {
            throw new IllegalStateException("no block store is open for " + ckpt.source()
                    + ": the generator opens one per stage");
        }
        return s.acquire(blockName);
    }

    @Override
    public void release(Block block) {
        BlockStore s = store;
        if (s != null) {
            s.release(block);
        }
    }

    /** Closes the store (not the checkpoint). */
    @Override
    public void close() {
        closeStore();
    }
}

package io.github.jsora.weights;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.ResidentBlockSource.MaterialBlock;

/**
 * The CI-DL block store (concurrent inference with dynamic loading): a {@link BlockSource} that materialises the
 * blocks of a model from a mapped {@link Checkpoint} under a hard byte budget, keeps the blocks its
 * {@link ResidencyPlan} selects resident across passes, streams the others, and loads ahead on a loader thread
 * while the current block computes.
 *
 * <p><b>Loading.</b> Materialising a block reads its tensors from the checkpoint, converted to float32, into native
 * tensors the store owns. Safetensors checkpoints are read with positional reads by default, so that streamed
 * weights do not stay in the process's resident set as touched pages of the mapping (see
 * {@link PositionalTensorReader}; {@link Options#withMappedReads()} reads through the mapping). With prefetch on ({@link Options#prefetchDepth()} ≥ 1) a daemon loader thread loads the
 * blocks that follow the one last acquired, in layout order (cyclically: a denoising loop runs the layout again and
 * again; {@link Options#singlePass()} stops at the end of the layout, for the text encoder), as far ahead as the
 * budget allows; the loader starts with block 0 as soon as the store is built. With prefetch off, {@link #acquire}
 * loads the block in the calling thread and only one streamed block is ever held.
 *
 * <p><b>Budget.</b> Bytes are accounted <em>before</em> a block is allocated: resident blocks own their planned
 * share, streamed blocks share the rest ({@code budget − resident bytes}, at least the plan's reserve of
 * {@code 1 + prefetchDepth} blocks), so the block memory never exceeds the budget. Only block weights count:
 * activations, the mapped file and the JVM are outside the budget.
 *
 * <p><b>Protocol.</b> Acquire a block, compute, release it before acquiring the next (a caller may hold more blocks
 * at once only if the budget has room for them; otherwise {@code acquire} fails with an
 * {@link IllegalStateException} rather than waiting forever). Blocks may be acquired out of order: prefetched
 * blocks are then evicted as needed. A resident block stays until {@link #close()}; a streamed block is freed when
 * its last holder releases it.
 *
 * <p><b>Errors and cancellation.</b> A failure on the loader thread (a file truncated after opening, an
 * out-of-memory, ...) is recorded and every following or waiting {@code acquire} throws a
 * {@link BlockLoadException} with the original failure as cause; the store does no further loading. A thread
 * interrupted while waiting in {@code acquire} gets a {@link CancellationException} (interrupt flag kept).
 * {@link #close()} stops the loader (it finishes at most the tensor it is reading), frees every block not held and
 * frees held blocks as they are released; {@code acquire} after close throws {@link IllegalStateException}. The
 * store never closes the checkpoint.
 *
 * <p><b>Precision.</b> With {@link Options#withPrecision} BF16 or INT8, resident blocks are kept packed (their
 * weights of rank ≥ 2 as bfloat16, or int8 with a scale per row) and each {@code acquire} of a resident block
 * returns a float32 <em>working copy</em> expanded from it in the calling thread, freed by {@code release}.
 * Streamed blocks are read as float32 with the same rounding applied, so results do not depend on the budget.
 * The plan ({@link ResidencyPlan#planPacked}) counts resident blocks at their packed size and keeps room for the
 * block computing in float32 plus the prefetched streamed blocks; working copies are accounted like streamed
 * blocks, before they are allocated. With FLOAT32 (the default) the store behaves exactly as without the option.
 *
 * <p><b>bf16 compute.</b> With {@link Options#withPackedProducts} every block, resident or streamed, is loaded once
 * (on the loader thread) into the form bf16 compute uses: the model's product weights packed to bfloat16 and handed
 * out as such ({@link Block#packed}), never expanded; the other tensors float32 with the bf16 rounding. There are no
 * working copies: {@code acquire} returns the held block as in float32, and the plan counts each block at that size
 * ({@link #computeBytes}), about half the float32 size for a transformer block. Resident and streamed blocks are
 * the same values, so results do not depend on the budget.
 *
 * <p><b>Accounting.</b> {@link #stats()} returns an immutable {@link BlockStoreStats}; {@link #resetStats()} starts
 * a new generation.
 *
 * <p>Thread-safe; meant for one compute thread (plus the store's loader and any thread reading stats).
 */
public final class BlockStore implements BlockSource {

    private static final Logger LOG = LoggerFactory.getLogger(BlockStore.class);

    /**
     * How a store runs.
     *
     * @param budgetBytes   hard limit on block memory, bytes ({@link Long#MAX_VALUE}: everything resident)
     * @param prefetchDepth streamed blocks reserved to load while one computes; 0 disables the loader thread
     * @param cyclic        true when passes repeat (denoising loop): the loader wraps from the last block to the
     *                      first; false for a model run once per request (text encoder)
     * @param mappedReads   read tensors through the checkpoint's memory mapping ({@link Checkpoint#loadInto})
     *                      instead of positional reads; touched pages of the mapping then count in the process's
     *                      resident set for as long as the checkpoint is open (see {@link PositionalTensorReader})
     * @param precision     the form resident blocks are kept in ({@link WeightPrecision#FLOAT32}: as today)
     * @param packedProducts for bf16 compute: the product weights to hand out packed ({@link Block#packed}), or
     *                      null (blocks are float32); requires {@link WeightPrecision#BF16}
     */
    public record Options(long budgetBytes, int prefetchDepth, boolean cyclic, boolean mappedReads,
            WeightPrecision precision, Predicate<String> packedProducts) {

        public Options {
            if (budgetBytes <= 0) {
                throw new IllegalArgumentException("block budget must be > 0 bytes, found " + budgetBytes);
            }
            if (prefetchDepth < 0) {
                throw new IllegalArgumentException("prefetch depth must be >= 0, found " + prefetchDepth);
            }
            if (precision == null) {
                throw new IllegalArgumentException("weight precision must not be null (use FLOAT32)");
            }
            if (packedProducts != null && precision != WeightPrecision.BF16) {
                throw new IllegalArgumentException("packed product weights (bf16 compute) need bf16 weights, found "
                        + precision);
            }
        }

        /** Options keeping resident blocks in {@code precision}, handing out float32 blocks. */
        public Options(long budgetBytes, int prefetchDepth, boolean cyclic, boolean mappedReads,
                WeightPrecision precision) {
            this(budgetBytes, prefetchDepth, cyclic, mappedReads, precision, null);
        }

        /** Float32 options. */
        public Options(long budgetBytes, int prefetchDepth, boolean cyclic, boolean mappedReads) {
            this(budgetBytes, prefetchDepth, cyclic, mappedReads, WeightPrecision.FLOAT32);
        }

        /** The same keeping resident blocks in {@code precision}. */
        public Options withPrecision(WeightPrecision precision) {
            return new Options(budgetBytes, prefetchDepth, cyclic, mappedReads, precision, null);
        }

        /**
         * The same for bf16 compute: bf16 weights, the weights {@code products} names handed out packed and never
         * expanded to float32 (null: float32 blocks in {@link #precision()}).
         */
        public Options withPackedProducts(Predicate<String> products) {
            return new Options(budgetBytes, prefetchDepth, cyclic, mappedReads,
                    products == null ? precision : WeightPrecision.BF16, products);
        }

        /** A budget in bytes, prefetch of one block ahead, cyclic passes. */
        public static Options budget(long bytes) {
            return new Options(bytes, 1, true, false);
        }

        /** No limit: every block stays resident once loaded; prefetch of one block ahead. */
        public static Options unlimited() {
            return new Options(Long.MAX_VALUE, 1, true, false);
        }

        /** The same with room reserved for {@code depth} streamed blocks in flight (0 disables prefetch). */
        public Options withPrefetch(int depth) {
            return new Options(budgetBytes, depth, cyclic, mappedReads, precision, packedProducts);
        }

        /** The same without loader thread: blocks load in {@code acquire}. */
        public Options withoutPrefetch() {
            return withPrefetch(0);
        }

        /** The same for a model run once per request: no prefetch past the last block. */
        public Options singlePass() {
            return new Options(budgetBytes, prefetchDepth, false, mappedReads, precision, packedProducts);
        }

        /**
         * The same reading through the checkpoint's mapping (for any {@link Checkpoint}; other kinds than
         * safetensors files always are).
         */
        public Options withMappedReads() {
            return new Options(budgetBytes, prefetchDepth, cyclic, true, precision, packedProducts);
        }

        @Override
        public String toString() {
            return "budget " + (budgetBytes == Long.MAX_VALUE ? "unlimited" : budgetBytes + " bytes")
                    + ", prefetch " + (prefetchDepth == 0 ? "off" : "depth " + prefetchDepth)
                    + (cyclic ? ", cyclic" : ", single pass") + (mappedReads ? ", mapped reads" : "")
                    + (precision == WeightPrecision.FLOAT32 ? "" : ", resident " + precision)
                    + (packedProducts == null ? "" : ", bf16 compute (product weights packed)");
        }
    }

    /** State of one block. Fields other than the finals are guarded by {@link #lock}. */
    private static final class Slot {
        final int index;
        final BlockLayout.BlockSpec spec;
        final long bytes;
        final boolean resident;
        final boolean packs;        // resident and kept packed: acquire hands out working copies
        final long workingBytes;    // float32 bytes of a working copy
        Block block;                // MaterialBlock, or ComputeBlock for bf16 compute
        PackedBlock packed;
        boolean loading;
        int holders;

        Slot(int index, BlockLayout.BlockSpec spec, long bytes, boolean resident, boolean packs, long workingBytes) {
            this.index = index;
            this.spec = spec;
            this.bytes = bytes;
            this.resident = resident;
            this.packs = packs;
            this.workingBytes = workingBytes;
        }

        boolean loaded() {
            return block != null || packed != null;
        }

        String name() {
            return spec.name();
        }
    }

    /** Thrown inside a load that {@link #close()} cancelled; never leaves the store. */
    private static final class LoadCancelled extends RuntimeException {
        private static final long serialVersionUID = 1L;

        LoadCancelled() {
            super(null, null, false, false);
        }
    }

    private final Checkpoint ckpt;
    private final BlockLayout layout;
    private final Options options;
    private final ResidencyPlan plan;
    private final Slot[] slots;
    private final Map<String, Slot> byName = new LinkedHashMap<>();
    private final Thread loader;
    private final PositionalTensorReader reader; // null: read with Checkpoint.loadInto
    private final WeightLoader weightLoader;     // lighter precisions only
    private final Predicate<String> products;    // bf16 compute: product weights handed out packed; else null
    private final Map<Block, Slot> workingCopies = new IdentityHashMap<>(); // guarded by lock

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();

    // guarded by lock
    private long reservedBytes;     // blocks materialised or being materialised
    private long streamedReserved;  // the part of reservedBytes that belongs to streamed blocks
    private long peakBytes;
    private long bytesLoaded;
    private long loads;
    private long acquires;
    private long waitNanos;
    private long loadNanos;
    private int cursor;             // position the caller is expected to acquire next
    private boolean started;        // acquire was called at least once
    private Slot demand;            // block a caller waits for
    private int loadsInFlight;
    private Throwable failure;
    private String failedBlock;
    private volatile boolean closed;

    /**
     * Builds a store and plans residency. With prefetch on, the loader thread starts loading block 0 at once.
     * Checks that every tensor of the layout exists in the checkpoint with its shape and a floating dtype (call
     * {@link BlockLayout#validate} as well to reject extra tensors).
     *
     * @throws IllegalArgumentException when the budget is below the largest block plus its prefetch (the message
     *                                  gives the bytes needed)
     * @throws WeightFormatException    naming a missing or mis-shaped tensor
     */
    public BlockStore(Checkpoint ckpt, BlockLayout layout, Options options) {
        this.ckpt = ckpt;
        this.layout = layout;
        this.options = options;
        long[] sizes = blockBytes(ckpt, layout); // validates
        List<String> names = new ArrayList<>();
        for (BlockLayout.BlockSpec spec : layout.blocks()) {
            names.add(spec.name());
        }
        boolean lighter = options.precision() != WeightPrecision.FLOAT32;
        this.products = options.packedProducts();
        boolean packedMode = lighter && products == null;
        if (products != null) {
            sizes = computeBytes(layout, products);
        }
        this.plan = packedMode
                ? ResidencyPlan.planPacked(names, blockBytes(ckpt, layout, options.precision()), sizes,
                        options.budgetBytes(), options.prefetchDepth())
                : ResidencyPlan.plan(names, sizes, options.budgetBytes(), options.prefetchDepth());
        List<BlockLayout.BlockSpec> specs = layout.blocks();
        this.slots = new Slot[specs.size()];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = new Slot(i, specs.get(i), plan.blockBytes(i), plan.isResident(i),
                    packedMode && plan.isResident(i), sizes[i]);
            byName.put(specs.get(i).name(), slots[i]);
        }
        this.reader = options.mappedReads() || lighter ? null : PositionalTensorReader.forCheckpoint(ckpt);
        this.weightLoader = lighter ? new WeightLoader(ckpt, options.precision(), !options.mappedReads()) : null;
        LOG.info("block store for {} ({}): {}", ckpt.source().getFileName(), options, plan);
        if (options.prefetchDepth() > 0 && slots.length > 0) {
            loader = new Thread(this::loaderLoop, "jsora-block-loader-" + ckpt.source().getFileName());
            loader.setDaemon(true);
            loader.start();
        } else {
            loader = null;
        }
    }

    /**
     * Bytes each block of the layout occupies once materialised (layout order), read from the checkpoint's
     * headers. @throws WeightFormatException naming a missing, mis-shaped or non-floating tensor
     */
    public static long[] blockBytes(Checkpoint ckpt, BlockLayout layout) {
        List<BlockLayout.BlockSpec> specs = layout.blocks();
        long[] sizes = new long[specs.size()];
        for (int i = 0; i < sizes.length; i++) {
            long b = 0;
            for (Map.Entry<String, int[]> e : specs.get(i).tensors().entrySet()) {
                TensorInfo info = ckpt.info(e.getKey());
                if (!Arrays.equals(info.shape(), e.getValue())) {
                    throw new WeightFormatException(ckpt.source() + ": tensor \"" + e.getKey() + "\" of block "
                            + specs.get(i).name() + " has shape " + info.shapeString() + ", expected "
                            + Arrays.toString(e.getValue()));
                }
                if (!ckpt.loadsAsFloat(e.getKey())) {
                    throw new WeightFormatException(ckpt.source() + ": tensor \"" + e.getKey() + "\" is "
                            + info.dtype() + ", expected a floating type");
                }
                b += Math.max(1, info.elements()) * Float.BYTES; // a tensor allocates at least one element
            }
            sizes[i] = b;
        }
        return sizes;
    }

    /**
     * Bytes each block of the layout occupies resident in {@code precision} (layout order): packed weights plus
     * float32 tensors; for {@link WeightPrecision#FLOAT32} the same as {@link #blockBytes(Checkpoint, BlockLayout)}.
     * @throws WeightFormatException naming a missing, mis-shaped or non-floating tensor
     */
    public static long[] blockBytes(Checkpoint ckpt, BlockLayout layout, WeightPrecision precision) {
        long[] f32 = blockBytes(ckpt, layout); // validates
        if (precision == WeightPrecision.FLOAT32) {
            return f32;
        }
        List<BlockLayout.BlockSpec> specs = layout.blocks();
        long[] sizes = new long[specs.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = WeightLoader.residentBytes(specs.get(i), precision);
        }
        return sizes;
    }

    /**
     * Bytes each block of the layout occupies in the form bf16 compute uses (layout order): the weights
     * {@code products} names as bfloat16, every other tensor float32. Shapes from the layout (validate them with
     * {@link #blockBytes(Checkpoint, BlockLayout)}).
     */
    public static long[] computeBytes(BlockLayout layout, Predicate<String> products) {
        List<BlockLayout.BlockSpec> specs = layout.blocks();
        long[] sizes = new long[specs.size()];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = ComputeBlock.bytes(specs.get(i), products);
        }
        return sizes;
    }

    /** The residency plan (logged once at construction). */
    public ResidencyPlan plan() {
        return plan;
    }

    public Options options() {
        return options;
    }

    @Override
    public BlockLayout layout() {
        return layout;
    }

    // ------------------------------------------------------------------ BlockSource

    /**
     * The block's weights, loading them (or waiting for the loader) if needed.
     *
     * @throws IllegalArgumentException for a name not in the layout
     * @throws IllegalStateException    after {@link #close()}, or when the budget cannot hold the block beside the
     *                                  blocks the caller still holds
     * @throws BlockLoadException       when loading this or another block failed (cause: the original failure)
     * @throws CancellationException    when the thread was interrupted while waiting
     */
    @Override
    public Block acquire(String blockName) {
        Slot s = byName.get(blockName);
        if (s == null) {
            throw new IllegalArgumentException("no block named \"" + blockName + "\" in this layout (blocks: "
                    + byName.keySet() + ")");
        }
        lock.lock();
        try {
            checkUsable();
            acquires++;
            started = true;
            cursor = options.cyclic() ? (s.index + 1) % slots.length : s.index + 1;
            if (!s.loaded()) {
                StageTimer.Scope waiting = StageTimer.start("wait");
                demand = s;
                try {
                    awaitLoaded(s);
                } finally {
                    demand = null;
                    waiting.close();
                    waitNanos += waiting.nanos();
                }
            }
            if (s.packs) {
                return workingCopy(s);
            }
            s.holders++;
            changed.signalAll(); // the cursor moved: the loader may go on
            return s.block;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Reserves room for a float32 working copy of a packed resident block (evicting prefetched blocks, waiting for
     * a load in flight), expands it with the lock released and registers it (lock held on entry and exit).
     */
    private Block workingCopy(Slot s) {
        long need = s.workingBytes;
        while (streamedReserved + need > plan.streamingCapacity()) {
            checkUsable();
            int n = slots.length;
            for (int k = n - 1; k >= 0 && streamedReserved + need > plan.streamingCapacity(); k--) {
                Slot v = slots[(cursor + k) % n];
                if (!v.resident && v.block != null && v.holders == 0) {
                    free(v);
                }
            }
            if (streamedReserved + need <= plan.streamingCapacity()) {
                break;
            }
            if (loadsInFlight == 0) {
                throw new IllegalStateException("block budget of " + plan.budgetBytes() + " bytes cannot hold a "
                        + "float32 working copy of block " + s.name() + " (" + need + " bytes) while the caller "
                        + "holds " + heldNames() + " (" + streamedReserved + " bytes of streamed blocks and working "
                        + "copies, capacity " + plan.streamingCapacity() + "): release each block before acquiring "
                        + "the next, or raise the budget");
            }
            try {
                changed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for room for block " + s.name());
            }
        }
        reservedBytes += need;
        streamedReserved += need;
        peakBytes = Math.max(peakBytes, reservedBytes);
        s.holders++;
        PackedBlock p = s.packed;
        MaterialBlock copy = null;
        lock.unlock();
        try {
            copy = p.expand();
        } finally {
            lock.lock();
            if (copy == null) {
                reservedBytes -= need;
                streamedReserved -= need;
                s.holders--;
                changed.signalAll();
            }
        }
        workingCopies.put(copy, s);
        changed.signalAll(); // the cursor moved: the loader may go on
        return copy;
    }

    /** Waits (lock held) until {@code s} is materialised, loading it here when there is no loader thread. */
    private void awaitLoaded(Slot s) {
        changed.signalAll();
        while (!s.loaded()) {
            checkUsable();
            if (!s.loading) {
                if (!fits(s)) {
                    evictFor(s);
                }
                if (!fits(s)) {
                    if (loadsInFlight == 0) {
                        throw new IllegalStateException("block budget of " + plan.budgetBytes() + " bytes cannot "
                                + "hold block " + s.name() + " (" + s.bytes + " bytes) while the caller holds "
                                + heldNames() + " (" + streamedReserved + " bytes of streamed blocks, capacity "
                                + plan.streamingCapacity() + "): release each block before acquiring the next, "
                                + "or raise the budget");
                    }
                } else if (loader == null) {
                    beginLoad(s);
                    lock.unlock();
                    try {
                        load(s);
                    } finally {
                        lock.lock();
                    }
                    continue;
                }
            }
            try {
                changed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for block " + s.name());
            }
        }
    }

    /** Hands a block back; a streamed block is freed when its last holder releases it. */
    @Override
    public void release(Block block) {
        Slot s = byName.get(block.name());
        lock.lock();
        try {
            Slot w = workingCopies.remove(block);
            if (w != null) {
                ((MaterialBlock) block).free();
                reservedBytes -= w.workingBytes;
                streamedReserved -= w.workingBytes;
                w.holders--;
                changed.signalAll();
                return;
            }
            if (s == null || s.block != block || s.holders == 0) {
                if (closed) {
                    return; // already freed by close
                }
                throw new IllegalArgumentException("block " + block.name() + " was not acquired from this store "
                        + "or was already released");
            }
            s.holders--;
            if (s.holders == 0 && (!s.resident || closed)) {
                free(s);
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ stats

    /** A snapshot of the counters since construction or the last {@link #resetStats()}. */
    public BlockStoreStats stats() {
        lock.lock();
        try {
            return new BlockStoreStats(plan.budgetBytes(), reservedBytes, peakBytes, bytesLoaded, loads, acquires,
                    Duration.ofNanos(loadNanos), Duration.ofNanos(waitNanos), plan.residentCount(), slots.length - plan.residentCount());
        } finally {
            lock.unlock();
        }
    }

    /** Starts a new generation: zeroes loads, bytes loaded, acquires and wait; peak restarts at the current bytes. */
    public void resetStats() {
        lock.lock();
        try {
            peakBytes = reservedBytes;
            bytesLoaded = 0;
            loads = 0;
            acquires = 0;
            waitNanos = 0;
            loadNanos = 0;
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ close

    /**
     * Stops loading and frees every block not held (held blocks are freed when released). Waits for the loader to
     * finish the tensor it is reading. Idempotent. Does not close the checkpoint.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (loader != null && Thread.currentThread() != loader) {
            boolean interrupted = false;
            while (loader.isAlive()) {
                try {
                    loader.join();
                } catch (InterruptedException e) {
                    interrupted = true; // finish closing; the loader stops after its current tensor
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        lock.lock();
        try {
            for (Slot s : slots) {
                if (s.packed != null || (s.block != null && s.holders == 0)) {
                    free(s); // a packed block's working copies are independent of it
                }
            }
            if (reader != null) {
                reader.close();
            }
            if (weightLoader != null) {
                weightLoader.close();
            }
            LOG.debug("block store for {} closed; {}", ckpt.source().getFileName(), stats());
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ loading (lock held unless noted)

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("block store for " + ckpt.source() + " is closed");
        }
        if (failure != null) {
            throw new BlockLoadException(failedBlock, failure);
        }
    }

    private boolean fits(Slot s) {
        return s.resident || streamedReserved + s.bytes <= plan.streamingCapacity();
    }

    /** Frees prefetched streamed blocks nobody holds, farthest from the cursor first, until {@code s} fits. */
    private void evictFor(Slot s) {
        int n = slots.length;
        for (int k = n - 1; k >= 0 && !fits(s); k--) {
            Slot v = slots[(cursor + k) % n];
            if (v != s && !v.resident && v.block != null && v.holders == 0) {
                free(v);
            }
        }
    }

    /** The next block the loader should materialise, or null: the waited-for block, else the next in order. */
    private Slot nextToLoad() {
        if (demand != null) {
            if (!demand.loaded() && !demand.loading) {
                return fits(demand) ? demand : null;
            }
        }
        int n = slots.length;
        int span = options.cyclic() ? (started ? n - 1 : n) : n - cursor;
        for (int k = 0; k < span; k++) {
            Slot s = slots[(cursor + k) % n];
            if (s.loaded() || s.loading) {
                continue;
            }
            return fits(s) ? s : null; // in order: never skip the block needed first
        }
        return null;
    }

    /** Accounts a block's bytes before it is allocated and marks it loading. */
    private void beginLoad(Slot s) {
        if (reservedBytes + s.bytes > plan.budgetBytes()) { // cannot happen by the plan's invariant
            throw new IllegalStateException("block accounting error: " + reservedBytes + " bytes reserved, block "
                    + s.name() + " needs " + s.bytes + ", budget " + plan.budgetBytes());
        }
        s.loading = true;
        loadsInFlight++;
        reservedBytes += s.bytes;
        if (!s.resident) {
            streamedReserved += s.bytes;
        }
        peakBytes = Math.max(peakBytes, reservedBytes);
    }

    private void unreserve(Slot s) {
        reservedBytes -= s.bytes;
        if (!s.resident) {
            streamedReserved -= s.bytes;
        }
    }

    private void free(Slot s) {
        if (s.packed != null) {
            s.packed.free();
            s.packed = null;
        } else {
            ComputeBlock.freeOwned(s.block);
            s.block = null;
        }
        unreserve(s);
    }

    /** Materialises a reserved block (lock NOT held) and installs it, or records the failure. */
    private void load(Slot s) {
        Block b = null;
        PackedBlock pb = null;
        Throwable error = null;
        StageTimer.Scope loading = StageTimer.start("load");
        try {
            long got;
            if (s.packs) {
                pb = weightLoader.pack(s.spec, this::checkNotClosed);
                got = pb.bytes();
            } else {
                b = products != null ? weightLoader.loadCompute(s.spec, products, this::checkNotClosed)
                        : weightLoader != null ? weightLoader.loadRounded(s.spec, this::checkNotClosed)
                        : materialise(s.spec);
                got = b.bytes();
            }
            if (got != s.bytes) {
                if (b != null) {
                    ComputeBlock.freeOwned(b);
                }
                if (pb != null) {
                    pb.free();
                }
                b = null;
                pb = null;
                throw new IllegalStateException("block " + s.name() + " occupies " + got + " bytes, planned "
                        + s.bytes);
            }
        } catch (Throwable t) { // errors too: an OutOfMemoryError or a fault must reach the caller, not kill us
            error = t;
        }
        loading.close();
        long took = loading.nanos();
        lock.lock();
        try {
            loadNanos += took;
            s.loading = false;
            loadsInFlight--;
            if (error != null) {
                unreserve(s);
                if (!(error instanceof LoadCancelled) && failure == null) {
                    failure = error;
                    failedBlock = s.name();
                    LOG.debug("loading block {} failed", s.name(), error);
                }
            } else if (closed) {
                if (b != null) {
                    ComputeBlock.freeOwned(b);
                }
                if (pb != null) {
                    pb.free();
                }
                unreserve(s);
            } else {
                s.block = b;
                s.packed = pb;
                bytesLoaded += s.bytes;
                loads++;
                LOG.debug("loaded block {} ({}) in {} ms on {}", s.name(), ResidencyPlan.mib(s.bytes),
                        took / 1_000_000, Thread.currentThread().getName());
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void checkNotClosed() {
        if (closed) {
            throw new LoadCancelled();
        }
    }

    /** Reads a block's tensors into new float32 tensors, checking for close between tensors. */
    private MaterialBlock materialise(BlockLayout.BlockSpec spec) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, int[]> e : spec.tensors().entrySet()) {
                if (closed) {
                    throw new LoadCancelled();
                }
                Tensor t = Tensor.zeros(e.getValue());
                m.put(e.getKey(), t);
                if (reader != null) {
                    reader.readInto(e.getKey(), t);
                } else {
                    ckpt.loadInto(e.getKey(), t);
                }
            }
        } catch (RuntimeException | Error e) {
            m.values().forEach(Tensor::close);
            throw e;
        }
        return new MaterialBlock(spec.name(), m);
    }

    private void loaderLoop() {
        try {
            loadAhead();
        } catch (Throwable t) { // a bug in the bookkeeping must not leave a caller waiting forever
            lock.lock();
            try {
                if (failure == null) {
                    failure = t;
                    failedBlock = "(loader)";
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private void loadAhead() {
        while (true) {
            Slot s;
            lock.lock();
            try {
                while (true) {
                    if (closed || failure != null) {
                        return;
                    }
                    s = nextToLoad();
                    if (s != null) {
                        break;
                    }
                    changed.awaitUninterruptibly();
                }
                beginLoad(s);
            } finally {
                lock.unlock();
            }
            load(s);
        }
    }

    private List<String> heldNames() {
        List<String> h = new ArrayList<>();
        for (Slot s : slots) {
            if (s.holders > 0) {
                h.add(s.name());
            }
        }
        return h;
    }

    @Override
    public String toString() {
        return "BlockStore[" + ckpt.source().getFileName() + ", " + options + "]";
    }
}

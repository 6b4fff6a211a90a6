package io.github.jsora.weights;

/**
 * Hands out the weights of each block when a model's forward pass needs it: the seam between a model's block loop
 * and weight residency. {@link ResidentBlockSource} keeps every block in memory; the block store of the CI-DL
 * technique streams blocks under a byte budget and prefetches the next block while the current one computes.
 *
 * <p>Protocol: a model calls {@link #acquire} with a block name of its {@link #layout()}, computes with the returned
 * block, then {@link #release}s it. Forward passes acquire blocks in layout order, so a source may prefetch the
 * next blocks in that (cyclic) order.
 */
public interface BlockSource extends AutoCloseable {

    /** The layout this source serves. */
    BlockLayout layout();

    /**
     * The block's weights, waiting for them to be loaded if needed. Errors of a background loader are rethrown
     * here. @throws WeightFormatException or another RuntimeException when loading failed
     */
    Block acquire(String blockName);

    /** Hands the block back; the source may free it. */
    void release(Block block);

    /** Frees all memory the source holds. */
    @Override
    void close();
}

package io.github.jsora.weights;

import java.util.Map;

import io.github.jsora.tensor.Tensor;

/**
 * The materialised weights of one block (a named group of tensors, float32), handed out by a {@link BlockSource}.
 * Valid until released to the source it came from.
 */
public interface Block {

    /** Block name as in the {@link BlockLayout}. */
    String name();

    /** A tensor of this block by its full checkpoint name. @throws WeightFormatException when not in the block */
    Tensor get(String tensorName);

    /** All tensors of the block by full name. */
    Map<String, Tensor> tensors();

    /** Native bytes the block's tensors occupy. */
    long bytes();
}

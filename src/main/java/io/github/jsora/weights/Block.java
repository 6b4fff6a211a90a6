package io.github.jsora.weights;

import java.util.Map;

import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/**
 * The materialised weights of one block (a named group of tensors, float32), handed out by a {@link BlockSource}.
 * Valid until released to the source it came from.
 *
 * <p>A source serving bf16 compute hands out the model's <em>product weights</em> (the weights of its large matrix
 * products) as bfloat16 {@link PackedWeight}s instead: {@link #packed} returns them, and {@link #get} of one throws.
 * Model code asks {@link #packed} first and falls back to {@link #get} when it returns null.
 */
public interface Block {

    /** Block name as in the {@link BlockLayout}. */
    String name();

    /** A tensor of this block by its full checkpoint name. @throws WeightFormatException when not in the block */
    Tensor get(String tensorName);

    /** All tensors of the block by full name. */
    Map<String, Tensor> tensors();

    /**
     * The bfloat16 form of a product weight when the block holds it packed for bf16 compute, else null (the weight
     * is float32: use {@link #get}). Valid as long as the block.
     */
    default PackedWeight packed(String tensorName) {
        return null;
    }

    /** Native bytes the block's tensors occupy. */
    long bytes();
}

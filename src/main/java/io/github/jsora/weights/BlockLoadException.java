package io.github.jsora.weights;

/**
 * Loading a block failed (on the store's loader thread or in the calling thread). Thrown by
 * {@link BlockStore#acquire}; {@link #getCause()} is the original failure (a {@link WeightFormatException} for a
 * file cut short or corrupt, an {@link OutOfMemoryError}, ...), the message names the block and the cause.
 */
public class BlockLoadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String blockName;

    public BlockLoadException(String blockName, Throwable cause) {
        super("loading block \"" + blockName + "\" failed: " + cause, cause);
        this.blockName = blockName;
    }

    /** The block whose loading failed. */
    public String blockName() {
        return blockName;
    }
}

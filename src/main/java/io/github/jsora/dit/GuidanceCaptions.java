package io.github.jsora.dit;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.WeightFormatException;

/**
 * The caption pair of classifier-free guidance: row 0 the prompt, row 1 the negative prompt or, without one, the
 * model's learned null caption ({@code y_embedder.y_embedding}).
 *
 * @param y    [2, 1, L, caption_channels]
 * @param mask [1, L] (the null caption uses the prompt's length, as Open-Sora does) or [2, L] with a negative prompt
 */
public record GuidanceCaptions(Tensor y, Tensor mask) implements AutoCloseable {

    private static final String NULL_CAPTION = "y_embedder.y_embedding";

    /**
     * Builds the pair from encoded prompts.
     *
     * @param encoded     [b, 1, L, d] with b = 1 (prompt) or 2 (prompt, negative prompt); not kept
     * @param encodedMask [b, L]; not kept
     * @param nullCaption [1, 1, L, d] used as row 1 when b = 1 (ignored otherwise); not kept
     * @throws IllegalArgumentException when d is not the model's caption_channels
     */
    public static GuidanceCaptions of(Stdit3Config cfg, Tensor encoded, Tensor encodedMask, Tensor nullCaption) {
        int b = encoded.dim(0);
        int l = encoded.dim(2);
        int d = encoded.dim(3);
        if (d != cfg.captionChannels()) {
            throw new IllegalArgumentException("text encoder width " + d + " does not match the STDiT3 "
                    + "caption_channels " + cfg.captionChannels());
        }
        if (b != 1 && b != 2) {
            throw new IllegalArgumentException("guidance needs 1 or 2 encoded captions, found " + b);
        }
        Tensor y = Tensor.zeros(2, 1, l, d);                       // [2, 1, L, d]
        try {
            y.slice(0).copyFrom(encoded.slice(0));
            Tensor mask;
            if (b == 1) {
                y.slice(1).copyFrom(nullCaption);
                mask = encodedMask.slice(0, 1).copy();                // [1, L]
            } else {
                y.slice(1).copyFrom(encoded.slice(1));
                mask = encodedMask.copy();                            // [2, L]
            }
            return new GuidanceCaptions(y, mask);
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /** The null caption [1, 1, model_max_length, caption_channels] read from the mapped checkpoint. */
    public static Tensor nullCaption(Stdit3Config cfg, Checkpoint ckpt) {
        if (!ckpt.contains(NULL_CAPTION)) {
            throw new WeightFormatException(ckpt.source() + ": missing tensor \"" + NULL_CAPTION + "\"");
        }
        try (Tensor stored = ckpt.load(NULL_CAPTION)) {
            Tensor out = Tensor.zeros(1, 1, cfg.modelMaxLength(), cfg.captionChannels());
            try {
                out.copyFrom(stored);
            } catch (RuntimeException e) {
                out.close();
                throw new WeightFormatException(ckpt.source() + ": tensor \"" + NULL_CAPTION + "\" has shape "
                        + stored.shapeString() + ", expected [" + cfg.modelMaxLength() + ", " + cfg.captionChannels()
                        + "]");
            }
            return out;
        }
    }

    /** A copy owned by the caller. */
    public GuidanceCaptions copy() {
        Tensor y2 = y.copy();
        try {
            return new GuidanceCaptions(y2, mask.copy());
        } catch (RuntimeException e) {
            y2.close();
            throw e;
        }
    }

    /** Native bytes of the pair. */
    public long bytes() {
        return y.ownedBytes() + mask.ownedBytes();
    }

    @Override
    public void close() {
        y.close();
        mask.close();
    }
}

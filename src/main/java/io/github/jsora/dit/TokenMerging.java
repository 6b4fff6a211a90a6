package io.github.jsora.dit;

/**
 * When to apply Temporal Dimension Token Merging (TDTM, On-device Sora): a per-step decision the sampler asks
 * before each model evaluation (the denoising glue asks {@link #mergeAt} and passes the answer to {@link Stdit3#forward(Stdit3Input, boolean, io.github.jsora.tensor.Tensor)}).
 *
 * <p>While merging, every spatial and temporal block averages consecutive latent frame pairs after modulation,
 * runs its self-attention on the ⌈T/2⌉ merged frames (temporal rotary positions 0..⌈T/2⌉−1), copies each output
 * back to both source frames before the gated residual, and does the same around the cross-attention (queries
 * halved). MLP, norms and modulation run on all T frames. <b>Odd T:</b> frames 0..T−2 form ⌊T/2⌋ pairs and the last
 * frame is a group of its own (its "average" is itself), so the merged sequence has ⌈T/2⌉ frames and the output
 * always has exactly T frames. ({@link FrameMerging} holds the rule.)
 */
@FunctionalInterface
public interface TokenMerging {

    /** True when denoising step {@code step} (0-based) runs with merged frames. */
    boolean mergeAt(int step);

    /** Never merge (the plain model). */
    static TokenMerging off() {
        return step -> false;
    }

    /**
     * Merge during the first {@code k} steps (steps 0..k−1); 0 turns merging off. The paper recommends 15 of 30.
     */
    static TokenMerging firstSteps(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("TDTM merge steps must be >= 0, found " + k);
        }
        return new FirstSteps(k);
    }

    /** {@link #firstSteps(int)} as a value (readable in logs). */
    record FirstSteps(int k) implements TokenMerging {
        @Override
        public boolean mergeAt(int step) {
            return step < k;
        }
    }
}

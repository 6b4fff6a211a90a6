package io.github.jsora.dit;

import java.util.Locale;

/**
 * Counters and timers of one STDiT3 forward pass.
 *
 * @param merged                    whether TDTM frame merging was on
 * @param frames                    latent patch frames T of the input
 * @param attendedFrames            frames the attentions ran on (T, or ⌈T/2⌉ while merging)
 * @param selfAttentionCalls        self-attention evaluations (one per spatial or temporal block)
 * @param selfAttentionQueryTokens  query tokens summed over those calls (B·frames·S per call)
 * @param crossAttentionCalls       cross-attention evaluations (one per block)
 * @param crossAttentionQueryTokens query tokens summed over those calls
 * @param totalNanos                wall time of the forward
 * @param gemmNanos                 time in the linear layers' matrix products
 * @param attentionNanos            time in the attention products and softmax
 * @param otherNanos                everything else (norms, modulation, head split/merge, residuals, embedders)
 */
public record ForwardStats(boolean merged, int frames, int attendedFrames, long selfAttentionCalls,
        long selfAttentionQueryTokens, long crossAttentionCalls, long crossAttentionQueryTokens, long totalNanos,
        long gemmNanos, long attentionNanos, long otherNanos) {

    /** Mean query tokens per self-attention call. */
    public double selfQueriesPerCall() {
        return selfAttentionCalls == 0 ? 0 : (double) selfAttentionQueryTokens / selfAttentionCalls;
    }

    /** Mean query tokens per cross-attention call. */
    public double crossQueriesPerCall() {
        return crossAttentionCalls == 0 ? 0 : (double) crossAttentionQueryTokens / crossAttentionCalls;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "forward[%s T=%d attended=%d self %d calls x %.0f queries, cross %d calls x "
                + "%.0f queries; %.1f ms = gemm %.1f + attention %.1f + other %.1f]", merged ? "merged" : "plain",
                frames, attendedFrames, selfAttentionCalls, selfQueriesPerCall(), crossAttentionCalls,
                crossQueriesPerCall(), totalNanos / 1e6, gemmNanos / 1e6, attentionNanos / 1e6, otherNanos / 1e6);
    }
}

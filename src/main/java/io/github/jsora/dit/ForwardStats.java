package io.github.jsora.dit;

import java.util.Locale;
import java.util.Map;

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
 * @param otherNanos                everything else (norms, modulation, head preparation, residuals, embedders)
 * @param stageNanos                wall time per stage, in first-use order: {@code gemm} (linear layers),
 *                                  {@code attention-spatial}, {@code attention-temporal}, {@code attention-cross}
 *                                  (score products, softmax, value products), {@code modulate}
 *                                  (LayerNorm + adaLN), {@code merge} (TDTM frame averaging), {@code split-heads}
 *                                  (bias, q/k norm, rotary, q scale, in place on the projection rows),
 *                                  {@code residual} (bias, gate, unmerge, add; after the cross-attention also the
 *                                  MLP's modulated LayerNorm), {@code gelu} (bias + activation), {@code embed},
 *                                  {@code final} (final layer without its product, unpatchify)
 */
public record ForwardStats(boolean merged, int frames, int attendedFrames, long selfAttentionCalls,
        long selfAttentionQueryTokens, long crossAttentionCalls, long crossAttentionQueryTokens, long totalNanos,
        long gemmNanos, long attentionNanos, long otherNanos, Map<String, Long> stageNanos) {

    public ForwardStats {
        stageNanos = Map.copyOf(stageNanos);
    }

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
        StringBuilder st = new StringBuilder();
        stageNanos.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> st.append(String.format(Locale.ROOT, " %s=%.1f", e.getKey(), e.getValue() / 1e6)));
        return String.format(Locale.ROOT, "forward[%s T=%d attended=%d self %d calls x %.0f queries, cross %d calls x "
                + "%.0f queries; %.1f ms = gemm %.1f + attention %.1f + other %.1f; stages ms:%s]",
                merged ? "merged" : "plain", frames, attendedFrames, selfAttentionCalls, selfQueriesPerCall(),
                crossAttentionCalls, crossQueriesPerCall(), totalNanos / 1e6, gemmNanos / 1e6, attentionNanos / 1e6,
                otherNanos / 1e6, st);
    }
}

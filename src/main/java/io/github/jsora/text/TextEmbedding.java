package io.github.jsora.text;

import io.github.jsora.tensor.Tensor;

/**
 * The conditioning the diffusion model takes from the text side, in Open-Sora's layout.
 *
 * @param y      [B, 1, L, d] T5 last hidden state (all L positions, padding included)
 * @param mask   [B, L] 1 for real tokens (pieces + EOS), 0 for padding
 * @param tokens the ids and mask the embedding was computed from
 */
public record TextEmbedding(Tensor y, Tensor mask, TokenizedBatch tokens) implements AutoCloseable {

    /** Frees both tensors. */
    @Override
    public void close() {
        y.close();
        mask.close();
    }
}

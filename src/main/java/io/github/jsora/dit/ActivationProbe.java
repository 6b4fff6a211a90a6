package io.github.jsora.dit;

import io.github.jsora.tensor.Tensor;

/**
 * Receives intermediate activations of a forward pass, for tests and debugging (the reference's forward hooks).
 * The tensor is a view of the model's workspace that is only valid during the call: copy what you keep.
 *
 * <p>Names and shapes (B batch, N = T·S tokens, C hidden, L caption tokens): {@code pos_emb} [1,S,C],
 * {@code t_embedder_out} [B,C], {@code fps_embedder_out} [B,C], {@code t_block_out} [B,6C], with an x_mask also
 * {@code t_embedder_out_t0} [B,C] and {@code t_block_out_t0} [B,6C]; {@code y_embedder_out} [B,1,L,C] (all tokens,
 * padding included), {@code y_packed} [1,ΣL_b,C], {@code y_lens} [B] (as floats), {@code x_embedder_out} [B,N,C]
 * (before the position embedding), {@code blocks_in} [B,N,C], {@code spatial_block_<i>_out} and
 * {@code temporal_block_<i>_out} [B,N,C], {@code final_layer_out} [B,N,patch·out_channels].
 */
@FunctionalInterface
public interface ActivationProbe {

    void capture(String name, Tensor value);
}

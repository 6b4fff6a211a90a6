package io.github.jsora.dit;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.WeightFormatException;

/**
 * The block layout of an STDiT3 configuration: the names and shapes of every tensor of the reference state_dict,
 * grouped into the blocks a forward acquires in order ({@value Stdit3#EMBEDDERS}, {@code pair.0} …
 * {@code pair.depth-1}, {@value Stdit3#FINAL}).
 */
final class Stdit3Layout {

    private Stdit3Layout() {
    }

    /** The layout of {@code cfg}; {@code withRopeFreqs} adds {@code rope.freqs} [head_dim/2] to the embedders. */
    static BlockLayout of(Stdit3Config cfg, boolean withRopeFreqs) {
        int c = cfg.hiddenSize();
        int hd = cfg.headDim();
        int mlp = cfg.mlpHidden();
        BlockLayout.Builder b = BlockLayout.builder().block(Stdit3.EMBEDDERS);
        if (withRopeFreqs) {
            b.tensor(Stdit3.ROPE_FREQS, hd / 2);
        }
        b.tensor("x_embedder.proj.weight", c, cfg.inChannels(), cfg.patchT(), cfg.patchH(), cfg.patchW())
                .tensor("x_embedder.proj.bias", c);
        for (String e : List.of("t_embedder", "fps_embedder")) {
            b.tensor(e + ".mlp.0.weight", c, Embedders.FREQ_DIM).tensor(e + ".mlp.0.bias", c)
                    .tensor(e + ".mlp.2.weight", c, c).tensor(e + ".mlp.2.bias", c);
        }
        b.tensor("t_block.1.weight", Modulation.SLOTS * c, c).tensor("t_block.1.bias", Modulation.SLOTS * c)
                .tensor("y_embedder.y_embedding", cfg.modelMaxLength(), cfg.captionChannels())
                .tensor("y_embedder.y_proj.fc1.weight", c, cfg.captionChannels())
                .tensor("y_embedder.y_proj.fc1.bias", c)
                .tensor("y_embedder.y_proj.fc2.weight", c, c)
                .tensor("y_embedder.y_proj.fc2.bias", c);
        for (int i = 0; i < cfg.depth(); i++) {
            b.block(Stdit3.pairBlock(i));
            for (String kind : List.of("spatial_blocks.", "temporal_blocks.")) {
                String p = kind + i + ".";
                b.tensor(p + "scale_shift_table", Modulation.SLOTS, c)
                        .tensor(p + "attn.qkv.weight", 3 * c, c).tensor(p + "attn.qkv.bias", 3 * c);
                if (cfg.qkNorm()) {
                    b.tensor(p + "attn.q_norm.weight", hd).tensor(p + "attn.k_norm.weight", hd);
                }
                b.tensor(p + "attn.proj.weight", c, c).tensor(p + "attn.proj.bias", c)
                        .tensor(p + "cross_attn.q_linear.weight", c, c).tensor(p + "cross_attn.q_linear.bias", c)
                        .tensor(p + "cross_attn.kv_linear.weight", 2 * c, c)
                        .tensor(p + "cross_attn.kv_linear.bias", 2 * c)
                        .tensor(p + "cross_attn.proj.weight", c, c).tensor(p + "cross_attn.proj.bias", c)
                        .tensor(p + "mlp.fc1.weight", mlp, c).tensor(p + "mlp.fc1.bias", mlp)
                        .tensor(p + "mlp.fc2.weight", c, mlp).tensor(p + "mlp.fc2.bias", c);
            }
        }
        int outW = cfg.patchVolume() * cfg.outChannels();
        b.block(Stdit3.FINAL).tensor("final_layer.scale_shift_table", Modulation.FINAL_SLOTS, c)
                .tensor("final_layer.linear.weight", outW, c).tensor("final_layer.linear.bias", outW);
        return b.build();
    }

    /**
     * Checks that a block source serves exactly {@code want}: the same blocks in the same order, each with the same
     * tensors and shapes.
     *
     * @throws WeightFormatException naming the first block or tensor that differs
     */
    static void requireSame(BlockLayout want, BlockLayout got) {
        List<BlockLayout.BlockSpec> a = want.blocks();
        List<BlockLayout.BlockSpec> b = got.blocks();
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            if (i >= a.size() || i >= b.size() || !a.get(i).name().equals(b.get(i).name())) {
                throw new WeightFormatException("block source layout does not match the STDiT3 configuration at block "
                        + i + ": expected " + (i < a.size() ? a.get(i).name() : "none") + ", found "
                        + (i < b.size() ? b.get(i).name() : "none"));
            }
            Map<String, int[]> ta = a.get(i).tensors();
            Map<String, int[]> tb = b.get(i).tensors();
            for (Map.Entry<String, int[]> e : ta.entrySet()) {
                int[] s = tb.get(e.getKey());
                if (s == null) {
                    throw new WeightFormatException("block source is missing tensor \"" + e.getKey() + "\" (expected "
                            + "shape " + Arrays.toString(e.getValue()) + ")");
                }
                if (!Arrays.equals(s, e.getValue())) {
                    throw new WeightFormatException("block source tensor \"" + e.getKey() + "\" has shape "
                            + Arrays.toString(s) + ", expected " + Arrays.toString(e.getValue()));
                }
            }
            for (String n : tb.keySet()) {
                if (!ta.containsKey(n)) {
                    throw new WeightFormatException("block source has unexpected tensor \"" + n + "\" "
                            + Arrays.toString(tb.get(n)) + " in block " + b.get(i).name());
                }
            }
        }
    }
}

package io.github.jsora.dit;

/**
 * The adaLN-single modulation slots of STDiT3. {@code t_block} maps the timestep embedding t [C] to
 * {@value #SLOTS}·C values; a block adds its {@code scale_shift_table} [6, C] and reads the six [C] rows in this order
 * (the reference's chunk order). The final layer has a table [2, C] added to t itself.
 *
 * <p>In the workspace the scale slots are stored as 1 + scale, so that a kernel computes
 * {@code LN(x)·(1 + scale) + shift} with one multiply-add.
 */
final class Modulation {

    /** Rows of a block's modulation: shift, scale, gate of the self-attention, then of the MLP. */
    static final int SLOTS = 6;
    /** Shift of the input of the self-attention. */
    static final int SHIFT_MSA = 0;
    /** Scale (stored as 1 + scale) of the input of the self-attention. */
    static final int SCALE_MSA = 1;
    /** Gate of the self-attention's residual. */
    static final int GATE_MSA = 2;
    /** Shift of the input of the MLP. */
    static final int SHIFT_MLP = 3;
    /** Scale (stored as 1 + scale) of the input of the MLP. */
    static final int SCALE_MLP = 4;
    /** Gate of the MLP's residual. */
    static final int GATE_MLP = 5;
    /** "No gate": the cross-attention's residual is added as it is. */
    static final int UNGATED = -1;

    /** Rows of the final layer's modulation: shift, scale. */
    static final int FINAL_SLOTS = 2;
    /** Shift of the final layer's input. */
    static final int FINAL_SHIFT = 0;
    /** Scale (stored as 1 + scale) of the final layer's input. */
    static final int FINAL_SCALE = 1;

    private Modulation() {
    }

    /** Whether slot {@code k} of a block's modulation is a scale (stored as 1 + scale). */
    static boolean isScale(int k) {
        return k == SCALE_MSA || k == SCALE_MLP;
    }
}

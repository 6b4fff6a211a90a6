package io.github.jsora.text;

import io.github.jsora.tensor.Tensor;

/**
 * Token ids and attention mask of a batch of prompts, each padded to the same length L (the tokenizer's
 * {@code maxLength}). Row b holds {@code lengths[b]} real tokens (pieces + EOS, mask 1) followed by padding
 * (pad id, mask 0). Immutable (accessors return copies).
 *
 * @param inputIds      [B][L] token ids
 * @param attentionMask [B][L] 1 for real tokens, 0 for padding
 */
public record TokenizedBatch(int[][] inputIds, int[][] attentionMask) {

    public TokenizedBatch {
        if (inputIds.length != attentionMask.length) {
            throw new IllegalArgumentException("ids have " + inputIds.length + " rows, mask " + attentionMask.length);
        }
        int[][] ids = new int[inputIds.length][];
        int[][] mask = new int[inputIds.length][];
        for (int b = 0; b < inputIds.length; b++) {
            if (inputIds[b].length != inputIds[0].length || attentionMask[b].length != inputIds[0].length) {
                throw new IllegalArgumentException("row " + b + " of ids/mask does not have length "
                        + inputIds[0].length);
            }
            ids[b] = inputIds[b].clone();
            mask[b] = attentionMask[b].clone();
        }
        inputIds = ids;
        attentionMask = mask;
    }

    @Override
    public int[][] inputIds() {
        int[][] c = new int[inputIds.length][];
        for (int b = 0; b < c.length; b++) {
            c[b] = inputIds[b].clone();
        }
        return c;
    }

    @Override
    public int[][] attentionMask() {
        int[][] c = new int[attentionMask.length][];
        for (int b = 0; b < c.length; b++) {
            c[b] = attentionMask[b].clone();
        }
        return c;
    }

    /** Ids of row b (a copy). */
    public int[] ids(int b) {
        return inputIds[b].clone();
    }

    /** Mask of row b (a copy). */
    public int[] mask(int b) {
        return attentionMask[b].clone();
    }

    /** Batch size B. */
    public int batch() {
        return inputIds.length;
    }

    /** Padded length L. */
    public int length() {
        return inputIds.length == 0 ? 0 : inputIds[0].length;
    }

    /** Every row's ids and mask as text: equal for equal batches, a key for caches of encoder outputs. */
    public String key() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < inputIds.length; i++) {
            b.append(java.util.Arrays.toString(inputIds[i])).append('/')
                    .append(java.util.Arrays.toString(attentionMask[i])).append(';');
        }
        return b.toString();
    }

    /** Number of real tokens (mask 1) per row. */
    public int[] lengths() {
        int[] n = new int[inputIds.length];
        for (int b = 0; b < n.length; b++) {
            for (int m : attentionMask[b]) {
                n[b] += m;
            }
        }
        return n;
    }

    /** The mask as a float tensor [B, L] of 0/1 (caller closes it). */
    public Tensor maskTensor() {
        int l = length();
        float[] m = new float[batch() * l];
        for (int b = 0; b < batch(); b++) {
            for (int i = 0; i < l; i++) {
                m[b * l + i] = attentionMask[b][i];
            }
        }
        return Tensor.of(m, batch(), l);
    }
}

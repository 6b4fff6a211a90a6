/**
 * Weights from safetensors checkpoints (single or sharded, F32/F16/BF16), the block sources that stream or keep them
 * within a budget, and packed bf16/int8 weights.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. The exceptions are {@link io.github.jsora.weights.WeightFormatException} and
 * {@link io.github.jsora.weights.WeightPrecision}, which the facade's signatures use (see the README's "Public
 * API").
 */
package io.github.jsora.weights;

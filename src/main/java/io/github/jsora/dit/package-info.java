/**
 * The STDiT3 diffusion transformer of Open-Sora v1.2 and Temporal Dimension Token Merging (TDTM).
 *
 * <pre>{@code
 * try (Stdit3 dit = Stdit3.load(Path.of("OpenSora-STDiT-v3"))) {          // config.json + model.safetensors
 *     Tensor nul = dit.nullCaption();                                        // [1, 1, 300, 4096] for guidance
 *     Stdit3Input in = new Stdit3Input(z2, t2, y2, mask, null, fps2, 256, 256);
 *     Tensor v = Tensor.zeros(dit.outputShape(in));                          // [B, 8, T, H, W]
 *     for (int step = 0; step < steps; step++) {
 *         dit.forward(in, TokenMerging.firstSteps(15).mergeAt(step), v);   // TDTM on steps 0..14
 *     }
 * }
 * }</pre>
 *
 * <p>{@link io.github.jsora.dit.Stdit3} runs the model on any {@link io.github.jsora.weights.BlockSource}
 * ({@link io.github.jsora.dit.Stdit3#withSource}); {@link io.github.jsora.dit.Stdit3Config} is the architecture
 * read from {@code config.json}; {@link io.github.jsora.dit.FrameMerging} is the TDTM frame rule (correct for any T)
 * and {@link io.github.jsora.dit.TokenMerging} the per-step schedule; {@link io.github.jsora.dit.ForwardStats}
 * reports counters and stage timers of the last forward.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. Use the facade {@link io.github.jsora.VideoGenerator} instead.
 */
package io.github.jsora.dit;

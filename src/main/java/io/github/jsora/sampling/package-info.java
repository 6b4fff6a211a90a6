/**
 * Rectified-flow sampling (Open-Sora v1.2) with classifier-free guidance and Linear Proportional Leap.
 *
 * <p>Entry points: {@link io.github.jsora.sampling.SamplerOptions} (immutable, validated options),
 * {@link io.github.jsora.sampling.RflowSchedule} (the timestep schedule),
 * {@link io.github.jsora.sampling.RflowSampler#sample} (the Euler loop) over a
 * {@link io.github.jsora.sampling.DenoisingModel} (the denoiser with its conditioning bound by glue code),
 * {@link io.github.jsora.sampling.LeapStrategy} (off / fixed / dynamic LPL),
 * {@link io.github.jsora.sampling.TorchCpuRandom} (PyTorch-compatible seeded noise). The package knows nothing of
 * the model architecture or of text.
 *
 * <p><b>Internal.</b> Not part of jsora's API: public only so that the stages and the benchmarks can reach each
 * other; it may change in any release. The exceptions are {@link io.github.jsora.sampling.SamplerOptions}, {@link
 * io.github.jsora.sampling.LeapStrategy}, {@link io.github.jsora.sampling.StepCaching} (with its signal) and {@link
 * io.github.jsora.sampling.GuidanceInterval}, which the facade's signatures use (see the README's "Public API").
 */
package io.github.jsora.sampling;

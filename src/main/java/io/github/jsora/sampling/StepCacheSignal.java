package io.github.jsora.sampling;

/** What measures how much a step changed, for {@link StepCaching}. */
public enum StepCacheSignal {
    /** Off: every step computes. */
    OFF,
    /** Accumulated relative L1 change of the first block's timestep-modulated input (TeaCache). */
    MODULATED_INPUT,
    /** Relative L1 change of the first block pair's residual (FirstBlockCache). */
    FIRST_BLOCK_RESIDUAL
}

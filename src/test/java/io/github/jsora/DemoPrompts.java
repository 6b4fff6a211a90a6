package io.github.jsora;

import java.util.List;

import io.github.jsora.video.AdherenceCheck;

/** The demo model's caption grammar, as its README's evaluation lists it, and the fixed prompt set of the tests. */
final class DemoPrompts {

    /** Noise seed of the demo README's evaluation (its sampler's own draws use this plus one). */
    static final long REFERENCE_SEED = 1000;

    /** All 72 prompts, colour × shape × direction in the README's order (the reference batch order). */
    static final List<String> ALL = AdherenceCheck.DEMO_PROMPTS;

    /**
     * The fixed set of 12 seen combinations (every colour twice, every shape four times, every direction three
     * times), chosen before any result was known.
     */
    static final List<String> FIXED_12 = List.of("a red circle moving left", "a green square moving right",
            "a blue circle moving up", "a yellow square moving down", "a white triangle moving left",
            "a purple circle moving right", "a red square moving up", "a green triangle moving down",
            "a blue square moving right", "a yellow circle moving left", "a white square moving up",
            "a purple triangle moving down");

    private DemoPrompts() {
    }
}

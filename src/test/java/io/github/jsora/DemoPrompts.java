package io.github.jsora;

import java.util.ArrayList;
import java.util.List;

/** The demo model's caption grammar, as its README's evaluation lists it, and the fixed prompt set of the tests. */
final class DemoPrompts {

    /** Noise seed of the demo README's evaluation (its sampler's own draws use this plus one). */
    static final long REFERENCE_SEED = 1000;

    /** All 72 prompts, colour × shape × direction in the README's order (the reference batch order). */
    static final List<String> ALL;

    static {
        List<String> all = new ArrayList<>();
        for (String c : new String[] {"red", "green", "blue", "yellow", "white", "purple"}) {
            for (String s : new String[] {"circle", "square", "triangle"}) {
                for (String d : new String[] {"left", "right", "up", "down"}) {
                    all.add("a " + c + " " + s + " moving " + d);
                }
            }
        }
        ALL = List.copyOf(all);
    }

    /** The 8 combinations held out of the demo DiT's training. */
    static final List<String> HELD_OUT = List.of("a red triangle moving up", "a green circle moving down",
            "a blue square moving left", "a yellow triangle moving right", "a white circle moving left",
            "a purple square moving down", "a red square moving right", "a blue triangle moving down");

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

package io.github.jsora.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded, seeded fuzz campaign per parser in the unit suite (issue 15): only the documented
 * {@code WeightFormatException} comes out, every input finishes within {@link #LIMITS} and stays within its heap
 * and tensor bounds, and no tensor memory is left behind. The long campaign is
 * {@code benchmarks/}' {@code FuzzCampaignRun}.
 */
class FuzzTest {

    /** Inputs per parser: about 31,000 in all, under a minute on 2 cores. */
    private static final Map<String, Integer> COUNTS = Map.of("safetensors", 6000, "shard-index", 4000,
            "stdit-config", 5000, "t5-config", 4000, "vae-config", 4000, "spiece", 3000, "latent", 5000);
    private static final long SEED = 20261202L;
    /** 5 s per input (the campaign's 2 s with room for a loaded CI machine), 256 MB heap, 64 MB tensors. */
    private static final FuzzCampaign.Limits LIMITS = new FuzzCampaign.Limits(java.time.Duration.ofSeconds(5),
            256L << 20, 64L << 20);

    @TempDir
    static Path dir;

    private static List<FuzzCampaign.Target> targets;

    @BeforeAll
    static void seeds() throws IOException {
        targets = FuzzCampaign.targets(dir.resolve("seeds"));
    }

    @TestFactory
    List<DynamicTest> onlyDocumentedExceptionsWithinBounds() {
        assertEquals(COUNTS.keySet(), targets.stream().map(FuzzCampaign.Target::name).collect(
                java.util.stream.Collectors.toSet()), "a count for every parser");
        return targets.stream().map(t -> DynamicTest.dynamicTest(t.name(), () -> {
            FuzzCampaign.Result r = FuzzCampaign.run(t, COUNTS.get(t.name()), SEED, LIMITS, dir.resolve(t.name()));
            System.err.println(r);
            assertTrue(r.failures.isEmpty(), t.name() + ": " + String.join("\n", r.failures));
            assertEquals(COUNTS.get(t.name()).longValue(), r.inputs);
            assertTrue(r.outcomes.keySet().stream().anyMatch(k -> !k.equals("ok")), "the mutations reach errors");
        })).toList();
    }
}

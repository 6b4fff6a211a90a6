package io.github.jsora.sampling;

import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Golden kind {@code rflow_i2v}: Open-Sora's frame-mask sampling (image to video: reference latents written into the
 * initial latent by the case's mask strategy), reproduced step by step by
 * {@link FrameMaskGolden} from what the case file states.
 */
class RflowI2vGoldenTest {

    static final String KIND = "rflow_i2v";

    @TestFactory
    Stream<DynamicTest> sampling() {
        return io.github.jsora.golden.Golden.tests(KIND, file -> FrameMaskGolden.runCase(KIND, file));
    }
}

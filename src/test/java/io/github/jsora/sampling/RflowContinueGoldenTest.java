package io.github.jsora.sampling;

import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Golden kind {@code rflow_continue}: Open-Sora's frame-mask sampling (continuation: the previous clip's latent appended as
 * a reference by {@code append_generated}, with its overlap and edit ratio), reproduced step by step by
 * {@link FrameMaskGolden} from what the case file states.
 */
class RflowContinueGoldenTest {

    static final String KIND = "rflow_continue";

    @TestFactory
    Stream<DynamicTest> sampling() {
        return io.github.jsora.golden.Golden.tests(KIND, file -> FrameMaskGolden.runCase(KIND, file));
    }
}

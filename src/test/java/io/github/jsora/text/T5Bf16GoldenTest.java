package io.github.jsora.text;

import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.golden.Bf16Routes;
import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.ResidentBlockSource;
import io.github.jsora.weights.SafetensorsFile;

/**
 * bf16 compute of the T5 encoder (q, k, v, o, wi_0, wi_1, wo packed, {@link Bf16Gemm}, fast softmax and fused
 * GELU·mul) against the float32 reference last hidden state of every {@code t5_encoder_fwd*} golden case: relative
 * L2 error, on the native route (every product native) and on the expand route (the fallback).
 *
 * <p>Measured on the golden tiny model (JDK 17, AVX512-BF16 EPYC): native 5.40e-3, expand
 * 3.58e-3 (the float32 run agrees with the reference to 1e-5 absolute, T5EncoderGoldenTest).
 * Bounds about 2× the measured values: {@link #NATIVE_BOUND},
 * {@link #EXPAND_BOUND}; garbage weights give errors of order 1.
 */
class T5Bf16GoldenTest {

    /** Bound of the native route (measured: 5.40e-3). */
    static final double NATIVE_BOUND = 1.1e-2;
    /** Bound of the expand route (measured: 3.58e-3). */
    static final double EXPAND_BOUND = 7.5e-3;

    @TestFactory
    Stream<DynamicTest> hiddenStateWithinBound() {
        return Golden.tests(T5EncoderGoldenTest.KIND, T5Bf16GoldenTest::runCase);
    }

    static void runCase(Path file) {
        try (SafetensorsFile c = Golden.open(file);
                Checkpoint weights = Checkpoint.open(Golden.resource(file, c, "weights"))) {
            T5Config config = T5Config.from(ModelConfig.parse(file + " config", c.metadata().get("config")));
            BlockLayout layout = T5Encoder.layoutFor(config, weights);
            int[][] ids = Golden.intRows(c, "in.input_ids");
            int[][] mask = Golden.intRows(c, "in.attention_mask");
            float[] ref = c.loadFloats("out.last_hidden_state");
            Bf16Routes.checkRoutes("t5 hidden state", file, ref, NATIVE_BOUND, EXPAND_BOUND, () -> {
                try (ResidentBlockSource src = new ResidentBlockSource(weights, layout, T5Encoder.BF16_PRODUCTS);
                        Tensor out = new T5Encoder(config, src).forward(ids, mask)) {
                    return out.toArray();
                }
            });
        }
    }
}

package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.Random;
import java.util.function.Consumer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SIMD loops, once compiled, allocate nothing: where C2 cannot intrinsify a Vector API call (a float-to-int
 * {@code convert}, a mask {@code cast} from double to float lanes) it runs the API's Java fallback, which boxes every
 * vector: the right results at a fifth of the speed. Each kernel runs in rounds on a 4096-float row until a round
 * allocates under 0.1 byte an element (the JIT has caught up; a boxed vector a group costs 2 bytes an element or
 * more), or fails after 30 s. Run with {@code -Djsora.vector=off}, the same test checks the scalar loops; the suite
 * runs the SIMD ones, with the scalar remainders' per-call arrays (60 heads = 7·8 + 4). This is one calling
 * context: how deep C2 inlines depends on the caller, and a loop that runs out of inlining budget in a larger caller
 * (the VAE's SiLU inside its GroupNorm, found with Java Flight Recorder) can still box there; the kernels keep their
 * constants in vectors to leave that budget room.
 */
class SimdAllocationTest {

    private static final int N = 4096;
    private static final long GIVE_UP_NANOS = 30_000_000_000L;
    /** Bytes an element: a kernel's small per-call arrays stay far below it, one boxed vector per group far above. */
    private static final double LIMIT = 0.1;

    @ParameterizedTest
    @ValueSource(strings = {"exp", "silu", "expNonPositive", "expNonPositiveTail", "softmaxRowsFastTail", "softmaxRows", "softmaxRowsFast", "softmaxRowMasked",
        "softmaxRowFastMasked", "rmsNormHeads", "rotatePairs", "addRow", "scaleRow", "bf16Widen", "fewKeyScores", "fewKeyValues"})
    void compiledKernelAllocatesNothing(String kernel) {
        Random rnd = new Random(kernel.hashCode());
        float[] base = new float[N];
        for (int i = 0; i < N; i++) {
            base[i] = (float) (rnd.nextGaussian() * 3);
        }
        float[] other = new float[N];
        for (int i = 0; i < N; i++) {
            other[i] = (float) rnd.nextGaussian();
        }
        float[] tmp = new float[N];
        short[] bits = new short[N];
        float[] cosPairs = new float[N];
        float[] sinPairs = new float[N];
        for (int i = 0; i < N; i += 2) {
            cosPairs[i] = cosPairs[i + 1] = (float) Math.cos(i * 0.01);
            sinPairs[i + 1] = (float) Math.sin(i * 0.01);
            sinPairs[i] = -sinPairs[i + 1];
        }
        Consumer<float[]> k = switch (kernel) {
            case "exp" -> v -> ExactExp.exp(v, 0, N);
            case "silu" -> v -> ExactExp.silu(v, 0, N);
            case "expNonPositive" -> v -> {
                for (int i = 0; i < N; i++) {
                    v[i] = -Math.abs(v[i]);
                }
                Ops.expNonPositive(v, 0, N, tmp);
            };
            case "expNonPositiveTail" -> v -> {                  // a length that is no whole number of groups
                for (int i = 0; i < N; i++) {
                    v[i] = -Math.abs(v[i]);
                }
                Ops.expNonPositive(v, 0, N - 5, tmp);
            };
            case "softmaxRowsFastTail" -> v -> Ops.softmaxRowsFast(v, 0, 13, 300, 0.125f);   // T5's rows of 300
            case "softmaxRows" -> v -> Ops.softmaxRows(v, 0, 16, 256, 0.125f);
            case "softmaxRowsFast" -> v -> Ops.softmaxRowsFast(v, 0, 16, 256, 0.125f);
            case "softmaxRowMasked" -> v -> {                    // T5's attention: a bias row as the mask
                for (int r = 0; r < 16; r++) {
                    Ops.softmaxRow(v, r * 256, 256, 0.125f, other);
                }
            };
            case "softmaxRowFastMasked" -> v -> {
                for (int r = 0; r < 16; r++) {
                    Ops.softmaxRowFast(v, r * 256, 256, 0.125f, other);
                }
            };
            case "rmsNormHeads" -> v -> Ops.rmsNormHeads(v, 0, 60, 68, other, 1e-6f);
            case "rotatePairs" -> v -> Ops.rotatePairs(v, 0, N, cosPairs, sinPairs, 0);
            case "addRow" -> v -> Ops.addRow(v, 0, other, N);
            case "scaleRow" -> v -> Ops.scaleRow(v, 0, N, 0.5f);
            case "fewKeyScores" -> v -> {                        // 6 rows of 72 over 32 padded keys: 4 + 2
                VectorFloat.smallProduct(v, 0, 72, 6, 72, other, 0, 32, 32, tmp, 0, 32);
                VectorFloat.smallProduct(v, 0, 72, 6, 72, other, 0, 32, 32, tmp, 0, 32);
            };
            case "fewKeyValues" -> v -> VectorFloat.smallProduct(v, 0, 32, 6, 20, other, 0, 80, 80, tmp, 0, 600);
            case "bf16Widen" -> v -> Bf16Matrix.widen(bits, v, N);     // bf16 rows read by the block kernels
            default -> throw new IllegalArgumentException(kernel);
        };
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        float[] v = new float[N];
        long start = System.nanoTime();
        double perElement = Double.NaN;
        int rounds = 0;
        while (System.nanoTime() - start < GIVE_UP_NANOS) {
            long before = mx.getCurrentThreadAllocatedBytes();
            int calls = 500;
            for (int c = 0; c < calls; c++) {
                System.arraycopy(base, 0, v, 0, N);
                k.accept(v);
            }
            perElement = (mx.getCurrentThreadAllocatedBytes() - before) / ((double) calls * N);
            rounds++;
            if (perElement < LIMIT) {
                break;
            }
        }
        assertTrue(perElement < LIMIT, kernel + " still allocates " + perElement + " bytes an element after " + rounds
                + " rounds of 500 calls (SIMD loops: " + ExactExp.vectorised() + ")");
    }
}

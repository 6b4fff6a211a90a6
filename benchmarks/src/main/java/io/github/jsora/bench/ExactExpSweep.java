package io.github.jsora.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import io.github.jsora.tensor.ExactExp;

/**
 * Exhaustive check of {@link ExactExp} against the scalar expressions it replaces, bit for bit: exp over every float
 * of [−110, 0] (−0 included; the softmax's arguments; below −103.3 both give 0), SiLU over all 2³² float bit
 * patterns. The unit tests check a sample; this checks every value (about a minute on 2 cores). Prints the counts
 * and exits 1 on any mismatch.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp ... io.github.jsora.bench.ExactExpSweep}
 */
public final class ExactExpSweep {

    private static final int CHUNK = 1 << 16;

    private ExactExpSweep() {
    }

    public static void main(String[] args) {
        System.out.println("SIMD loops: " + ExactExp.vectorised());
        int expFirst = Float.floatToRawIntBits(-0f);
        int expLast = Float.floatToRawIntBits(-110f);
        long expCount = (long) expLast - expFirst + 1;
        long expBad = sweep(expFirst, expCount, true);
        System.out.printf("exp: %,d floats of [-110, -0], %d mismatches%n", expCount, expBad);
        long siluBad = sweep(0, 1L << 32, false);
        System.out.printf("silu: %,d float bit patterns, %d mismatches%n", 1L << 32, siluBad);
        if (expBad + siluBad > 0) {
            System.exit(1);
        }
    }

    /** Checks {@code count} consecutive bit patterns from {@code first}; returns the mismatches. */
    private static long sweep(int first, long count, boolean exp) {
        AtomicLong bad = new AtomicLong();
        long chunks = (count + CHUNK - 1) / CHUNK;
        IntStream.range(0, Math.toIntExact(chunks)).parallel().forEach(c -> {
            long start = (long) c * CHUNK;
            int n = (int) Math.min(CHUNK, count - start);
            float[] x = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = Float.intBitsToFloat((int) (first + start + i));
            }
            float[] got = x.clone();
            if (exp) {
                ExactExp.exp(got, 0, n);
            } else {
                ExactExp.silu(got, 0, n);
            }
            for (int i = 0; i < n; i++) {
                float want = exp ? (float) Math.exp(x[i]) : (float) (x[i] / (1.0 + Math.exp(-x[i])));
                if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got[i])) {
                    if (bad.incrementAndGet() <= 5) {
                        System.out.println((exp ? "exp(" : "silu(") + x[i] + "): " + got[i] + ", expected " + want);
                    }
                }
            }
        });
        return bad.get();
    }
}

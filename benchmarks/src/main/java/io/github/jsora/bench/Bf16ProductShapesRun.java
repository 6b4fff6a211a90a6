package io.github.jsora.bench;

import java.util.Locale;

import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.Bf16Matrix;
import io.github.jsora.tensor.PackedWeight;
import io.github.jsora.tensor.Tensor;

/**
 * The bare native bf16 products ({@link Bf16Gemm#product}, bf16 in and out) of STDiT3-XL's four layer shapes at the
 * XL pair's 10240 token rows: qkv [1152 → 3456], proj / cross q / cross proj [1152 → 1152], fc1 [1152 → 4608] and fc2
 * [4608 → 1152]; best of 5 calls per shape and round, in GFLOP/s. Run it twice, with and without
 * {@code -Djsora.bf16.onednn=off}, to compare the oneDNN presets with ND4J's matmul op.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.Bf16ProductShapesRun [rounds=4] [rows=10240]}.
 */
public final class Bf16ProductShapesRun {

    private Bf16ProductShapesRun() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 10240;
        Bf16Gemm.setRoute(Bf16Gemm.Route.NATIVE);
        int[][] shapes = {{1152, 3456}, {1152, 1152}, {1152, 4608}, {4608, 1152}};
        System.out.println("native products: " + (Bf16Gemm.nativeWritesFloat32() ? "oneDNN presets" : "ND4J's op"));
        for (int round = 0; round < rounds; round++) {
            StringBuilder line = new StringBuilder("round " + round + ":");
            for (int[] s : shapes) {
                int in = s[0];
                int out = s[1];
                try (Tensor w = Tensor.zeros(out, in); PackedWeight pw = PackedWeight.pack(w, PackedWeight.Format.BF16);
                        Tensor mem = Tensor.zeros(Math.toIntExact(Bf16Matrix.floats(rows, in)
                                + Bf16Matrix.floats(rows, out)))) {
                    Bf16Matrix x = Bf16Matrix.in(mem, 0, rows, in);
                    Bf16Matrix o = Bf16Matrix.in(mem, Bf16Matrix.floats(rows, in), rows, out);
                    Bf16Gemm.product(x, pw, o);                          // primitive made, caches warm
                    long best = Long.MAX_VALUE;
                    for (int k = 0; k < 5; k++) {
                        long t0 = System.nanoTime();
                        Bf16Gemm.product(x, pw, o);
                        best = Math.min(best, System.nanoTime() - t0);
                    }
                    line.append(String.format(Locale.ROOT, "  %dx%d %.0f GFLOP/s (%.1f ms)", in, out,
                            2.0 * rows * in * out / best, best / 1e6));
                }
            }
            System.out.println(line);
        }
    }
}

package io.github.jsora.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.T5Config;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockStore;
import io.github.jsora.weights.BlockStoreStats;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.RandomModel;

/**
 * Peak-RSS check of the block store on a T5-XXL-width encoder: 8 random BF16 blocks at d_model 4096, d_ff 10240
 * (64 heads of 64), a 512-token vocabulary (so the file is the blocks: about 3.1 GB; 0.77 GB per block in float32).
 * Not a JMH benchmark: run it under {@code /usr/bin/time -v} to read the process's maximum resident set.
 *
 * <pre>
 *   java -cp ... io.github.jsora.bench.T5BudgetRun write DIR
 *   /usr/bin/time -v java -Xmx1g -cp ... io.github.jsora.bench.T5BudgetRun run DIR BUDGET [noprefetch] [mapped]
 *   rm -r DIR
 * </pre>
 * BUDGET is {@code all} or a size such as {@code 2GiB}, {@code 1600MiB}. The run encodes one batch of 300 tokens
 * and prints the store's stats and the process's VmHWM / RssAnon / RssFile (from /proc/self/status) at the end.
 */
public final class T5BudgetRun {

    static final T5Config CONFIG = new T5Config(512, 4096, 64, 64, 10240, 8, 32, 128, 1e-6, "gated-gelu");
    static final int TOKENS = 300;

    private T5BudgetRun() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: T5BudgetRun write DIR | run DIR all|<bytes>[KiB|MiB|GiB] [noprefetch] [mapped]");
            System.exit(2);
        }
        Path dir = Path.of(args[1]);
        BlockLayout layout = T5Encoder.layout(CONFIG, T5Encoder.SHARED);
        if (args[0].equals("write")) {
            Files.createDirectories(dir);
            long t0 = System.nanoTime();
            long size = RandomModel.seeded(7).write(dir.resolve("model.safetensors"), layout,
                    RandomModel.Format.of(DType.BF16));
            System.out.printf("wrote %s: %.2f GB BF16 (%.2f GB float32) in %.0f s%n", dir, size / 1e9,
                    layout.float32Bytes() / 1e9, (System.nanoTime() - t0) / 1e9);
            return;
        }
        List<String> flags = List.of(args).subList(3, args.length);
        long budget = args[2].equals("all") ? layout.float32Bytes() : Sizes.parseBytes(args[2]);
        BlockStore.Options opt = BlockStore.Options.budget(budget).singlePass();
        if (flags.contains("noprefetch")) {
            opt = opt.withoutPrefetch();
        }
        if (flags.contains("mapped")) {
            opt = opt.withMappedReads();
        }
        int[][] ids = new int[1][TOKENS];
        int[][] mask = new int[1][TOKENS];
        for (int i = 0; i < TOKENS; i++) {
            ids[0][i] = (i * 37) % CONFIG.vocabSize();
            mask[0][i] = 1;
        }
        try (Checkpoint ckpt = Checkpoint.open(dir.resolve("model.safetensors"));
                BlockStore store = new BlockStore(ckpt, layout, opt)) {
            System.out.println("plan: " + store.plan());
            long t0 = System.nanoTime();
            T5Encoder enc = new T5Encoder(CONFIG, store);
            try (Tensor out = enc.forward(ids, mask)) {
                double s = (System.nanoTime() - t0) / 1e9;
                BlockStoreStats st = store.stats();
                System.out.printf("t5-rss %s %s: encode %.1f s; %s; output[0]=%.4f%n", args[2], opt, s, st,
                        out.get(0));
            }
        }
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM") || line.startsWith("VmRSS") || line.startsWith("RssAnon")
                    || line.startsWith("RssFile")) {
                System.out.println("t5-rss " + line.replaceAll("\\s+", " "));
            }
        }
    }
}

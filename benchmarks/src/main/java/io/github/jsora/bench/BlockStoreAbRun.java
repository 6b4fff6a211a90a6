package io.github.jsora.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.dit.Stdit3Input;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockStore;
import io.github.jsora.weights.BlockStoreStats;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.RandomModel;

/**
 * The {@link BlockStoreBench} workload (XL-width STDiT3, 4 pairs, B=2, 32×32, random BF16 weights on disk) with the
 * configurations interleaved in one JVM, round after round (all, 2+prefetch, 2 without prefetch), so that a shared,
 * noisy machine affects them alike; prints each forward's time and wait and, per round, the time relative to the
 * fully resident forward of the same round.
 *
 * <pre>java -Xmx4g -cp ... io.github.jsora.bench.BlockStoreAbRun [frames=20] [rounds=3]</pre>
 */
public final class BlockStoreAbRun {

    private BlockStoreAbRun() {
    }

    public static void main(String[] args) throws IOException {
        int frames = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Stdit3Config xl = Stdit3Config.xl2();
        Stdit3Config cfg = new Stdit3Config(xl.hiddenSize(), BlockStoreBench.PAIRS, xl.numHeads(), xl.mlpRatio(),
                xl.patchT(), xl.patchH(), xl.patchW(), xl.inChannels(), xl.captionChannels(), xl.modelMaxLength(),
                xl.predSigma(), xl.qkNorm(), xl.inputSqSize(), xl.classDropoutProb());
        BlockLayout layout = Stdit3.layout(cfg, false);
        Path dir = Files.createTempDirectory("jsora-blockstore-ab");
        try {
            Path file = dir.resolve("model.safetensors");
            RandomModel.seeded(42).write(file, layout, RandomModel.Format.of(DType.BF16));
            try (Checkpoint ckpt = Checkpoint.open(file)) {
                long largest = 0;
                for (long s : BlockStore.blockBytes(ckpt, layout)) {
                    largest = Math.max(largest, s);
                }
                Map<String, BlockStore.Options> configs = new LinkedHashMap<>();
                configs.put("all", BlockStore.Options.budget(layout.float32Bytes()));
                configs.put("2+prefetch", BlockStore.Options.budget(2 * largest));
                configs.put("2", BlockStore.Options.budget(2 * largest).withoutPrefetch());
                run(ckpt, layout, cfg, configs, frames, rounds);
            }
        } finally {
            TempDirs.deleteTree(dir);
        }
    }

    private static void run(Checkpoint ckpt, BlockLayout layout, Stdit3Config cfg,
            Map<String, BlockStore.Options> configs, int frames, int rounds) {
        List<BlockStore> stores = new ArrayList<>();
        List<Stdit3> models = new ArrayList<>();
        Random rnd = new Random(1);
        int b = BlockStoreBench.B;
        int hw = BlockStoreBench.HW;
        Tensor x = GemmBench.random(rnd, b, cfg.inChannels(), frames, hw, hw);                 // [B, 4, T, H, W]
        Tensor y = GemmBench.random(rnd, b, 1, BlockStoreBench.CAPTION, cfg.captionChannels()); // [B, 1, L, 4096]
        float[] m = new float[BlockStoreBench.CAPTION];
        for (int i = 0; i < BlockStoreBench.VALID_TOKENS; i++) {
            m[i] = 1f;
        }
        Tensor mask = Tensor.of(m, 1, BlockStoreBench.CAPTION);
        Stdit3Input in = Stdit3Input.of(x, new float[] {500f, 500f}, y, mask, new float[] {24f}, 8f * hw, 8f * hw);
        try {
            for (BlockStore.Options o : configs.values()) {
                BlockStore s = new BlockStore(ckpt, layout, o);
                stores.add(s);
                models.add(Stdit3.withSource(cfg, s));
                for (BlockLayout.BlockSpec spec : layout.blocks()) { // priming pass: steady state
                    s.release(s.acquire(spec.name()));
                }
            }
            List<String> names = new ArrayList<>(configs.keySet());
            try (Tensor out = Tensor.zeros(models.get(0).outputShape(in))) {
                for (int r = 0; r < rounds; r++) {
                    double base = 0;
                    for (int c = 0; c < names.size(); c++) {
                        stores.get(c).resetStats();
                        long t0 = System.nanoTime();
                        models.get(c).forward(in, out);
                        double sec = (System.nanoTime() - t0) / 1e9;
                        if (c == 0) {
                            base = sec;
                        }
                        BlockStoreStats st = stores.get(c).stats();
                        System.out.printf("ab round %d %-11s forward %7.2f s (%+6.1f %% vs all) wait %.3f s, "
                                + "load %.3f s in %d loads, peak %.0f MB%n", r, names.get(c), sec,
                                100 * (sec / base - 1), st.computeWaitSeconds(), st.loadSeconds(), st.loads(),
                                st.peakResidentBytes() / 1e6);
                    }
                }
            }
        } finally {
            models.forEach(Stdit3::close);
            stores.forEach(BlockStore::close);
            x.close();
            y.close();
            mask.close();
        }
    }
}

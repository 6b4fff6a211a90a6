package io.github.jsora.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

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
 * CI-DL: one STDiT3 forward (XL width: hidden 1152, 16 heads, caption 4096; 4 spatial+temporal block pairs) at
 * B=2, T=20, 32×32 latents, with its weights streamed from a random BF16 safetensors file (written to a temp
 * directory by the benchmark, deleted afterwards) through a {@link BlockStore} under several budgets.
 *
 * <p>{@code config}: {@code all} = budget of every block (fully resident after the warm-up forward);
 * {@code N+prefetch} = N × the largest block (a pair, 170 MB) with the loader thread prefetching;
 * {@code N} = N × the largest block without prefetch (blocks load inside {@code acquire}). One block with prefetch
 * does not exist: the store rejects a budget below the largest block plus one prefetched block.
 *
 * <p>The setup writes the checkpoint and makes one pass over the blocks (acquire + release in forward order), so
 * the fully resident configuration has all weights in memory and streamed ones are in their steady state before the
 * first forward; {@code -wi 0 -i 1} is then a valid (if noisy) quick run. Each measured forward prints a {@code blockstore-stats} line with the compute wait (time the forward spent
 * waiting for weights), loads and peak block bytes from the store's own counters.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 2)
@Fork(value = 1, jvmArgs = {"-Xmx4g", "--add-modules=jdk.incubator.vector"})
public class BlockStoreBench {

    static final int PAIRS = 4;
    static final int B = 2;
    static final int HW = 32;
    static final int CAPTION = 300;
    static final int VALID_TOKENS = 32;

    @Param({"all", "3+prefetch", "2+prefetch", "2", "1"})
    public String config;

    /** Latent frames (the setting is 20; a smaller value gives a quick, less representative run). */
    @Param({"20"})
    public int frames;

    private Path dir;
    private Checkpoint ckpt;
    private BlockStore store;
    private Stdit3 model;
    private Stdit3Input in;
    private Tensor out;

    @Setup(Level.Trial)
    public void setup() throws IOException {
        Stdit3Config xl = Stdit3Config.xl2();
        Stdit3Config cfg = new Stdit3Config(xl.hiddenSize(), PAIRS, xl.numHeads(), xl.mlpRatio(), xl.patchT(),
                xl.patchH(), xl.patchW(), xl.inChannels(), xl.captionChannels(), xl.modelMaxLength(), xl.predSigma(),
                xl.qkNorm(), xl.inputSqSize(), xl.classDropoutProb());
        BlockLayout layout = Stdit3.layout(cfg, false);
        dir = Files.createTempDirectory("jsora-blockstore-bench");
        Path file = dir.resolve("model.safetensors");
        long t0 = System.nanoTime();
        long size = RandomModel.seeded(42).write(file, layout, RandomModel.Format.of(DType.BF16));
        System.out.printf("%nblockstore-setup: wrote %s (%d MB BF16, %d MB float32) in %.1f s%n", file, size >> 20,
                layout.float32Bytes() >> 20, (System.nanoTime() - t0) / 1e9);
        ckpt = Checkpoint.open(file);
        long[] sizes = BlockStore.blockBytes(ckpt, layout);
        long largest = 0;
        for (long s : sizes) {
            largest = Math.max(largest, s);
        }
        BlockStore.Options opt;
        if (config.equals("all")) {
            opt = BlockStore.Options.budget(layout.float32Bytes());
        } else {
            boolean prefetch = config.endsWith("+prefetch");
            int n = Integer.parseInt(config.replace("+prefetch", ""));
            opt = BlockStore.Options.budget(n * largest);
            if (!prefetch) {
                opt = opt.withoutPrefetch();
            }
        }
        store = new BlockStore(ckpt, layout, opt);
        System.out.println("blockstore-plan " + config + ": " + store.plan());
        model = Stdit3.withSource(cfg, store);

        Random rnd = new Random(1);
        Tensor x = GemmBench.random(rnd, B, cfg.inChannels(), frames, HW, HW); // [B, 4, T, H, W]
        Tensor y = GemmBench.random(rnd, B, 1, CAPTION, cfg.captionChannels()); // [B, 1, L, 4096]
        float[] m = new float[CAPTION];
        for (int i = 0; i < VALID_TOKENS; i++) {
            m[i] = 1f;
        }
        Tensor mask = Tensor.of(m, 1, CAPTION);                                 // [1, L]
        in = Stdit3Input.of(x, new float[] {500f, 500f}, y, mask, new float[] {24f}, 8f * HW, 8f * HW);
        out = Tensor.zeros(model.outputShape(in));
        // one pass over the blocks in forward order: loads the resident blocks (the whole model for "all") and
        // leaves the store in its steady state, so that even a single measured forward is representative
        long t1 = System.nanoTime();
        for (BlockLayout.BlockSpec b : layout.blocks()) {
            store.release(store.acquire(b.name()));
        }
        System.out.printf("blockstore-setup: priming pass %.1f s; %s%n", (System.nanoTime() - t1) / 1e9,
                store.stats());
    }

    @Setup(Level.Iteration)
    public void resetStats() {
        store.resetStats();
    }

    @Benchmark
    public Tensor forward() {
        model.forward(in, out);
        return out;
    }

    @TearDown(Level.Iteration)
    public void printStats() {
        BlockStoreStats st = store.stats();
        System.out.printf("%nblockstore-stats %s: forward %.2f s, compute wait %.3f s, %d loads, %.0f MB loaded, "
                + "peak %.0f MB of budget %.0f MB%n", config, model.lastStats().totalNanos() / 1e9,
                st.computeWaitSeconds(), st.loads(), st.bytesLoaded() / 1e6, st.peakResidentBytes() / 1e6,
                st.budgetBytes() / 1e6);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        model.close();
        store.close();
        ckpt.close();
        in.x().close();
        in.y().close();
        in.mask().close();
        out.close();
        TempDirs.deleteTree(dir);
    }
}

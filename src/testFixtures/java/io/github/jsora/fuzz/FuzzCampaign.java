package io.github.jsora.fuzz;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.github.jsora.Latent;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.SentencePieceModel;
import io.github.jsora.text.SentencePieceTokenizer;
import io.github.jsora.text.T5Config;
import io.github.jsora.vae.VaeConfig;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.ModelConfig;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.SafetensorsWriter;
import io.github.jsora.weights.ShardedCheckpoint;
import io.github.jsora.weights.WeightFormatException;

/**
 * Fuzzing of jsora's file parsers with {@link Mutator}: each {@link Target} takes a mutated input and parses it
 * the way jsora opens that kind of file (for checkpoints and latents: open, then read every tensor). An outcome is
 * a failure when the parser throws anything but the documented {@link WeightFormatException} (which
 * {@code SentencePieceFormatException} extends), runs past the per-input time limit (twice: an input over the limit
 * is timed again alone, and one within it then counts as a machine stall), allocates more heap than the
 * bound on its thread, holds more tensor memory than the bound, or leaves tensor memory behind. Shared by the unit
 * test ({@code FuzzTest}) and the long campaign runner in {@code benchmarks/}.
 */
public final class FuzzCampaign {

    /** Parses one input; {@code scratch} is a private directory for inputs that must be files. */
    @FunctionalInterface
    public interface Parser {
        void parse(byte[] input, Path scratch) throws Exception;
    }

    /** A parser with its valid seed inputs. */
    public record Target(String name, List<byte[]> seeds, Parser parser) {
    }

    /** Limits of one input. */
    public record Limits(Duration time, long heapBytes, long tensorBytes) {
        /** 2 s, 256 MB of heap, 64 MB of tensors per input (the inputs are a few kB to a few hundred kB). */
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(2), 256L << 20, 64L << 20);
    }

    /** What a campaign over one target saw. */
    public static final class Result {
        public final String target;
        public long inputs;
        public final Map<String, Long> outcomes = new TreeMap<>(); // "ok" or the exception's class name
        public long slowestNanos;
        public long slowestIndex = -1;
        public long maxHeapBytes;
        public long maxTensorBytes;
        public final List<String> failures = new ArrayList<>();
        public long totalNanos;
        /** Inputs that ran past the time limit once but within it when timed again alone (machine stalls). */
        public long stalls;

        Result(String target) {
            this.target = target;
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "%-13s %,10d inputs in %6.1f s; slowest %.1f ms (input #%d); "
                    + "max heap/input %.1f MB, max tensors/input %.1f MB; outcomes %s; stalls %d; failures %d", target,
                    inputs, totalNanos / 1e9, slowestNanos / 1e6, slowestIndex, maxHeapBytes / 1e6,
                    maxTensorBytes / 1e6, outcomes, stalls, failures.size());
        }
    }

    private FuzzCampaign() {
    }

    /**
     * Runs {@code count} mutated inputs (seed {@code seed}) through {@code target}, each on a worker thread under
     * {@code limits}. Stops early after 20 failures or a timeout (a stuck parser cannot be stopped).
     */
    public static Result run(Target target, long count, long seed, Limits limits, Path scratch) throws IOException {
        return run(target, count, seed, limits, scratch, null);
    }

    /** {@link #run(Target, long, long, Limits, Path)} that also stops when {@code maxTime} (if not null) is up. */
    public static Result run(Target target, long count, long seed, Limits limits, Path scratch, Duration maxTime)
            throws IOException {
        Files.createDirectories(scratch);
        long stopAt = maxTime == null ? Long.MAX_VALUE : System.nanoTime() + maxTime.toNanos();
        Result r = new Result(target.name());
        Mutator m = new Mutator(seed);
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ExecutorService worker = Executors.newSingleThreadExecutor(t -> {
            Thread th = new Thread(t, "jsora-fuzz-" + target.name());
            th.setDaemon(true);
            return th;
        });
        long start = System.nanoTime();
        try {
            // warm-up, untimed: the valid seeds once (loads ND4J's natives, classes and JIT of the happy path)
            try {
                worker.submit(() -> {
                    for (byte[] s : target.seeds()) {
                        target.parser().parse(s, scratch);
                    }
                    return null;
                }).get();
            } catch (ExecutionException e) {
                throw new IllegalStateException(target.name() + ": a valid seed input fails", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return r;
            }
            for (long i = 0; i < count && r.failures.size() < 20 && System.nanoTime() < stopAt; i++) {
                byte[] input = m.mutate(target.seeds().get((int) (i % target.seeds().size())));
                long idx = i;
                Future<long[]> f = worker.submit(() -> {
                    long tid = Thread.currentThread().getId();
                    long baseTensors = NativeMemory.tensorBytes();
                    NativeMemory.resetPeak();
                    long heap0 = mx.getThreadAllocatedBytes(tid);
                    long t0 = System.nanoTime();
                    String outcome = "ok";
                    try {
                        target.parser().parse(input, scratch);
                    } catch (WeightFormatException e) {
                        outcome = e.getClass().getSimpleName();
                    } catch (Throwable e) {
                        synchronized (r) {
                            r.failures.add("input #" + idx + ": undocumented " + e + at(e));
                        }
                        outcome = "UNDOCUMENTED " + e.getClass().getName();
                    }
                    long nanos = System.nanoTime() - t0;
                    long heap = mx.getThreadAllocatedBytes(tid) - heap0;
                    long peak = Math.max(0, NativeMemory.tensorPeakBytes() - baseTensors);
                    long left = NativeMemory.tensorBytes() - baseTensors;
                    synchronized (r) {
                        r.outcomes.merge(outcome, 1L, Long::sum);
                        if (left != 0) {
                            r.failures.add("input #" + idx + ": " + left + " tensor bytes left allocated");
                        }
                        if (heap > limits.heapBytes()) {
                            r.failures.add("input #" + idx + ": allocated " + heap + " heap bytes");
                        }
                        if (peak > limits.tensorBytes()) {
                            r.failures.add("input #" + idx + ": held " + peak + " tensor bytes");
                        }
                    }
                    return new long[] {nanos, heap, peak};
                });
                long[] got;
                try {
                    try {
                        got = f.get(limits.time().toMillis(), TimeUnit.MILLISECONDS);
                    } catch (TimeoutException e) {
                        // over the limit: a parser that is slow on this input, or a stall of a loaded machine (GC,
                        // other processes). Let it finish (a minute at most), then time it again alone.
                        try {
                            f.get(60, TimeUnit.SECONDS);
                        } catch (TimeoutException stuck) {
                            r.failures.add("input #" + i + ": still running after 60 s");
                            break;
                        }
                        long t0 = System.nanoTime();
                        worker.submit(() -> {
                            try {
                                target.parser().parse(input, scratch);
                            } catch (Exception ignored) {
                                // outcome already recorded
                            }
                            return null;
                        }).get(60, TimeUnit.SECONDS);
                        long again = System.nanoTime() - t0;
                        if (again > limits.time().toNanos()) {
                            r.failures.add("input #" + i + ": " + again / 1_000_000 + " ms, over the limit twice");
                        } else {
                            r.stalls++;
                        }
                        got = new long[] {again, 0, 0};
                    }
                } catch (TimeoutException e) {
                    r.failures.add("input #" + i + ": still running after 60 s");
                    break;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                } catch (ExecutionException e) {
                    throw new IllegalStateException(e.getCause());
                }
                r.inputs++;
                if (got[0] > r.slowestNanos) {
                    r.slowestNanos = got[0];
                    r.slowestIndex = i;
                }
                r.maxHeapBytes = Math.max(r.maxHeapBytes, got[1]);
                r.maxTensorBytes = Math.max(r.maxTensorBytes, got[2]);
            }
        } finally {
            worker.shutdownNow();
            r.totalNanos = System.nanoTime() - start;
        }
        return r;
    }

    private static String at(Throwable e) {
        StackTraceElement[] st = e.getStackTrace();
        return st.length == 0 ? "" : " at " + st[0];
    }

    // ------------------------------------------------------------------ targets

    /** The parsers: safetensors, shard index, the three config.json kinds, spiece.model, the latent file. */
    public static List<Target> targets(Path seedDir) throws IOException {
        Files.createDirectories(seedDir);
        List<Target> t = new ArrayList<>();
        t.add(new Target("safetensors", List.of(safetensorsSeed(seedDir)), (in, dir) -> {
            Path p = dir.resolve("f.safetensors");
            Files.write(p, in);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                readAll(f);
            }
        }));
        Path shards = seedDir.resolve("shards");
        Files.createDirectories(shards);
        new SafetensorsWriter().add("a.weight", new float[] {1, 2, 3, 4}, new int[] {2, 2}, DType.F32)
                .write(shards.resolve("model-00001-of-00002.safetensors"), true);
        new SafetensorsWriter().add("b.weight", new float[] {5, 6}, new int[] {2}, DType.BF16)
                .addLongs("b.index", new long[] {1, 2, 3}, 3).write(shards.resolve("model-00002-of-00002.safetensors"),
                        true);
        byte[] index = ("{\"metadata\": {\"total_size\": 38}, \"weight_map\": {\"a.weight\": "
                + "\"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\", "
                + "\"b.index\": \"model-00002-of-00002.safetensors\"}}").getBytes(StandardCharsets.UTF_8);
        t.add(new Target("shard-index", List.of(index), (in, dir) -> {
            Path p = shards.resolve("model.safetensors.index.json");
            synchronized (FuzzCampaign.class) { // one shared shard directory
                Files.write(p, in);
                try (ShardedCheckpoint c = ShardedCheckpoint.open(p)) {
                    readAll(c);
                }
            }
        }));
        t.add(new Target("stdit-config", List.of(resource("stdit/config.json"), XL_CONFIG), (in, dir) -> {
            Stdit3Config c = Stdit3Config.parse("config.json", new String(in, StandardCharsets.UTF_8));
            c.parameterCount();
            c.toString();
        }));
        t.add(new Target("t5-config", List.of(resource("t5/config.json")), (in, dir) -> T5Config.from(
                ModelConfig.parse("config.json", new String(in, StandardCharsets.UTF_8))).activation()));
        t.add(new Target("vae-config", List.of(resource("vae/config.json")), (in, dir) -> VaeConfig.parse(
                ModelConfig.parse("config.json", new String(in, StandardCharsets.UTF_8))).toString()));
        t.add(new Target("spiece", List.of(resource("t5/spiece.model")), (in, dir) -> {
            SentencePieceTokenizer tok = new SentencePieceTokenizer(SentencePieceModel.parse(in, "spiece.model"));
            tok.encode("a red circle moving left, 123 ÄÖ 日本 \u200b!");
        }));
        t.add(new Target("latent", List.of(latentSeed(seedDir)), (in, dir) -> {
            Path p = dir.resolve("l.safetensors");
            Files.write(p, in);
            try (Latent l = Latent.load(p)) {
                l.frames();
            }
        }));
        return t;
    }

    /** The shipped STDiT3-XL/2 config.json (as published with hpcai-tech/OpenSora-STDiT-v3). */
    private static final byte[] XL_CONFIG = ("{\"architectures\": [\"STDiT3\"], \"caption_channels\": 4096, "
            + "\"class_dropout_prob\": 0.1, \"depth\": 28, \"drop_path\": 0.0, \"enable_flash_attn\": false, "
            + "\"enable_layernorm_kernel\": false, \"enable_sequence_parallelism\": false, \"freeze_y_embedder\": true, "
            + "\"hidden_size\": 1152, \"in_channels\": 4, \"input_size\": [null, null, null], \"input_sq_size\": 512, "
            + "\"mlp_ratio\": 4.0, \"model_max_length\": 300, \"model_type\": \"STDiT3\", \"num_heads\": 16, "
            + "\"only_train_temporal\": false, \"patch_size\": [1, 2, 2], \"pred_sigma\": true, \"qk_norm\": true, "
            + "\"skip_y_embedder\": false}").getBytes(StandardCharsets.UTF_8);

    private static void readAll(Checkpoint c) {
        for (String n : c.names()) {
            DType d = c.info(n).dtype();
            if (d.isFloating()) {
                try (Tensor x = c.load(n)) {
                    x.size();
                }
            } else {
                c.loadLongs(n);
            }
        }
    }

    private static byte[] safetensorsSeed(Path dir) throws IOException {
        Path p = dir.resolve("seed.safetensors");
        new SafetensorsWriter().metadata("format", "pt").metadata("note", "ünïcode")
                .add("x.weight", new float[] {1, -2, 3, 4, 5, 6}, new int[] {2, 3}, DType.F32)
                .add("x.bias", new float[] {0.5f, 1, 2, 3}, new int[] {4}, DType.BF16)
                .add("y", new float[] {1, 2, 3, 4}, new int[] {2, 2}, DType.F16)
                .add("empty", new float[0], new int[] {0, 3}, DType.F32)
                .addLongs("ids", new long[] {1, 2, 3}, 3).write(p, true);
        return Files.readAllBytes(p);
    }

    private static byte[] latentSeed(Path dir) throws IOException {
        Path p = dir.resolve("seed-latent.safetensors");
        float[] v = new float[4 * 5 * 4 * 4];
        for (int i = 0; i < v.length; i++) {
            v[i] = (i % 7) - 3;
        }
        new SafetensorsWriter().add("latent", v, new int[] {1, 4, 5, 4, 4}, DType.F32).metadata("jsora.frames", "17")
                .metadata("jsora.fps", "8.0").metadata("jsora.request", "prompt=\"a red circle moving left\"")
                .write(p, true);
        return Files.readAllBytes(p);
    }

    private static byte[] resource(String name) {
        try (InputStream in = FuzzCampaign.class.getResourceAsStream("/io/github/jsora/demo-model/" + name)) {
            if (in == null) {
                throw new IllegalStateException("demo model file " + name + " missing");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

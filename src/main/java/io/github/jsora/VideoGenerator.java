package io.github.jsora;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.github.jsora.dit.GuidanceCaptions;
import io.github.jsora.dit.BlockCache;
import io.github.jsora.dit.Stdit3;
import io.github.jsora.dit.Stdit3Config;
import io.github.jsora.sampling.CancellationToken;
import io.github.jsora.sampling.LeapStrategy;
import io.github.jsora.sampling.RflowSampler;
import io.github.jsora.sampling.SampleResult;
import io.github.jsora.sampling.FrameConditioning;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.sampling.StepCaching;
import io.github.jsora.sampling.SamplingCancelledException;
import io.github.jsora.sampling.StepProgress;
import io.github.jsora.sampling.TorchCpuRandom;
import io.github.jsora.tensor.Bf16Gemm;
import io.github.jsora.tensor.MemoryBudgetExceededException;
import io.github.jsora.tensor.NativeMemory;
import io.github.jsora.tensor.Parallel;
import io.github.jsora.tensor.StageTimer;
import io.github.jsora.tensor.Tap;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.text.EmbeddingDiskCache;
import io.github.jsora.text.T5Encoder;
import io.github.jsora.text.T5TextEncoder;
import io.github.jsora.text.T5Tokenizer;
import io.github.jsora.text.TextEmbedding;
import io.github.jsora.text.TokenizedBatch;
import io.github.jsora.video.ImageInput;
import io.github.jsora.vae.Frames;
import io.github.jsora.vae.VideoVae;
import io.github.jsora.video.Frame;
import io.github.jsora.video.FrameSink;
import io.github.jsora.video.VideoFormat;
import io.github.jsora.video.VideoWriters;
import io.github.jsora.weights.BlockLayout;
import io.github.jsora.weights.BlockLoadException;
import io.github.jsora.weights.BlockStoreStats;
import io.github.jsora.weights.Checkpoint;
import io.github.jsora.weights.StagedBlockSource;
import io.github.jsora.weights.WeightCache;
import io.github.jsora.weights.WeightPrecision;
import io.github.jsora.weights.WeightFormatException;

/**
 * Text to video with an Open-Sora v1.2 model: the entry point of jsora.
 *
 * <pre>{@code
 * try (VideoGenerator gen = VideoGenerator.openDefault()) {
 *     Video v = gen.generate("a red circle moving left");
 *     v.write(Path.of("circle.gif"), false);
 * }
 * }</pre>
 *
 * <h2>Model directory</h2>
 * {@link #open(Path)} reads the layout users download: {@code stdit/} (config.json and model.safetensors of
 * {@code hpcai-tech/OpenSora-STDiT-v3}), {@code vae/} (of {@code hpcai-tech/OpenSora-VAE-v1.2}) and {@code t5/} (of
 * {@code DeepFloyd/t5-v1_1-xxl}: config.json, the sharded safetensors with their index, spiece.model). The folder
 * names can be changed with {@link Folders}. {@link #openDefault()} opens the small demo model embedded in the jar
 * through the same code path (it is unpacked once per version into a cache directory, since files are mapped).
 *
 * <h2>Determinism</h2>
 * The same seed, request and thread count give bit-identical frames on the same machine. Across thread counts the
 * matrix products may sum in another order: on the demo model (3 seeds, 30 steps, 1 vs 2 threads) the final latents
 * differed by at most 3.8e-6 and the 8-bit frames by at most 1 level in 12 of 626,688 channel values.
 *
 * <h2>Seeds and PyTorch</h2>
 * A seed means the same initial noise as in PyTorch on CPU: {@code torch.randn(1, C, T, H, W,
 * generator=torch.Generator().manual_seed(seed))} in float32 ({@link TorchCpuRandom}, within 2.4e-7 of PyTorch's
 * values). With {@link GenerationRequest.Builder#referenceBatch} it is one sample's slice of a batch drawn at once,
 * and {@link GenerationRequest.Builder#inferenceScriptMask} reproduces the sampler's own draws of Open-Sora's
 * inference script. With these, jsora reproduces the demo model's reference videos: every pixel of all 72 clips of
 * its {@code samples/all_prompts_f0_f8_f16.png} (one batch of 72, seed 1000, global seed 1001) comes out within one
 * 8-bit level ({@code DemoQualityRun off script}; {@code DemoReferenceSamplesTest} checks 12 of them). As in
 * PyTorch, only the low 32 bits of a seed count (a drawn seed is below 2³²). Not reproduced: GPU runs (PyTorch's CUDA
 * generator is another stream), noise drawn in bfloat16, and a stock {@code scripts/inference.py} run, which draws
 * its noise from the global generator after building the models (whose initialisation consumes draws); for those,
 * pass the reference's noise tensor to {@link #denoise(GenerationRequest, Tensor, GenerationListener)}.
 *
 * <h2>Threads and memory</h2>
 * One generation runs at a time per instance: concurrent calls queue on an internal lock (in arrival order).
 * Instances share no mutable state except the process-wide compute thread count and the process-wide native memory
 * account ({@link NativeMemory}), whose hard limit is the running request's budget. A run takes the thread count of
 * its request ({@code threads}, 0 for the default) for its whole duration ({@link Parallel#lease}); a run that
 * starts while a run of another instance holds a different count fails at once with an
 * {@link IllegalStateException} naming both counts, since a changed count would change the other run's frames.
 * An interrupt of the generating thread cancels its run like {@link #cancel()} (the thread's interrupt status is
 * kept). The compute threads are daemon threads, shut down when the last open generator is closed.
 *
 * <p>Memory: one budget (the request's {@link GenerationRequest.Builder#memoryBudget}, else
 * {@link #defaultBudget()}, chosen from the memory available at open time) bounds everything jsora allocates. Per
 * request a plan decides, before any work, which models stay resident across stages and requests and how the others
 * stream block by block under the rest ({@link #minimumBudget} is the least that works); weights are read with
 * positional reads (the mapping serves headers and the small null caption). Prompt embeddings are cached (in memory, and on disk
 * with {@link GeneratorOptions.Builder#embeddingCache}). Close the generator to free native memory and unmap the
 * files.
 */
public final class VideoGenerator implements AutoCloseable {

    // names of the package-private taps of denoise(..., Tap) and decode(..., Tap)
    static final String TAP_TOKENS = "tokens.ids";
    static final String TAP_TOKEN_MASK = "tokens.mask";
    static final String TAP_CAPTIONS = "captions.y";
    static final String TAP_CAPTION_MASK = "captions.mask";
    static final String TAP_STEP_X = "step.x";
    static final String TAP_STEP_T = "step.timesteps";
    static final String TAP_STEP_OUT = "step.out";
    static final String TAP_FRAME = "frame";

    /** Integer rows [P, L] as a float tensor (token ids are below 2²⁴, so exact). */
    private static Tensor intRows(int[][] rows) {
        int l = rows.length == 0 ? 0 : rows[0].length;
        float[] v = new float[rows.length * l];
        for (int b = 0; b < rows.length; b++) {
            for (int i = 0; i < l; i++) {
                v[b * l + i] = rows[b][i];
            }
        }
        return Tensor.of(v, rows.length, l);
    }

    private static final Logger LOG = LoggerFactory.getLogger(VideoGenerator.class);

    /** Resource folder of the embedded demo model. */
    private static final String DEMO_RESOURCE = "/io/github/jsora/demo-model/";
    private static final String[] DEMO_FILES = {"stdit/config.json", "stdit/model.safetensors", "vae/config.json",
        "vae/model.safetensors", "t5/config.json", "t5/model.safetensors", "t5/spiece.model"};

    /** Names of the three component folders inside a model directory. */
    public record Folders(String stdit, String vae, String t5) {
        /** {@code stdit}, {@code vae}, {@code t5}. */
        public static final Folders DEFAULT = new Folders("stdit", "vae", "t5");
    }

    /** Cached guidance caption pairs per generator (each a few MB at real sizes). */
    private static final int PROMPT_CACHE_ENTRIES = 4;

    private final Path modelDir;
    private final boolean demo;
    private final Path tempDir; // a temporary unpacked demo model (when the cache was unusable), deleted on close
    private final Stdit3Config ditConfig;
    private final boolean ditBf16;   // the STDiT3 computes with bf16 products (its memory estimate counts the scratch)
    private final boolean t5Bf16;    // the T5 encoder does
    private final long defaultBudget;
    private final ReentrantLock lock = new ReentrantLock(true);
    private final RflowSampler sampler = new RflowSampler();

    // the three models, each opened once over a staged block source; residency is decided per request
    private final Checkpoint ditCheckpoint;
    private final StagedBlockSource ditSource;
    private final Stdit3 dit;
    private final StagedBlockSource vaeSource;
    private final VideoVae vae;
    private final StagedBlockSource[] t5Source = new StagedBlockSource[1];
    private final T5TextEncoder t5;
    private final EmbeddingDiskCache embeddingDisk; // null: memory only
    private final LinkedHashMap<String, GuidanceCaptions> promptCache = new LinkedHashMap<>(8, 0.75f, true);

    private volatile CancellationToken current;
    private volatile boolean closed;

    private VideoGenerator(Path modelDir, GeneratorOptions options, boolean demo, Path tempDir) {
        Folders folders = options.folders();
        this.modelDir = modelDir;
        this.demo = demo;
        this.tempDir = tempDir;
        if (!Files.isDirectory(modelDir)) {
            throw new WeightFormatException(modelDir, "model directory does not exist or is not a directory");
        }
        Path ditDir = component(modelDir, folders.stdit(), "STDiT3 (hpcai-tech/OpenSora-STDiT-v3)");
        Path vaeDir = component(modelDir, folders.vae(), "VAE (hpcai-tech/OpenSora-VAE-v1.2)");
        Path t5Dir = component(modelDir, folders.t5(), "T5 (DeepFloyd/t5-v1_1-xxl)");
        Path cfg = ditDir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new WeightFormatException(cfg, "missing file of the STDiT3 checkpoint directory");
        }
        this.ditConfig = Stdit3Config.read(cfg);
        Checkpoint ckpt = Checkpoint.open(ditDir);
        VideoVae v = null;
        T5TextEncoder text = null;
        try {
            BlockLayout ditLayout = Stdit3.validatedLayout(ditConfig, ckpt);
            boolean ditBf16 = bf16Compute(options, GeneratorOptions.Model.DIT);
            this.ditBf16 = ditBf16;
            this.ditSource = new StagedBlockSource(ckpt, ditLayout,
                    weightPrecision(options, GeneratorOptions.Model.DIT), ditBf16 ? Stdit3.BF16_PRODUCTS : null);
            StagedBlockSource[] vs = new StagedBlockSource[1];
            WeightPrecision vp = options.precision(GeneratorOptions.Model.VAE);
            v = VideoVae.open(vaeDir, (c, layout) -> vs[0] = new StagedBlockSource(c, layout, vp));
            this.vaeSource = vs[0];
            WeightPrecision tp = weightPrecision(options, GeneratorOptions.Model.T5);
            this.t5Bf16 = bf16Compute(options, GeneratorOptions.Model.T5);
            java.util.function.Predicate<String> t5Products = t5Bf16 ? T5Encoder.BF16_PRODUCTS : null;
            java.util.function.Function<Path, Checkpoint> t5Weights = options.weightCache().isPresent()
                    && tp != WeightPrecision.FLOAT32
                    ? dir -> WeightCache.open(dir, tp, options.weightCache().get()) : Checkpoint::open;
            text = T5TextEncoder.open(t5Dir, T5Tokenizer.Options.openSora().withMaxLength(ditConfig.modelMaxLength()),
                    (c, layout) -> t5Source[0] = new StagedBlockSource(c, layout, tp, t5Products), t5Weights);
        } catch (RuntimeException e) {
            if (v != null) {
                v.close();
            }
            ckpt.close();
            throw e;
        }
        this.ditCheckpoint = ckpt;
        this.dit = Stdit3.withSource(ditConfig, ditSource);
        this.vae = v;
        this.t5 = text;
        Parallel.retain(); // released by close(): the last generator closed shuts the compute pool down
        this.defaultBudget = SystemMemory.defaultBudget();
        EmbeddingDiskCache disk = null;
        if (options.embeddingCache().isPresent()) {
            try {
                disk = new EmbeddingDiskCache(options.embeddingCache().get(), EmbeddingDiskCache.identityOf(t5Dir));
            } catch (IOException e) {
                close();
                throw new UncheckedIOException("cannot use the embedding cache " + options.embeddingCache().get(), e);
            }
        }
        this.embeddingDisk = disk;
        LOG.info("opened {}model {}: STDiT3 hidden {} depth {} ({} float32), VAE decoder {}, T5 encoder {}; "
                + "default memory budget {} (from the memory available now)", demo ? "demo " : "", modelDir,
                ditConfig.hiddenSize(), ditConfig.depth(), NativeMemory.mib(ditSource.totalBytes()),
                NativeMemory.mib(vaeSource.totalBytes()), NativeMemory.mib(t5Source[0].totalBytes()),
                NativeMemory.mib(defaultBudget));
    }

    /** A transformer's weight precision: bf16 when bf16 compute is requested, else as the options say. */
    private static WeightPrecision weightPrecision(GeneratorOptions o, GeneratorOptions.Model m) {
        return o.computePrecision() == ComputePrecision.BF16 ? WeightPrecision.BF16 : o.precision(m);
    }

    /**
     * Whether a transformer computes in bf16: requested (or {@code auto} with bf16 weights) and the bf16 products
     * run natively ({@link Bf16Gemm#selection()}); otherwise its bf16 weights expand to float32. Logged.
     */
    private static boolean bf16Compute(GeneratorOptions o, GeneratorOptions.Model m) {
        ComputePrecision p = o.computePrecision();
        if (p == ComputePrecision.FP32
                || (p == ComputePrecision.AUTO && o.precision(m) != WeightPrecision.BF16)) {
            return false;
        }
        Bf16Gemm.Selection s = Bf16Gemm.selection();
        if (s.route() != Bf16Gemm.Route.NATIVE) {
            LOG.info("{} compute: float32 with bf16 weights expanded block by block, bf16 compute ({}) is not "
                    + "available here: {}", m, p, s.reason());
            return false;
        }
        LOG.info("{} compute: bf16 products with float32 accumulation, weights packed in bf16 ({}; {})", m, p,
                s.reason());
        return true;
    }

    private static Path component(Path dir, String name, String what) {
        Path p = dir.resolve(name);
        if (!Files.isDirectory(p)) {
            throw new WeightFormatException(p, "missing " + what + " folder of the model directory");
        }
        return p;
    }

    /**
     * Opens a model directory with the default folder names ({@code stdit}, {@code vae}, {@code t5}).
     *
     * @param modelDir the model directory (with stdit/, vae/, t5/)
     * @return an open generator; close it when done
     */
    public static VideoGenerator open(Path modelDir) {
        return open(modelDir, Folders.DEFAULT);
    }

    /**
     * Opens a model directory whose component folders have the given names.
     *
     * @param modelDir the model directory (with stdit/, vae/, t5/)
     * @param folders the folder names
     * @return an open generator; close it when done
     */
    public static VideoGenerator open(Path modelDir, Folders folders) {
        return open(modelDir, GeneratorOptions.builder().folders(folders).build());
    }

    /**
     * Opens a model directory with the given options (folder names, caches).
     *
     * @param modelDir the model directory (with stdit/, vae/, t5/)
     * @param options the generator options
     * @return an open generator; close it when done
     */
    public static VideoGenerator open(Path modelDir, GeneratorOptions options) {
        return new VideoGenerator(modelDir, options, false, null);
    }

    /**
     * Opens the embedded demo model: a tiny model trained on synthetic clips of coloured shapes (circle, square,
     * triangle in red, green, blue, yellow, white or purple) moving left, right, up or down, 64×64 pixels, 17 frames.
     * Prompts of the form "a red circle moving left" work (colour more reliably than direction); anything else gives
     * arbitrary blobs. Real Open-Sora weights give real videos: see {@link #open(Path)}.
     *
     * @return an open generator of the demo model; close it when done
     */
    public static VideoGenerator openDefault() {
        return openDefault(GeneratorOptions.DEFAULT);
    }

    /**
     * {@link #openDefault()} with options (the folder names are the demo model's own). The demo model is unpacked
     * once per version (its content hash) into {@code demo-model-<hash>} of the cache directory: system property
     * {@code jsora.cache.dir}, else {@code $XDG_CACHE_HOME/jsora}, else {@code ~/.cache/jsora}. The folder appears
     * complete or not at all (unpacked beside it and renamed into place), so processes racing to unpack it are
     * safe; where the cache cannot be written, a temporary copy is unpacked and deleted on close.
     *
     * @param options the generator options
     * @return an open generator of the demo model; close it when done
     */
    public static VideoGenerator openDefault(GeneratorOptions options) {
        Path dir;
        Path temp = null;
        try {
            dir = DemoCache.directory();
        } catch (IOException | RuntimeException e) {
            LOG.warn("cannot use the demo model cache ({}); unpacking a temporary copy", e.toString());
            try {
                temp = Files.createTempDirectory("jsora-demo-model");
                DemoCache.unpack(temp);
                dir = temp;
            } catch (IOException ex) {
                if (temp != null) {
                    deleteTree(temp);
                }
                throw new UncheckedIOException("cannot unpack the embedded demo model", ex);
            }
        }
        try {
            GeneratorOptions.Builder b = GeneratorOptions.builder().embeddingCache(options.embeddingCache().orElse(null))
                    .weightCache(options.weightCache().orElse(null))
                    .computePrecision(options.computePrecision());
            for (GeneratorOptions.Model m : GeneratorOptions.Model.values()) {
                b.precision(m, options.precision(m));
            }
            return new VideoGenerator(dir, b.build(), true, temp);
        } catch (RuntimeException e) {
            if (temp != null) {
                deleteTree(temp);
            }
            throw e;
        }
    }

    /** The unpacked embedded demo model, shared by processes through the cache directory. */
    static final class DemoCache {
        private DemoCache() {
        }

        /** The cache root: {@code jsora.cache.dir}, {@code $XDG_CACHE_HOME/jsora} or {@code ~/.cache/jsora}. */
        static Path root() {
            String p = System.getProperty("jsora.cache.dir");
            if (p != null && !p.isBlank()) {
                return Path.of(p);
            }
            String xdg = System.getenv("XDG_CACHE_HOME");
            if (xdg != null && !xdg.isBlank()) {
                return Path.of(xdg, "jsora");
            }
            return Path.of(System.getProperty("user.home"), ".cache", "jsora");
        }

        /** The complete unpacked copy of this version, unpacking it first if no process has yet. */
        static Path directory() throws IOException {
            Path root = root();
            Path dir = root.resolve("demo-model-" + hash());
            if (Files.isDirectory(dir)) {
                return dir;
            }
            Files.createDirectories(root);
            Path tmp = Files.createTempDirectory(root, ".demo-model-");
            try {
                unpack(tmp);
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException e) {
                    if (!Files.isDirectory(dir)) {
                        throw e;
                    }
                    // another process renamed its complete copy into place first: use that one
                }
            } finally {
                if (Files.exists(tmp)) {
                    deleteTree(tmp);
                }
            }
            return dir;
        }

        static void unpack(Path dir) throws IOException {
            for (String f : DEMO_FILES) {
                Path target = dir.resolve(f);
                Files.createDirectories(target.getParent());
                try (InputStream in = resource(f)) {
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }

        /** First 16 hex digits of the SHA-256 of the embedded files (names and contents). */
        static String hash() throws IOException {
            java.security.MessageDigest md;
            try {
                md = java.security.MessageDigest.getInstance("SHA-256");
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            byte[] buf = new byte[1 << 16];
            for (String f : DEMO_FILES) {
                md.update(f.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (InputStream in = resource(f)) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        md.update(buf, 0, n);
                    }
                }
            }
            return java.util.HexFormat.of().formatHex(md.digest(), 0, 8);
        }

        private static InputStream resource(String f) {
            InputStream in = VideoGenerator.class.getResourceAsStream(DEMO_RESOURCE + f);
            if (in == null) {
                throw new IllegalStateException("embedded demo model file " + f + " is missing from the jar");
            }
            return in;
        }
    }

    /**
     * True for the embedded demo model.
     *
     * @return whether this is the embedded demo model
     */
    public boolean isDemo() {
        return demo;
    }

    /**
     * The model directory (for the demo model, its unpacked copy in the cache directory).
     *
     * @return the model directory
     */
    public Path modelDirectory() {
        return modelDir;
    }

    /**
     * What this generator's model is: sizes and float32 bytes of its three parts.
     *
     * @return the model info
     */
    public ModelInfo modelInfo() {
        return new ModelInfo(demo, ditConfig.hiddenSize(), ditConfig.depth(), ditConfig.modelMaxLength(),
                vae.config().latentChannels(), vae.config().spatialFactor(), ditSource.totalBytes(),
                vaeSource.totalBytes(), t5Source[0].totalBytes());
    }

    /**
     * A request builder with this model's defaults: Open-Sora's for real weights (see {@link GenerationRequest});
     * for the demo model 64×64 pixels, 17 frames and no prompt preparation (it was trained on bare captions).
     *
     * @param prompt the text prompt
     * @return this builder
     */
    public GenerationRequest.Builder requestBuilder(String prompt) {
        GenerationRequest.Builder b = GenerationRequest.builder(prompt);
        if (demo) {
            b.size(64, 64).frames(17).preparePrompt(false);
        }
        return b;
    }

    /**
     * Generates with this model's defaults and a random seed.
     *
     * @param prompt the text prompt
     * @return the video, frames in memory
     */
    public Video generate(String prompt) {
        return generate(requestBuilder(prompt).build());
    }

    /**
     * Generates a video held in memory, without progress events.
     *
     * @param request what to generate
     * @return the video, frames in memory
     */
    public Video generate(GenerationRequest request) {
        return generate(request, GenerationListener.NONE);
    }

    /**
     * Generates a video held in memory.
     *
     * @throws GenerationCancelledException when cancelled; all memory of the run is freed
     * @throws IllegalArgumentException     for a request this model cannot serve, before any heavy work
     * @param request what to generate
     * @param listener receives progress events
     * @return the video, frames in memory
     */
    public Video generate(GenerationRequest request, GenerationListener listener) {
        List<Frame> frames = new ArrayList<>();
        Run run = new Run(request, listener);
        lockForRun();
        try {
            try (Latent latent = run.denoise()) {
                run.decode(latent, frames::add);
            }
            return new Video(frames, request.fps(), run.request, run.stats(0));
        } finally {
            run.end();
            unlock();
        }
    }

    /**
     * Generates and streams the frames straight into a video file (no frame list is held), in the format
     * {@link VideoFormat#of(Path)} picks: {@code .mp4}, {@code .gif}, {@code .avi}, or an existing directory for PNG
     * frames; other paths are refused before any work. The request is written into the file's metadata.
     *
     * @param request   what to generate
     * @param out       the output file
     * @param overwrite replace an existing output
     * @param listener  progress events
     * @return the run's statistics and the request with the seed used (as a {@link Video} without frames)
     * @throws IOException if the output cannot be written
     */
    public Video generateTo(GenerationRequest request, Path out, boolean overwrite, GenerationListener listener)
            throws IOException {
        return generateTo(request, VideoFormat.of(out), out, overwrite, listener);
    }

    /**
     * Like {@link #generateTo(GenerationRequest, Path, boolean, GenerationListener)} in the given format, whatever
     * the path's extension (the explicit way to ask for a new directory of PNG frames).
     *
     * @param request   what to generate
     * @param format    the output format
     * @param out       the output file, or the directory for PNG frames
     * @param overwrite replace an existing output
     * @param listener  progress events
     * @return the run's statistics and the request with the seed used (as a {@link Video} without frames)
     * @throws IOException if the output cannot be written
     */
    public Video generateTo(GenerationRequest request, VideoFormat format, Path out, boolean overwrite,
            GenerationListener listener) throws IOException {
        Run run = new Run(request, listener);
        lockForRun();
        try (FrameSink sink = VideoWriters.create(format, out, overwrite)) {
            try (Latent latent = run.denoise()) {
                run.writeTo(latent, sink);
            }
            return new Video(List.of(), request.fps(), run.request, run.stats(run.writeSeconds));
        } finally {
            run.end();
            unlock();
        }
    }

    /** Largest {@code loops} of {@link #generateLoop}. */
    public static final int MAX_LOOPS = 64;

    /**
     * A longer video as Open-Sora's {@code --loop} makes it: {@code loops} generations, each after the first
     * continuing the previous one ({@link GenerationRequest.Builder#extend}: its last {@code overlap} latent frames
     * condition the first {@code overlap} frames, with the request's edit ratio), decoded and joined, with the
     * first {@link GenerationRequest#overlapPixelFrames(int) overlapPixelFrames(overlap)} frames of every later clip
     * dropped (they repeat the previous clip). The first generation is {@code request} (with its reference image
     * or continuation, if any); generation k uses seed {@code seed + k} (and, when the request sets one,
     * inference-script seed {@code + k}). Unlike the reference, which re-encodes the decoded previous clip, the
     * previous latent itself conditions the next generation (no encoder needed, no VAE round-trip loss).
     *
     * @throws IllegalArgumentException for loops outside [1, {@link #MAX_LOOPS}] or an overlap that leaves no
     *                                  latent frame to generate
     */
    public Video generateLoop(GenerationRequest request, int loops, int overlap, GenerationListener listener) {
        if (loops < 1 || loops > MAX_LOOPS) {
            throw new IllegalArgumentException("loop count must be in [1, " + MAX_LOOPS + "], found " + loops);
        }
        int latentFrames = GenerationRequest.latentFrames(request.frames());
        if (loops > 1 && (overlap < 1 || overlap >= latentFrames)) {
            throw new IllegalArgumentException("loop overlap must be in [1, " + (latentFrames - 1) + "] latent frames "
                    + "(" + request.frames() + " frames have " + latentFrames + "), found " + overlap);
        }
        List<Frame> frames = new ArrayList<>();
        GenerationRequest first = null;
        GenerationStats stats = null;
        Latent prev = null;
        try {
            for (int k = 0; k < loops; k++) {
                GenerationRequest r = request;
                if (k > 0) {
                    GenerationRequest.Builder b = first.toBuilder().noReference().noExtend().extend(prev, overlap)
                            .seed(first.seed().getAsLong() + k);
                    if (first.inferenceScriptMask().isPresent()) {
                        b.inferenceScriptMask(first.inferenceScriptMask().getAsLong() + k);
                    }
                    r = b.build();
                }
                List<Frame> clip = new ArrayList<>();
                Run run = new Run(r, listener);
                Latent latent;
                lockForRun();
                try {
                    latent = run.denoise();
                    try {
                        run.decode(latent, clip::add);
                    } catch (RuntimeException e) {
                        latent.close();
                        throw e;
                    }
                    stats = run.stats(0);
                } finally {
                    run.end();
                    unlock();
                }
                if (k == 0) {
                    first = run.request;
                }
                int drop = k == 0 ? 0 : Math.min(clip.size(), GenerationRequest.overlapPixelFrames(overlap));
                frames.addAll(clip.subList(drop, clip.size()));
                if (prev != null) {
                    prev.close();
                }
                prev = latent;
            }
        } finally {
            if (prev != null) {
                prev.close();
            }
        }
        LOG.info("loop of {} generations: {} frames", loops, frames.size());
        return new Video(frames, request.fps(), first, stats);
    }

    /**
     * Runs text encoding and denoising only and returns the final latent (to save, decode later, or both).
     *
     * @param request what to generate
     * @param listener receives progress events
     * @return the final latent; close it when done
     */
    public Latent denoise(GenerationRequest request, GenerationListener listener) {
        return denoise(request, null, listener, Tap.NONE);
    }

    /**
     * Like {@link #denoise(GenerationRequest, GenerationListener)} but starting from the given initial noise instead
     * of the seed's (for reproducing a reference run).
     *
     * @param noise [1, C, T, H, W] for the request's size and frame count (copied, not modified)
     * @param request what to generate
     * @param listener receives progress events
     * @return the final latent; close it when done
     */
    public Latent denoise(GenerationRequest request, Tensor noise, GenerationListener listener) {
        return denoise(request, noise, listener, Tap.NONE);
    }

    /**
     * {@link #denoise(GenerationRequest, Tensor, GenerationListener)} with a tap (for the end-to-end golden tests):
     * {@value #TAP_TOKENS} [P, L] token ids and {@value #TAP_TOKEN_MASK} [P, L] (as floats, P prompts),
     * {@value #TAP_CAPTIONS} [2, 1, L, Cc] and {@value #TAP_CAPTION_MASK} [b, L], the captions the transformer gets;
     * per model evaluation, index (step): {@value #TAP_STEP_X} [2B, C, T, H, W], {@value #TAP_STEP_T} [2B] and
     * {@value #TAP_STEP_OUT} [2B, 2C, T, H, W].
     */
    Latent denoise(GenerationRequest request, Tensor noise, GenerationListener listener, Tap probe) {
        Run run = new Run(request, listener);
        run.probe = probe;
        run.givenNoise = noise;
        lockForRun();
        try {
            return run.denoise();
        } finally {
            run.end();
            unlock();
        }
    }

    /**
     * Decodes a latent (for example one loaded with {@link Latent#load}) into a video held in memory.
     *
     * @param latent the latent
     * @param listener receives progress events
     * @return the video, frames in memory
     */
    public Video decode(Latent latent, GenerationListener listener) {
        return decode(latent, listener, Tap.NONE);
    }

    /**
     * {@link #decode(Latent, GenerationListener)} with a tap (for the end-to-end golden tests): {@value #TAP_FRAME}
     * [3, H, W] each decoded frame in ≈[−1, 1] before the 8-bit conversion, index (frame); and the VAE's
     * {@link VideoVae#TEMPORAL_OUTPUT}, index (sample, chunk, first frame).
     */
    Video decode(Latent latent, GenerationListener listener, Tap probe) {
        checkDecodable(latent);
        GenerationRequest req = requestBuilder("(decoded latent)").frames(latent.frames()).fps(latent.fps()).build();
        Run run = new Run(req, listener);
        run.probe = probe;
        List<Frame> frames = new ArrayList<>();
        lockForRun();
        try {
            run.decode(latent, frames::add);
            return new Video(frames, latent.fps(), req, run.stats(0));
        } finally {
            run.end();
            unlock();
        }
    }

    /**
     * Decodes a latent and streams it into a video file, in the format {@link VideoFormat#of(Path)} picks.
     *
     * @param latent    the latent to decode
     * @param out       the output file
     * @param overwrite replace an existing output
     * @param listener  progress events
     * @throws IOException if the output cannot be written
     */
    public void decodeTo(Latent latent, Path out, boolean overwrite, GenerationListener listener) throws IOException {
        decodeTo(latent, VideoFormat.of(out), out, overwrite, listener);
    }

    /**
     * Decodes a latent and streams it into a video file of the given format.
     *
     * @param latent    the latent to decode
     * @param format    the output format
     * @param out       the output file, or the directory for PNG frames
     * @param overwrite replace an existing output
     * @param listener  progress events
     * @throws IOException if the output cannot be written
     */
    public void decodeTo(Latent latent, VideoFormat format, Path out, boolean overwrite, GenerationListener listener)
            throws IOException {
        checkDecodable(latent);
        GenerationRequest req = requestBuilder("(decoded latent)").frames(latent.frames()).fps(latent.fps()).build();
        Run run = new Run(req, listener);
        lockForRun();
        try (FrameSink sink = VideoWriters.create(format, out, overwrite)) {
            run.writeTo(latent, sink);
        } finally {
            run.end();
            unlock();
        }
    }

    // ---- reliability: decode checks (begin)

    /**
     * Refuses, before any work, a latent this model cannot decode into one video: not [1, C, T, H, W] with this
     * VAE's C and the T of its frame count (a batch of 0 or of several videos is refused: one call writes one
     * video), a pixel size past {@link GenerationRequest#MAX_SIDE} (the limit generation enforces), or a NaN or
     * infinite value.
     */
    private void checkDecodable(Latent latent) {
        Tensor z = latent.tensor();
        int[] s = z.shape();
        if (s.length != 5) {
            throw new IllegalArgumentException("latent must be [1, C, T, H, W], found " + z.shapeString());
        }
        if (s[0] != 1) {
            throw new IllegalArgumentException("latent batch is " + s[0] + " (shape " + z.shapeString()
                    + "): decoding writes one video, so the batch must be 1; slice one sample out first");
        }
        io.github.jsora.vae.VaeConfig vc = vae.config();
        if (s[1] != vc.latentChannels()) {
            throw new IllegalArgumentException("latent has " + s[1] + " channels, this VAE decodes "
                    + vc.latentChannels() + " (shape " + z.shapeString() + ")");
        }
        if (s[2] != vc.latentFrames(latent.frames())) {
            throw new IllegalArgumentException("latent has " + s[2] + " latent frames, but " + latent.frames()
                    + " pixel frames need " + vc.latentFrames(latent.frames()) + " (shape " + z.shapeString() + ")");
        }
        long f = vc.spatialFactor();
        if (s[3] * f > GenerationRequest.MAX_SIDE || s[4] * f > GenerationRequest.MAX_SIDE) {
            throw new IllegalArgumentException("latent " + z.shapeString() + " decodes to " + s[4] * f + "x"
                    + s[3] * f + " pixels, more than the " + GenerationRequest.MAX_SIDE
                    + " pixels per side generation allows");
        }
        String bad = Latent.firstNonFinite(z);
        if (bad != null) {
            throw new IllegalArgumentException("latent " + bad);
        }
    }

    // ---- reliability: decode checks (end)

    /** Cancels the generation running now, if any (safe from any thread). */
    public void cancel() {
        CancellationToken t = current;
        if (t != null) {
            t.cancel();
        }
    }

    private void lockForRun() {
        if (closed) {
            throw new IllegalStateException("this VideoGenerator is closed");
        }
        lock.lock();
        if (closed) {
            lock.unlock();
            throw new IllegalStateException("this VideoGenerator is closed");
        }
    }

    private void unlock() {
        current = null;
        lock.unlock();
    }

    /** The request as file metadata (key "jsora.request" plus the main fields). */
    static Map<String, String> metadata(GenerationRequest r) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("software", "jsora");
        m.put("jsora.request", r.toString());
        m.put("prompt", r.prompt());
        r.seed().ifPresent(s -> m.put("seed", Long.toString(s)));
        return m;
    }

    // ------------------------------------------------------------------ one generation

    /** State and statistics of one generation; runs under the instance lock. */
    private final class Run {
        final GenerationRequest request;
        final GenerationListener listener;
        final CancellationToken token = new CancellationToken();
        final StageTimer.Scope clock = StageTimer.start("run");   // the run's elapsed time, for progress
        /** The run's stage timer: text, denoise, decode and write (writes inside the decode are charged to write). */
        final StageTimer timer = new StageTimer();
        final long budget;
        double textSeconds;
        double denoiseSeconds;
        double decodeSeconds;
        double writeSeconds;
        int modelEvaluations;
        double sampleEvaluations;
        java.util.List<Integer> reusedSteps = java.util.List.of();
        OptionalInt leapStep = OptionalInt.empty();
        long bytesLoaded;
        long peakResident;
        double waitSeconds;
        boolean textCached;
        long peakNative;
        Tap probe = Tap.NONE;
        Tensor givenNoise;
        private MemoryPlan plan;
        private long previousLimit;
        // ---- reliability: threads and interrupts (begin)
        private final Thread owner = Thread.currentThread();
        private Parallel.Lease threadLease;
        private boolean interrupted;
        private Stage stage = Stage.TEXT;

        /** An interrupt of the generating thread cancels the run like {@link #cancel()} (restored at the end). */
        void pollInterrupt() {
            if (Thread.currentThread() == owner && Thread.interrupted()) {
                interrupted = true;
                token.cancel();
            }
        }
        // ---- reliability: threads and interrupts (end)

        Run(GenerationRequest request, GenerationListener listener) {
            GenerationRequest r = request;
            if (r.seed().isEmpty()) {
                r = r.toBuilder().seed(new SecureRandom().nextInt() & 0xFFFFFFFFL).build();   // PyTorch uses 32 bits
            }
            this.request = r;
            this.listener = listener == null ? GenerationListener.NONE : listener;
            this.budget = r.memoryBudgetBytes() > 0 ? r.memoryBudgetBytes() : defaultBudget;
            long avail = r.memoryBudgetBytes() > 0 ? SystemMemory.availableBytes() : -1; // the default fits already
            if (avail > 0 && budget > avail + NativeMemory.liveBytes()) {
                LOG.warn("memory budget {} is more than the machine has available now ({} free plus {} held by "
                        + "jsora): the plan may keep more resident than fits, and the kernel may stop the process",
                        NativeMemory.mib(budget), NativeMemory.mib(avail), NativeMemory.mib(NativeMemory.liveBytes()));
            }
            if (budget > SystemMemory.javaCppCap()) {
                throw new MemoryBudgetException(budget, -1, "JavaCPP's org.bytedeco.javacpp.maxphysicalbytes ("
                        + NativeMemory.javaCppPhysicalLimit() + " bytes, set before jsora loaded) stops "
                        + "the process at a smaller size; set it to 0 or lower the budget to at most "
                        + SystemMemory.javaCppCap());
            }
        }

        GenerationStats stats(double write) {
            return new GenerationStats(textSeconds, denoiseSeconds, decodeSeconds, write, modelEvaluations, leapStep,
                    bytesLoaded, peakResident, waitSeconds, Parallel.threads(), textCached, budget, peakNative,
                    sampleEvaluations, reusedSteps);
        }

        Duration elapsed() {
            return Duration.ofNanos(clock.nanos());
        }

        void progress(Stage stage, int step, int total, boolean leapt) {
            this.stage = stage;
            pollInterrupt();
            listener.onProgress(new Progress(stage, step, total, elapsed(), leapt, token::cancel));
        }

        void checkCancelled(Stage stage) {
            pollInterrupt();
            if (token.isCancelled()) {
                throw new GenerationCancelledException(stage, null);
            }
        }

        void account(StagedBlockSource src) {
            BlockStoreStats s = src.stats();
            if (s != null) {
                bytesLoaded += s.bytesLoaded();
                peakResident = Math.max(peakResident, s.peakResidentBytes());
                waitSeconds += s.computeWaitSeconds();
            }
        }

        /**
         * Plans memory for the request (before any work) and makes the plan's limit the hard limit of jsora's
         * native memory until {@link #end()}.
         */
        void begin(int[] latentShape, int frames, boolean merging) {
            current = token;
            pollInterrupt();
            threadLease = Parallel.lease(request.threads());
            plan = planFor(budget, latentShape, frames, merging, referenceVideoShape(request), request.stepCaching());
            LOG.info("{}", plan);
            for (Stage s : new Stage[] {Stage.TEXT, Stage.DENOISE, Stage.DECODE}) {
                StagedBlockSource src = source(s);
                if (!plan.kept(s) && src.isOpen()) {
                    src.closeStore(); // resident from an earlier request that had more room
                }
            }
            previousLimit = NativeMemory.setLimit(Math.max(budget, NativeMemory.liveBytes()));
            NativeMemory.resetPeak();
        }

        void end() {
            notePeak();
            if (plan != null) {
                NativeMemory.setLimit(previousLimit);
            }
            if (threadLease != null) {
                threadLease.close();
            }
            if (interrupted) {
                owner.interrupt(); // the caller sees the interrupt it sent
            }
        }

        /** Opens the stage's block store as the plan says. */
        void openStage(Stage s) {
            NativeMemory.releaseIdle();
            long unloadedKept = 0;
            for (Stage o : new Stage[] {Stage.TEXT, Stage.DENOISE, Stage.DECODE}) {
                if (o != s && plan.kept(o)) {
                    unloadedKept += Math.max(0, source(o).totalBytes() - source(o).residentBytes());
                }
            }
            StagedBlockSource src = source(s);
            src.open(plan.storeOptions(s, NativeMemory.liveBytes(), unloadedKept, src.residentBytes()));
        }

        /** Accounts and, unless the plan keeps the model, frees the stage's blocks. */
        void closeStage(Stage s) {
            StagedBlockSource src = source(s);
            account(src);
            if (!plan.kept(s)) {
                src.closeStore();
            }
        }

        /** Text encoding and sampling: the final latent [1, C, T, H, W]. */
        Latent denoise() {
            GenerationRequest r = request;
            int h = r.height();
            int w = r.width();
            int f = r.frames();
            int[] latentShape = vae.latentShape(1, f, h, w);
            int sf = vae.config().spatialFactor();
            if (h % sf != 0 || w % sf != 0) { // reliability: say so when the frames come out smaller
                LOG.warn("size {}x{} is not a multiple of the VAE's {} pixels: the frames will be {}x{} (the model "
                        + "is conditioned on {}x{}, as in Open-Sora); the video's metadata records both", w, h, sf,
                        latentShape[4] * sf, latentShape[3] * sf, w, h);
            }
            // frame-mask sampling draws from the reference's global generator: seed + 1 unless given
            SamplerOptions options = r.hasConditioning() && r.sampler().inferenceScriptMask().isEmpty()
                    ? r.sampler().toBuilder().inferenceScriptMask(r.seed().getAsLong() + 1).build() : r.sampler();
            LOG.info("generating: {}", r);
            if (givenNoise != null) {
                givenNoise.requireShape("initial noise", latentShape);
            }
            if (plan == null) {
                begin(latentShape, f, options.tdtmSteps() > 0);
            }
            try {
                return budgeted(() -> denoise(r, latentShape, options));
            } finally {
                notePeak();
            }
        }

        private Latent denoise(GenerationRequest r, int[] latentShape, SamplerOptions options) {
            GuidanceCaptions captions;
            try (StageTimer.Scope text = timer.time("text")) {
                progress(Stage.TEXT, 0, 1, false);
                captions = encodeText(r);                               // y [2, 1, L, d], mask [b, L]
            }
            textSeconds = timer.seconds("text");

            StageTimer.Scope denoising = timer.time("denoise");
            Tensor noise = null;
            try (GuidanceCaptions c = captions) {
                checkCancelled(Stage.TEXT);
                noise = givenNoise != null ? givenNoise.copy() : TorchCpuRandom.randnOfBatch(r.seed().getAsLong(),
                        options.batchIndex(), options.batchSize(), latentShape);
                FrameConditioning conditioning = conditioning(r, latentShape);   // encodes a reference
                dit.reserveWorkspace(2, latentShape[2], latentShape[3], latentShape[4], c.y().dim(2),
                        options.tdtmSteps() > 0);
                openStage(Stage.DENOISE);
                try (DitDenoiser model = new DitDenoiser(dit, c.y(), c.mask(), (float) r.fps(), options, probe);
                        SampleResult result = sampler.sample(model, noise, options, conditioning,
                                p -> progress(Stage.DENOISE, p.step(), evaluations(options, p), p.leapt()), token)) {
                    modelEvaluations = result.modelCalls();
                    sampleEvaluations = model.sampleEvaluations();
                    reusedSteps = model.reusedSteps();
                    leapStep = result.leapStep();
                    denoising.close();
                    denoiseSeconds = timer.seconds("denoise");
                    return new Latent(result.latent().copy(), r.frames(), r.fps(), r.toString());
                }
            } catch (SamplingCancelledException e) {
                throw new GenerationCancelledException(Stage.DENOISE, "after " + e.completedSteps() + " steps");
            } catch (IllegalStateException e) {
                if (e.getMessage() != null && e.getMessage().contains("non-finite")) { // reliability: named error
                    throw new WeightFormatException(modelDir + ": the models produced NaN or infinite values (NaN or "
                            + "infinite weights in the STDiT3 or T5 checkpoint?): " + e.getMessage(), e);
                }
                throw e;
            } finally {
                if (noise != null) {
                    noise.close();
                }
                dit.releaseWorkspace();
                closeStage(Stage.DENOISE);
            }
        }

        /**
         * The progress total of the denoising stage: the model evaluations the run will make. A fixed leap at step
         * k makes k + 1; a dynamic leap is known only when it happens, so the leap event's total is its step + 1.
         */
        private static int evaluations(SamplerOptions options, StepProgress p) {
            if (p.leapt()) {
                return p.step() + 1;
            }
            if (options.leap() instanceof LeapStrategy.Fixed fixed) {
                return Math.min(p.totalSteps(), fixed.step() + 1);
            }
            return p.totalSteps();
        }

        /**
         * The request's reference frames for a latent of {@code latentShape}, or null without conditioning: a
         * continued latent's last {@code overlap} frames at the start, then a reference image at its frame.
         */
        private FrameConditioning conditioning(GenerationRequest r, int[] latentShape) {
            if (!r.hasConditioning()) {
                return null;
            }
            FrameConditioning.Builder b = FrameConditioning.builder(latentShape);
            try (Tensor prev = r.previousLatent()) {
                if (prev != null) {
                    int[] p = prev.shape();
                    if (p[1] != latentShape[1] || p[3] != latentShape[3] || p[4] != latentShape[4]) {
                        throw new IllegalArgumentException("size mismatch: the continued latent "
                                + prev.shapeString() + " does not fit this video's latent "
                                + java.util.Arrays.toString(latentShape) + " (" + r.width() + "x" + r.height()
                                + " px): continue with the size the latent was made at");
                    }
                    b.copy(0, prev, -r.overlap(), 0, r.overlap(), r.editRatio());
                }
            }
            if (r.referenceImage().isPresent() || r.referenceVideo().isPresent()) {
                try (Tensor ref = encodeReference(r)) {                     // [1, C, T_ref, h, w]
                    int[] p = ref.shape();
                    if (p[1] != latentShape[1] || p[3] != latentShape[3] || p[4] != latentShape[4]) {
                        throw new IllegalArgumentException("size mismatch: the reference encodes to "
                                + ref.shapeString() + ", this video's latent is "
                                + java.util.Arrays.toString(latentShape));
                    }
                    if (r.referenceImage().isPresent()) {
                        b.copy(0, ref, 0, r.referenceFrame(), 1, r.editRatio());
                    } else {
                        b.copy(0, ref, 0, 0, latentShape[2], r.editRatio());
                    }
                }
            }
            FrameConditioning fc = b.build();
            LOG.info("reference frames: {}", fc);
            return fc;
        }

        /**
         * The request's reference image or video, prepared as Open-Sora's inference script prepares
         * {@code reference_path} and encoded by the VAE (mode path): {@code [1, C, T_ref, h, w]}.
         */
        private Tensor encodeReference(GenerationRequest r) {
            Path file = r.referenceImage().orElseGet(() -> r.referenceVideo().get());
            try (Tensor video = r.referenceImage().isPresent() ? ImageInput.image(file, r.height(), r.width())
                    : ImageInput.video(file, r.height(), r.width(), r.frames())) {          // [1, 3, F, H, W]
                return encodeVideo(video);
            }
        }

        /**
         * The VAE encode of a reference (mode path: the posterior mean, deterministic; the reference samples the
         * posterior with its global generator). The encoder weights are loaded for it and freed right after.
         */
        private Tensor encodeVideo(Tensor video) {
            if (!vae.canEncode()) {
                throw new WeightFormatException(vaeSource.checkpoint().source() + ": this VAE checkpoint has no "
                        + "encoder weights, which reference images and videos need");
            }
            try {
                return vae.encode(video);
            } finally {
                vae.releaseEncoderWeights();
            }
        }

        /** The guidance caption pair of the request, from the prompt cache or from T5. */
        private GuidanceCaptions encodeText(GenerationRequest r) {
            T5Tokenizer.Options topt = T5Tokenizer.Options.openSora().withMaxLength(ditConfig.modelMaxLength())
                    .withPreparePrompt(r.preparePrompt());
            T5Tokenizer tok = new T5Tokenizer(t5.tokenizer().sentencePiece(), topt);
            List<String> prompts = r.negativePrompt() == null ? List.of(r.prompt())
                    : List.of(r.prompt(), r.negativePrompt());
            TokenizedBatch tokens = tok.encode(prompts);
            if (probe.active()) {
                int[][] ids = new int[tokens.batch()][];
                for (int b = 0; b < ids.length; b++) {
                    ids[b] = tokens.ids(b);
                }
                try (Tensor idt = intRows(ids); Tensor mt = tokens.maskTensor()) {
                    probe.capture(TAP_TOKENS, idt);
                    probe.capture(TAP_TOKEN_MASK, mt);
                }
            }
            String key = tokens.key();
            GuidanceCaptions cached = promptCache.get(key);
            GuidanceCaptions pair;
            if (cached != null) {
                textCached = true;
                pair = cached.copy();
                LOG.info("prompt embedding from the cache: T5 not run");
            } else {
                Tensor fromDisk = embeddingDisk == null ? null : embeddingDisk.load(tokens, t5.config().dModel());
                if (fromDisk != null) {
                    textCached = true;
                    LOG.info("prompt embedding from the disk cache: T5 not run");
                    try (Tensor y = fromDisk; Tensor m = tokens.maskTensor()) {
                        pair = pairOf(r, y, m);
                    }
                } else {
                    openStage(Stage.TEXT);
                    try (TextEmbedding emb = t5.encode(tokens)) {               // y [b, 1, L, d], mask [b, L]
                        if (embeddingDisk != null) {
                            embeddingDisk.store(tokens, emb.y());
                        }
                        pair = pairOf(r, emb.y(), emb.mask());
                    } finally {
                        closeStage(Stage.TEXT);
                    }
                }
                cache(key, pair);
            }
            probe.capture(TAP_CAPTIONS, pair.y());
            probe.capture(TAP_CAPTION_MASK, pair.mask());
            return pair;
        }

        private GuidanceCaptions pairOf(GenerationRequest r, Tensor y, Tensor mask) {
            try {
                if (r.negativePrompt() == null) {
                    try (Tensor nul = GuidanceCaptions.nullCaption(ditConfig, ditCheckpoint)) {
                        return GuidanceCaptions.of(ditConfig, y, mask, nul);
                    }
                }
                return GuidanceCaptions.of(ditConfig, y, mask, null);
            } catch (IllegalArgumentException e) {
                throw new WeightFormatException(t5Source[0].checkpoint().source() + ": " + e.getMessage());
            }
        }

        /** Decodes a latent, handing each 8-bit frame to {@code sink}. */
        void decode(Latent latent, java.util.function.Consumer<Frame> sink) {
            Tensor z = latent.tensor();
            if (plan == null) {
                begin(z.shape(), latent.frames(), false);
            }
            try {
                budgeted(() -> {
                    decodeStage(latent, sink);
                    return null;
                });
            } finally {
                notePeak();
            }
        }

        private void decodeStage(Latent latent, java.util.function.Consumer<Frame> sink) {
            StageTimer.Scope decoding = timer.time("decode");
            int total = latent.frames();
            progress(Stage.DECODE, 0, total, false);
            openStage(Stage.DECODE);
            try {
                vae.decode(latent.tensor(), latent.frames(), (sample, index, frame) -> {
                    checkCancelled(Stage.DECODE);
                    String bad = Latent.firstNonFinite(frame);
                    if (bad != null) { // reliability: never a silently black frame
                        throw new WeightFormatException(modelDir + ": the VAE decoded frame " + index + " with a "
                                + "NaN or infinite " + bad.replace(": a latent must be finite", "")
                                + " (NaN or infinite VAE weights?)");
                    }
                    probe.capture(TAP_FRAME, frame, index);
                    int fh = frame.dim(1);
                    int fw = frame.dim(2);
                    sink.accept(Frame.wrap(fw, fh, Frames.toRgb24(frame)));
                    progress(Stage.DECODE, index, total, false);
                }, probe);
            } finally {
                closeStage(Stage.DECODE);
            }
            decoding.close();
            decodeSeconds = timer.seconds("decode");
        }

        /** Runs a stage, turning an allocation past the budget into a {@link MemoryBudgetException}. */
        private <T> T budgeted(java.util.function.Supplier<T> work) {
            try {
                return work.get();
            } catch (MemoryBudgetExceededException e) {
                throw new MemoryBudgetException(budget, e);
            } catch (BlockLoadException e) {
                if (e.getCause() instanceof MemoryBudgetExceededException m) {
                    throw new MemoryBudgetException(budget, m);
                }
                if (e.getCause() instanceof java.util.concurrent.CancellationException c) {
                    throw cancelledBy(c);
                }
                throw e;
            } catch (GenerationCancelledException e) {
                throw e;
            } catch (java.util.concurrent.CancellationException e) {
                throw cancelledBy(e); // an interrupt while waiting for or reading a block
            }
        }

        private GenerationCancelledException cancelledBy(java.util.concurrent.CancellationException e) {
            if (Thread.currentThread() == owner && Thread.interrupted()) {
                interrupted = true;
            }
            token.cancel();
            GenerationCancelledException g = new GenerationCancelledException(stage, e.getMessage());
            g.initCause(e);
            return g;
        }

        /** Takes the native peak so far into the run's stats (read before {@link #end()} by the callers). */
        private void notePeak() {
            peakNative = Math.max(peakNative, NativeMemory.peakBytes());
        }

        void writeTo(Latent latent, FrameSink sink) throws IOException {
            boolean[] begun = {false};
            try {
                decode(latent, frame -> {
                    try (StageTimer.Scope writing = timer.time("write")) {
                        if (!begun[0]) {
                            Map<String, String> meta = metadata(request);
                            meta.put("jsora.frameSize", frame.width() + "x" + frame.height()); // what was written
                            sink.begin(frame.width(), frame.height(), latent.fps(), latent.frames(), meta);
                            begun[0] = true;
                        }
                        sink.accept(frame);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            try (StageTimer.Scope writing = timer.time("write")) {
                progress(Stage.WRITE, 0, 1, false);
                sink.finish();
            }
            writeSeconds = timer.seconds("write");
            decodeSeconds -= Math.min(decodeSeconds, writeSeconds);
        }
    }

    private StagedBlockSource source(Stage s) {
        return switch (s) {
            case TEXT -> t5Source[0];
            case DENOISE -> ditSource;
            case DECODE -> vaeSource;
            default -> throw new IllegalArgumentException("no model for stage " + s);
        };
    }

    /**
     * The smallest memory budget ({@link GenerationRequest.Builder#memoryBudget}) that runs this request: every
     * model streamed one block at a time, plus the activations of the largest stage, the tensors carried between
     * stages and the allocator's slack. A request with less fails before any work with a
     * {@link MemoryBudgetException}.
     *
     * @param request what to generate
     * @return the smallest memory budget ({@link GenerationRequest.Builder#memoryBudget}) that runs this request: every model streamed one block at a time, plus the activations of the largest stage, the tensors carried between stages and the allocator's slack
     */
    public long minimumBudget(GenerationRequest request) {
        int[] latentShape = vae.latentShape(1, request.frames(), request.height(), request.width());
        long[] carried = new long[1];
        Map<Stage, MemoryPlan.StageNeeds> needs = stageNeeds(latentShape, request.frames(), request.tdtmSteps() > 0,
                referenceVideoShape(request), request.stepCaching(), carried);
        return MemoryPlan.minimumBudget(carried[0], needs);
    }

    /**
     * The budget a request without {@link GenerationRequest.Builder#memoryBudget} gets (chosen at open time).
     *
     * @return the budget a request without {@link GenerationRequest.Builder#memoryBudget} gets (chosen at open time)
     */
    public long defaultBudget() {
        return defaultBudget;
    }

    /** The memory plan of a request at this geometry. */
    private MemoryPlan planFor(long budget, int[] latentShape, int frames, boolean merging, int[] referenceVideo,
            StepCaching caching) {
        long[] carried = new long[1];
        Map<Stage, MemoryPlan.StageNeeds> needs = stageNeeds(latentShape, frames, merging, referenceVideo, caching,
                carried);
        return MemoryPlan.plan(budget, carried[0], needs);
    }

    /**
     * The video shape {@code [1, 3, F, H, W]} the request's reference image or video is encoded at, or null. A
     * reference video's frame count is not known before it is read: bounded by the request's frames.
     */
    private static int[] referenceVideoShape(GenerationRequest r) {
        if (r.referenceImage().isPresent()) {
            return new int[] {1, 3, 1, r.height(), r.width()};
        }
        return r.referenceVideo().isPresent() ? new int[] {1, 3, r.frames(), r.height(), r.width()} : null;
    }

    /**
     * What the VAE encode of a reference needs while it runs (before the DiT stage opens, in the denoise stage's
     * turn): the encoder's float32 weights, loaded for it and freed after, and its activation bound
     * ({@link io.github.jsora.vae.VideoVae#encodeActivationBytes}); 0 without a reference.
     */
    private long encodeBytes(int[] referenceVideo) {
        if (referenceVideo == null || !vae.canEncode()) {
            return 0;
        }
        return io.github.jsora.vae.VaeLayout.encoder(vae.config()).float32Bytes()
                + vae.encodeActivationBytes(referenceVideo);
    }

    /**
     * What step caching holds during the denoise stage: the {@link BlockCache}'s tensors for the guidance batch's
     * token stream, and the half-batch output of a prompt-only step; 0 when off.
     */
    private long stepCacheBytes(StepCaching caching, int[] latentShape) {
        if (!caching.enabled()) {
            return 0;
        }
        long half = (long) ditConfig.outChannels() * latentShape[2] * latentShape[3] * latentShape[4] * Float.BYTES;
        return BlockCache.bytes(DitDenoiser.criterion(caching), ditConfig, 2, latentShape[2], latentShape[3],
                latentShape[4]) + half;
    }

    private Map<Stage, MemoryPlan.StageNeeds> stageNeeds(int[] latentShape, int frames, boolean merging,
            int[] referenceVideo, StepCaching caching, long[] carriedOut) {
        int len = ditConfig.modelMaxLength();
        // the pair, its copy for the cache, the null caption, and the prompt cache when full
        long captions = 2L * len * ditConfig.captionChannels() * Float.BYTES * (3 + PROMPT_CACHE_ENTRIES);
        long latent = 1;
        for (int d : latentShape) {
            latent *= d;
        }
        long carried = captions + 32 * latent * Float.BYTES + (16L << 20);
        Map<Stage, MemoryPlan.StageNeeds> needs = new java.util.EnumMap<>(Stage.class);
        needs.put(Stage.TEXT, needs("T5", t5Source[0],
                T5Encoder.activationBytes(t5.config(), 2, len, t5Bf16)));
        // the reference's encode runs in the denoise stage's turn, before the DiT's blocks: the larger of the two
        needs.put(Stage.DENOISE, needs("STDiT3", ditSource, Math.max(encodeBytes(referenceVideo),
                latentShape.length == 5
                ? Stdit3.workspaceBytes(ditConfig, 2, latentShape[2], latentShape[3], latentShape[4], len, merging,
                        ditBf16)
                        + stepCacheBytes(caching, latentShape) : 0)));
        needs.put(Stage.DECODE, needs("VAE", vaeSource, latentShape.length == 5 && latentShape[1] == vae.config()
                .latentChannels() && latentShape[3] > 0 && latentShape[4] > 0
                && latentShape[2] == vae.config().latentFrames(frames) ? vae.activationBytes(latentShape, frames) : 0));
        carriedOut[0] = carried;
        return needs;
    }

    private static MemoryPlan.StageNeeds needs(String model, StagedBlockSource src, long activations) {
        return new MemoryPlan.StageNeeds(model, src.totalBytes(), src.requiredBudget(1), src.requiredBudget(0),
                activations);
    }

    private void cache(String key, GuidanceCaptions pair) {
        promptCache.put(key, pair.copy());
        while (promptCache.size() > PROMPT_CACHE_ENTRIES) {
            Map.Entry<String, GuidanceCaptions> eldest = promptCache.entrySet().iterator().next();
            promptCache.remove(eldest.getKey());
            eldest.getValue().close();
        }
    }

    /**
     * Frees every model and unmaps the files (and deletes a temporary demo-model copy). A generation running now is
     * not cancelled: close waits until it ends (call {@link #cancel()} first to stop it); calls queued behind it
     * run first too, later calls fail with an {@link IllegalStateException}. The last generator closed shuts the
     * compute threads down.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            Parallel.release();
            promptCache.values().forEach(GuidanceCaptions::close);
            promptCache.clear();
            dit.close();
            ditSource.close();
            t5.close();
            vae.close();
            ditCheckpoint.close();
        } finally {
            lock.unlock();
            if (tempDir != null) {
                deleteTree(tempDir);
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    LOG.debug("could not delete {}", p, e);
                }
            });
        } catch (IOException e) {
            LOG.debug("could not delete {}", dir, e);
        }
    }
}

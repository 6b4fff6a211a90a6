package io.github.jsora.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import io.github.jsora.GenerationCancelledException;
import io.github.jsora.GenerationListener;
import io.github.jsora.GenerationRequest;
import io.github.jsora.GeneratorOptions;
import io.github.jsora.MemoryBudgetException;
import io.github.jsora.Latent;
import io.github.jsora.Progress;
import io.github.jsora.Stage;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;
import io.github.jsora.video.VideoFormat;
import io.github.jsora.weights.WeightFormatException;

/**
 * The jsora command line: {@code generate PROMPT --out FILE ...} and {@code decode LATENT --out FILE ...}.
 * Progress goes to stderr, the result summary to stdout. Exit codes: see {@link #USAGE}.
 */
public final class Main {

    /** Success. */
    public static final int OK = 0;
    /** Generation failed for another reason (a bug or an unexpected error; the message says which). */
    public static final int FAILED = 1;
    /** Bad command line: unknown option, missing or invalid value. */
    public static final int USAGE_ERROR = 2;
    /** The model directory, a checkpoint or a latent file is missing or broken. */
    public static final int MODEL_ERROR = 3;
    /** The output cannot be written (exists, missing or read-only directory, unknown format). */
    public static final int OUTPUT_ERROR = 4;
    /** The memory budget cannot hold the request (planned before any work, or exceeded during it). */
    public static final int MEMORY_ERROR = 5;
    /** Cancelled (interrupt). */
    public static final int CANCELLED = 130;

    // ---- reliability: exit-code table (begin)

    /** One row of {@link #EXIT_CODES}: exceptions of {@code type} exit with {@code code}. */
    record ExitRule(Class<? extends Throwable> type, int code, java.util.function.Function<Throwable, String> message) {
    }

    /**
     * The one mapping from exception types to exit codes; the first row whose type matches wins, so more specific
     * types come first. {@link java.nio.file.FileSystemException}s are about output paths here: model and latent
     * files surface as {@link WeightFormatException} (including {@code SentencePieceFormatException}).
     */
    static final List<ExitRule> EXIT_CODES = List.of(
            new ExitRule(UsageException.class, USAGE_ERROR,
                    e -> e.getMessage() + System.lineSeparator() + helpHint()),
            new ExitRule(GenerationCancelledException.class, CANCELLED, Throwable::getMessage),
            new ExitRule(MemoryBudgetException.class, MEMORY_ERROR, Throwable::getMessage),
            new ExitRule(WeightFormatException.class, MODEL_ERROR, e -> "model error: " + e.getMessage()),
            new ExitRule(io.github.jsora.weights.BlockLoadException.class, MODEL_ERROR,
                    e -> "model error: " + e.getMessage()),
            new ExitRule(OutputFormatException.class, OUTPUT_ERROR, Throwable::getMessage),
            new ExitRule(FileAlreadyExistsException.class, OUTPUT_ERROR,
                    e -> ((FileAlreadyExistsException) e).getFile() + " exists; pass --overwrite to replace it"),
            new ExitRule(FileSystemException.class, OUTPUT_ERROR,
                    e -> "cannot write " + ((FileSystemException) e).getFile() + ": " + describe((FileSystemException) e)),
            new ExitRule(IOException.class, OUTPUT_ERROR, e -> "I/O error: " + e.getMessage()),
            new ExitRule(IllegalArgumentException.class, USAGE_ERROR, Throwable::getMessage),
            new ExitRule(RuntimeException.class, FAILED, e -> "failed: " + e));

    /** The exit code of a failure, by {@link #EXIT_CODES}. */
    static int exitCode(Throwable e) {
        return rule(e).code();
    }

    private static ExitRule rule(Throwable e) {
        for (ExitRule r : EXIT_CODES) {
            if (r.type().isInstance(e)) {
                return r;
            }
        }
        return EXIT_CODES.get(EXIT_CODES.size() - 1);
    }

    /** An output path whose extension names no format jsora writes. */
    static final class OutputFormatException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OutputFormatException(String message) {
            super(message);
        }
    }

    /** The output format, checked before any work; an unknown extension exits {@link #OUTPUT_ERROR}. */
    private static VideoFormat checkFormat(Options o) {
        try {
            return o.format();
        } catch (IllegalArgumentException e) {
            throw new OutputFormatException(e.getMessage());
        }
    }

    // ---- reliability: exit-code table (end)

    static final String USAGE = """
            Usage:
              jsora generate PROMPT --out FILE.mp4|FILE.gif|FILE.avi|DIR/ [options]
              jsora decode LATENT.safetensors --out FILE.mp4|FILE.gif|FILE.avi|DIR/ [--model DIR] [--overwrite]
              jsora --help | --version

            Generates a short video from a text prompt with an Open-Sora v1.2 model on the CPU.

            Without --model, the small demo model embedded in jsora is used. It was trained only on synthetic
            64x64, 17-frame clips of a coloured shape (circle, square or triangle; red, green, blue, yellow, white or
            purple) moving left, right, up or down: prompts like "a red circle moving left" give a blurry blob of
            roughly that colour, often moving that way; anything else gives arbitrary blobs. For real videos, download
            the real weights (hpcai-tech/OpenSora-STDiT-v3, hpcai-tech/OpenSora-VAE-v1.2, DeepFloyd/t5-v1_1-xxl)
            into DIR/stdit, DIR/vae and DIR/t5 and pass --model DIR.

            Options of generate:
              --out PATH          output: .mp4 (H.264, plays in browsers), .gif (looping GIF), .avi (MJPEG), or a
                                  directory ending in / (PNG frames); any other extension is refused
              --png-dir DIR       write PNG frames into directory DIR (instead of --out)
              --model DIR         model directory with stdit/, vae/, t5/ (default: the embedded demo model)
              --seed N            random seed (default: drawn at random and printed); the initial noise is
                                  PyTorch's torch.randn(..., generator=torch.Generator().manual_seed(N)) on CPU
                                  (as in PyTorch, only the low 32 bits of N count)
              --reference-batch K/N  take the noise as video K (0-based) of N drawn together, as a PyTorch run
                                  that sampled N prompts in one batch did
              --script-seed N     sample as Open-Sora's inference script does (mask of ones), its own random draws
                                  after torch.manual_seed(N); only matters when the first timestep rounds above
                                  1000 (the demo model), where it reproduces the reference's videos
              --steps N           denoising steps (default 30)
              --cfg X             classifier-free guidance scale (default 7.0)
              --frames N          video frames (default 51; demo model 17); 2-16 are rounded up to 17
              --size WxH          pixel size (default 426x240; demo model 64x64)
              --resolution NAME   144p, 240p, 360p, 480p or 720p, with --aspect H:W (default 9:16)
              --fps X             frame rate (default 24)
              --negative TEXT     negative prompt
              --lpl N|dynamic     Linear Proportional Leap at step N (0-based), or chosen at run time;
                                  dynamic:MIN,TOL,PATIENCE sets the rule's parameters (default 14,0.001,3)
              --tdtm K            temporal token merging for the first K steps
              --step-cache SPEC   step caching: input:THRESHOLD (first block's modulated input, TeaCache) or
                                  block:THRESHOLD (first block's residual), optionally @FROM-TO steps; off
              --cfg-interval L,H  classifier-free guidance only at timesteps in [L, H] (of 1000); outside it the
                                  transformer runs on the prompt alone, at half the batch
              --budget BYTES      memory budget for everything jsora allocates (model blocks of all three models,
                                  activations, caches), e.g. 2GiB, 500MB (default: chosen from the memory
                                  available, logged); the JVM itself needs about 512 MiB more
              --threads N         compute threads (default: all processors)
              --no-prepare        do not append the aesthetic score nor clean the prompt
              --save-latent FILE  also save the final latent (.safetensors) to decode again later
              --embedding-cache DIR  keep T5 outputs in DIR so a prompt is never encoded twice
              --weights SPEC      keep weights in a lighter precision, e.g. t5=int8,dit=bf16 or bf16 (models t5,
                                  dit, vae; f32, bf16, int8); expanded to float32 block by block when used
              --precision P       arithmetic of the STDiT3 and T5 products: fp32, bf16 (bf16 products with float32
                                  accumulation where the CPU has native bf16; implies bf16 weights for t5 and dit)
                                  or auto (default: bf16 for models with --weights bf16, else fp32)
              --weight-cache DIR  write T5 in its --weights precision once into DIR and read that copy later
              --overwrite         replace existing output files

            Reference frames (image-to-video, continuation; Open-Sora's reference_path / mask_strategy / --loop):
              --image FILE[@N|@last]  a PNG or JPEG (resized and centre-cropped to the video size) conditions
                                  latent frame N (default 0; 'last' or a negative N counts from the end)
              --video PATH        a folder of PNG/JPEG frames, a GIF or an AVI conditions the first latent frames
              --edit-ratio X      0 keeps the reference frames (default); X in (0, 1] re-noises them at the first
                                  step with t <= 1000*X and lets the model change them
              --extend LATENT     continue a saved latent (--save-latent): its last --overlap latent frames
                                  condition the first ones of this video
              --overlap N         latent frames shared with the previous clip (--extend, --loop; default 5)
              --loop N            N generations, each continuing the one before, joined into one video (the first
                                  frames of each later clip, which repeat the previous one, are dropped)

            Exit codes: 0 success, 1 failure, 2 bad command line, 3 model or latent file missing or broken,
            4 output cannot be written, 5 memory budget too small (the message gives the bytes needed),
            130 cancelled.

            Progress goes to stderr (redrawn in place on a terminal, a line every few seconds otherwise); log
            messages at warning level and above too (-Dorg.slf4j.simpleLogger.defaultLogLevel=info for more).
            """;

    // ---- command name, version, logging defaults (packaging) ----------------------------------------------------

    /** System property a launcher sets to the command it was started as (e.g. {@code bin/jsora}). */
    static final String COMMAND_PROPERTY = "jsora.command";

    /** How this process was started, for the help text: the launcher's name, {@code java -jar ...} or Maven. */
    static String command() {
        String c = System.getProperty(COMMAND_PROPERTY);
        if (c != null && !c.isBlank()) {
            return c;
        }
        String javaCommand = System.getProperty("sun.java.command", "");
        String first = javaCommand.split(" ", 2)[0];
        if (first.endsWith(".jar")) {
            return "java -jar " + first;
        }
        if (javaCommand.contains("plexus.classworlds")) {
            return "mvn";
        }
        return "java " + Main.class.getName();
    }

    /** The usage text with the real command in place of "jsora". */
    static String usage() {
        String cmd = command();
        StringBuilder sb = new StringBuilder();
        for (String line : USAGE.split("\n", -1)) {
            if (line.startsWith("  jsora ")) {
                String args = line.substring("  jsora ".length());
                line = cmd.equals("mvn") ? "  mvn -q compile exec:java -Dexec.args=\"" + args + "\""
                        : "  " + cmd + " " + args;
            }
            sb.append(line).append('\n');
        }
        return sb.substring(0, sb.length() - 1);
    }

    /** The help hint of error messages, naming the real command. */
    static String helpHint() {
        String cmd = command();
        return cmd.equals("mvn") ? "Run 'mvn -q compile exec:java -Dexec.args=--help' for usage."
                : "Run '" + cmd + " --help' for usage.";
    }

    /** The version of this build (from the filtered {@code version.properties}), or "unknown". */
    static String version() {
        try (java.io.InputStream in = Main.class.getResourceAsStream("/io/github/jsora/version.properties")) {
            if (in != null) {
                java.util.Properties p = new java.util.Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.startsWith("$")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // fall through
        }
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    /** Defaults of the CLI's logging binding (slf4j-simple) unless the user set them: warnings and up, to stderr. */
    static void configureLogging() {
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        setIfAbsent("org.slf4j.simpleLogger.showThreadName", "false");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
        setIfAbsent("org.slf4j.simpleLogger.logFile", "System.err");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    // ---- end of command name, version, logging defaults ---------------------------------------------------------

    private Main() {
    }

    /**
     * Runs the command line and exits with its code.
     *
     * @param args the command line
     */
    public static void main(String[] args) {
        configureLogging();
        terminal = isTerminal();
        int code = run(args, System.out, System.err);
        System.exit(code);
    }

    /**
     * Runs the command line.
     *
     * @param args the command line
     * @param out  where results go
     * @param err  where progress and errors go
     * @return the exit code
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        try {
            if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
                (args.length == 0 ? err : out).print(usage());
                return args.length == 0 ? USAGE_ERROR : OK;
            }
            if (args[0].equals("--version") || args[0].equals("-V")) {
                out.println("jsora " + version());
                return OK;
            }
            Options o = Options.parse(args);
            return switch (o.command) {
                case "generate" -> generate(o, out, err);
                case "decode" -> decode(o, out, err);
                default -> throw new UsageException("unknown command '" + o.command + "' (generate or decode)");
            };
        } catch (IOException | RuntimeException e) {
            ExitRule r = rule(e);
            err.println("jsora: " + r.message().apply(e));
            return r.code();
        }
    }

    private static String describe(FileSystemException e) {
        if (e instanceof NoSuchFileException) {
            return "the directory does not exist";
        }
        if (e instanceof NotDirectoryException) {
            return "a parent is not a directory";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        return e.getReason() != null ? e.getReason() : e.getMessage();
    }

    private static VideoGenerator open(Options o) {
        GeneratorOptions.Builder g = GeneratorOptions.builder();
        if (o.embeddingCache != null) {
            g.embeddingCache(Path.of(o.embeddingCache));
        }
        if (o.weights != null) {
            g.weights(o.weights);
        }
        if (o.weightCache != null) {
            g.weightCache(Path.of(o.weightCache));
        }
        if (o.precision != null) {
            g.computePrecision(o.precision);
        }
        if (o.model == null) {
            return VideoGenerator.openDefault(g.build());
        }
        Path dir = Path.of(o.model);
        if (!Files.isDirectory(dir)) {
            throw new WeightFormatException(dir, "model directory does not exist");
        }
        return VideoGenerator.open(dir, g.build());
    }

    private static int generate(Options o, PrintStream out, PrintStream err) throws IOException {
        if (o.positional == null) {
            throw new UsageException("generate needs a PROMPT");
        }
        if (o.out == null) {
            throw new UsageException("generate needs --out FILE.mp4|FILE.gif|FILE.avi|DIR/ (or --png-dir DIR)");
        }
        VideoFormat format = checkFormat(o); // unknown extension → exit 4 before loading anything
        checkTarget(Path.of(o.out), o.overwrite);
        if (o.saveLatent != null) {
            checkTarget(Path.of(o.saveLatent), o.overwrite);
        }
        try (Interrupts signals = new Interrupts(); VideoGenerator gen = open(o)) {
            signals.watch(gen);
            GenerationRequest request = o.request(gen);
            ProgressBar bar = new ProgressBar(err, terminal && err == System.err);
            Video result;
            if (o.loop != null && o.loop > 1) {                           // --- reference frames: --loop
                if (o.saveLatent != null) {
                    throw new UsageException("--save-latent cannot be combined with --loop");
                }
                result = gen.generateLoop(request, o.loop, o.overlapOrDefault(), bar);
                result.write(Path.of(o.out), o.overwrite);
            } else if (o.saveLatent != null) {
                try (Latent latent = gen.denoise(request, bar)) {
                    latent.save(Path.of(o.saveLatent), o.overwrite);
                    err.println();
                    err.println("latent saved to " + o.saveLatent);
                    gen.decodeTo(latent, format, Path.of(o.out), o.overwrite, bar);
                }
                result = null;
            } else {
                result = gen.generateTo(request, format, Path.of(o.out), o.overwrite, bar);
            }
            bar.done();
            out.println("wrote " + o.out);
            if (result != null) {
                out.println("request: " + printable(result.request().toString()));
                out.println("stats: " + result.stats());
            }
            return OK;
        }
    }

    /** Fails fast, before any model work, when an output cannot be written. */
    private static void checkTarget(Path target, boolean overwrite) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null && !Files.exists(parent)) {
            throw new NoSuchFileException(parent.toString());
        }
        if (parent != null && !Files.isDirectory(parent)) {
            throw new NotDirectoryException(parent.toString());
        }
        if (parent != null && !Files.isWritable(parent)) {
            throw new AccessDeniedException(parent.toString());
        }
        if (!overwrite && Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
        }
    }

    private static int decode(Options o, PrintStream out, PrintStream err) throws IOException {
        if (o.positional == null) {
            throw new UsageException("decode needs a LATENT.safetensors file");
        }
        if (o.out == null) {
            throw new UsageException("decode needs --out FILE.mp4|FILE.gif|FILE.avi|DIR/ (or --png-dir DIR)");
        }
        VideoFormat format = checkFormat(o); // unknown extension → exit 4 before loading anything
        checkTarget(Path.of(o.out), o.overwrite);
        Path latentFile = Path.of(o.positional);
        if (!Files.isRegularFile(latentFile)) {
            throw new WeightFormatException(latentFile, "no such latent file");
        }
        try (Interrupts signals = new Interrupts(); VideoGenerator gen = open(o);
                Latent latent = Latent.load(latentFile)) {
            signals.watch(gen);
            ProgressBar bar = new ProgressBar(err, terminal && err == System.err);
            try {
                gen.decodeTo(latent, format, Path.of(o.out), o.overwrite, bar);
            } catch (IllegalArgumentException e) { // checked before any work: the file holds no decodable latent
                throw new WeightFormatException(latentFile, e.getMessage(), e);
            }
            bar.done();
            out.println("wrote " + o.out);
            return OK;
        }
    }

    /** Text for the terminal: control and format characters (of a prompt) shown as escapes, never raw. */
    static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            int t = Character.getType(c);
            if (t == Character.CONTROL || t == Character.FORMAT || t == Character.LINE_SEPARATOR
                    || t == Character.PARAGRAPH_SEPARATOR) {
                b.append(c <= 0xFFFF ? String.format(Locale.ROOT, "\\u%04x", c)
                        : String.format(Locale.ROOT, "\\U%08x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.toString();
    }

    // ---- reliability: signals (begin)

    /** How long the shutdown hook waits for a cancelled run to clean up (its {@code .part} files, the models). */
    static final long CLEANUP_WAIT_MILLIS = 10_000;

    /**
     * SIGINT / SIGTERM while a command runs: the shutdown hook cancels the generation, then waits (at most
     * {@link #CLEANUP_WAIT_MILLIS}) until the command has unwound (partial output discarded, generator closed),
     * since the JVM halts as soon as the hooks return. Closed after the generator; then the hook is removed.
     */
    static final class Interrupts implements AutoCloseable {
        private final java.util.concurrent.CountDownLatch unwound = new java.util.concurrent.CountDownLatch(1);
        private final Thread hook;
        private volatile VideoGenerator gen;
        private volatile boolean signalled;

        Interrupts() {
            hook = new Thread(this::onSignal, "jsora-cancel");
            Runtime.getRuntime().addShutdownHook(hook);
        }

        private void onSignal() {
            signalled = true;
            VideoGenerator g = gen;
            if (g != null) {
                g.cancel();
            }
            try {
                unwound.await(CLEANUP_WAIT_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** The generator to cancel; a signal that came while it was opening cancels now. */
        void watch(VideoGenerator g) {
            gen = g;
            if (signalled) {
                throw new GenerationCancelledException(Stage.TEXT, "interrupted while opening the model");
            }
        }

        /** Runs the hook's cancellation as a signal would (for tests). */
        void signal() {
            signalled = true;
            VideoGenerator g = gen;
            if (g != null) {
                g.cancel();
            }
        }

        @Override
        public void close() {
            unwound.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook is running and now returns
            }
        }
    }

    // ---- reliability: signals (end)

    // ---- progress display (packaging) ------------------------------------------------------------------------

    /** Whether stderr is a terminal; set by {@link #main} (tests run {@link #run} with plain streams). */
    private static boolean terminal;

    /**
     * Whether this process talks to a terminal: {@link System#console()} (null when input or output is redirected
     * before JDK 22) and, from JDK 22 on, its {@code isTerminal()}.
     */
    static boolean isTerminal() {
        java.io.Console c = System.console();
        if (c == null) {
            return false;
        }
        try {
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(c);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return true; // before JDK 22 a console exists only for a terminal
        }
    }

    /**
     * Progress on stderr: on a terminal one line redrawn in place with {@code \r}; otherwise plain lines (the first
     * and last event of each stage and at most one every {@link #PLAIN_INTERVAL_NANOS}), so log files stay readable.
     */
    static final class ProgressBar implements GenerationListener {
        static final long PLAIN_INTERVAL_NANOS = 5_000_000_000L;
        private final PrintStream err;
        private final boolean redraw;
        private Stage last;
        private long lastLine;
        private boolean open; // a redrawn line is on screen without its newline

        ProgressBar(PrintStream err, boolean redraw) {
            this.err = err;
            this.redraw = redraw;
        }

        @Override
        public void onProgress(Progress p) {
            boolean newStage = last != p.stage();
            if (newStage && open) {
                err.println();
                open = false;
            }
            last = p.stage();
            int total = Math.max(1, p.total());
            int done = Math.min(total, p.step() + 1);
            String stage = p.stage().name().toLowerCase(Locale.ROOT);
            double seconds = p.elapsed().toMillis() / 1000.0;
            if (redraw) {
                int width = 30;
                int filled = p.stage() == Stage.TEXT ? 0 : (int) ((long) width * done / total);
                err.printf(Locale.ROOT, "\r%-8s [%s%s] %d/%d %6.1fs%s", stage, "#".repeat(filled),
                        " ".repeat(width - filled), done, total, seconds, p.leapt() ? " (leap)" : "");
                open = true;
            } else {
                long now = System.nanoTime();
                if (!(newStage || done == total || now - lastLine >= PLAIN_INTERVAL_NANOS)) {
                    return;
                }
                lastLine = now;
                err.printf(Locale.ROOT, "%s %d/%d %.1fs%s%n", stage, done, total, seconds,
                        p.leapt() ? " (leap)" : "");
            }
            err.flush();
        }

        void done() {
            if (open) {
                err.println();
                open = false;
            }
        }
    }

    // ---- end of progress display --------------------------------------------------------------------------------

    /** A command-line mistake. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /** Parsed command line. */
    static final class Options {
        String command;
        String positional;
        String out;
        String model;
        Long seed;
        int[] referenceBatch;
        Long scriptSeed;
        Integer steps;
        Double cfg;
        Integer frames;
        int[] size;
        String resolution;
        String aspect = "9:16";
        Double fps;
        String negative;
        String lpl;
        Integer tdtm;
        String stepCache;
        String cfgInterval;
        Long budget;
        Integer threads;
        boolean noPrepare;
        String saveLatent;
        String embeddingCache;
        String weights;
        io.github.jsora.ComputePrecision precision;
        String weightCache;
        boolean overwrite;
        boolean pngDir; // --png-dir: PNG frames into the directory `out`

        /** The output format: --png-dir, else from the --out text (a trailing '/' is a PNG directory). */
        VideoFormat format() {
            return pngDir ? VideoFormat.PNG_SEQUENCE : VideoFormat.of(out);
        }
        // --- reference frames (image-to-video, continuation): begin
        String image;
        String video;
        Double editRatio;
        String extend;
        Integer overlap;
        Integer loop;
        // --- reference frames: end

        static Options parse(String[] args) {
            Options o = new Options();
            o.command = args[0];
            List<String> rest = new ArrayList<>(List.of(args).subList(1, args.length));
            for (int i = 0; i < rest.size(); i++) {
                String a = rest.get(i);
                if (!a.startsWith("--")) {
                    if (o.positional != null) {
                        throw new UsageException("unexpected argument '" + a + "' (quote a prompt with spaces)");
                    }
                    o.positional = a;
                    continue;
                }
                switch (a) {
                    case "--overwrite" -> o.overwrite = true;
                    case "--no-prepare" -> o.noPrepare = true;
                    case "--help" -> throw new UsageException("--help goes first: jsora --help");
                    default -> {
                        if (i + 1 >= rest.size()) {
                            throw new UsageException(a + " needs a value");
                        }
                        o.set(a, rest.get(++i));
                    }
                }
            }
            return o;
        }

        private void set(String opt, String v) {
            switch (opt) {
                case "--out" -> {
                    if (pngDir) {
                        throw new UsageException("give either --out or --png-dir, not both");
                    }
                    out = v;
                }
                case "--png-dir" -> {
                    if (out != null) {
                        throw new UsageException("give either --out or --png-dir, not both");
                    }
                    out = v;
                    pngDir = true;
                }
                case "--model" -> model = v;
                case "--seed" -> seed = parseLong(opt, v);
                case "--reference-batch" -> referenceBatch = parseFraction(opt, v);
                case "--script-seed" -> scriptSeed = parseLong(opt, v);
                case "--steps" -> steps = parseInt(opt, v);
                case "--cfg" -> cfg = parseDouble(opt, v);
                case "--frames" -> frames = parseInt(opt, v);
                case "--size" -> size = parseSize(v);
                case "--resolution" -> resolution = v;
                case "--aspect" -> aspect = v;
                case "--fps" -> fps = parseDouble(opt, v);
                case "--negative" -> negative = v;
                case "--lpl" -> lpl = v;
                case "--tdtm" -> tdtm = parseInt(opt, v);
                case "--step-cache" -> stepCache = v;
                case "--cfg-interval" -> cfgInterval = v;
                case "--budget" -> budget = parseBytes(v);
                case "--threads" -> threads = parseInt(opt, v);
                case "--save-latent" -> saveLatent = v;
                case "--embedding-cache" -> embeddingCache = v;
                case "--weights" -> weights = v;
                case "--weight-cache" -> weightCache = v;
                case "--precision" -> precision = parsePrecision(v);
                // --- reference frames: begin
                case "--image" -> image = v;
                case "--video" -> video = v;
                case "--edit-ratio" -> editRatio = parseDouble(opt, v);
                case "--extend" -> extend = v;
                case "--overlap" -> overlap = parseInt(opt, v);
                case "--loop" -> loop = parseInt(opt, v);
                // --- reference frames: end
                default -> throw new UsageException("unknown option " + opt);
            }
        }

        GenerationRequest request(VideoGenerator gen) {
            GenerationRequest.Builder b = gen.requestBuilder(positional);
            if (seed != null) {
                b.seed(seed);
            }
            if (referenceBatch != null) {
                b.referenceBatch(referenceBatch[0], referenceBatch[1]);
            }
            if (scriptSeed != null) {
                b.inferenceScriptMask(scriptSeed);
            }
            if (steps != null) {
                b.steps(steps);
            }
            if (cfg != null) {
                b.cfgScale(cfg);
            }
            if (frames != null) {
                b.frames(frames);
            }
            if (resolution != null) {
                if (size != null) {
                    throw new UsageException("give either --size or --resolution, not both");
                }
                b.resolution(resolution, aspect);
            }
            if (size != null) {
                b.size(size[0], size[1]);
            }
            if (fps != null) {
                b.fps(fps);
            }
            b.negativePrompt(negative);
            if (lpl != null) {
                if (lpl.equalsIgnoreCase("dynamic")) {
                    b.dynamicLeap();
                } else if (lpl.toLowerCase(java.util.Locale.ROOT).startsWith("dynamic:")) {
                    String[] p = lpl.substring(8).split(",", -1);
                    if (p.length != 3) {
                        throw new UsageException("--lpl dynamic:MIN_STEP,TOLERANCE,PATIENCE needs three values, found '"
                                + lpl + "'");
                    }
                    double tol;
                    try {
                        tol = Double.parseDouble(p[1].trim());
                    } catch (NumberFormatException e) {
                        throw new UsageException("--lpl " + lpl + ": tolerance '" + p[1] + "' is not a number");
                    }
                    b.dynamicLeap(parseInt("--lpl min step", p[0].trim()), tol, parseInt("--lpl patience", p[2].trim()));
                } else {
                    b.leapAt(parseInt("--lpl", lpl));
                }
            }
            if (tdtm != null) {
                b.tdtmSteps(tdtm);
            }
            if (stepCache != null) {
                try {
                    b.stepCaching(io.github.jsora.sampling.StepCaching.parse(stepCache));
                } catch (IllegalArgumentException e) {
                    throw new UsageException(e.getMessage());
                }
            }
            if (cfgInterval != null) {
                try {
                    io.github.jsora.sampling.GuidanceInterval gi =
                            io.github.jsora.sampling.GuidanceInterval.parse(cfgInterval);
                    b.cfgInterval(gi.low(), gi.high());
                } catch (IllegalArgumentException e) {
                    throw new UsageException("--cfg-interval: " + e.getMessage());
                }
            }
            if (budget != null) {
                b.memoryBudget(budget);
            }
            if (threads != null) {
                b.threads(threads);
            }
            if (noPrepare) {
                b.preparePrompt(false);
            }
            references(b);
            return b.build();
        }

        // --- reference frames (image-to-video, continuation): begin

        /** Default {@code --overlap}: Open-Sora's {@code condition_frame_length}. */
        static final int DEFAULT_OVERLAP = 5;

        int overlapOrDefault() {
            return overlap != null ? overlap : DEFAULT_OVERLAP;
        }

        /** The --image, --video, --edit-ratio and --extend options on the request. */
        private void references(GenerationRequest.Builder b) {
            if (image != null) {
                int at = image.lastIndexOf('@');
                String file = at < 0 ? image : image.substring(0, at);
                int frame = 0;
                if (at >= 0) {
                    String f = image.substring(at + 1).trim();
                    frame = f.equalsIgnoreCase("last") ? GenerationRequest.LAST_FRAME : parseInt("--image FILE@N", f);
                }
                b.referenceImage(Path.of(file), frame);
            }
            if (video != null) {
                b.referenceVideo(Path.of(video));
            }
            if (extend != null) {
                Path file = Path.of(extend);
                if (!Files.isRegularFile(file)) {
                    throw new WeightFormatException(file, "no such latent file (--extend)");
                }
                try (Latent previous = Latent.load(file)) {
                    b.extend(previous, overlapOrDefault());
                }
            } else if (overlap != null && (loop == null || loop < 2)) {
                throw new UsageException("--overlap goes with --extend or --loop");
            }
            if (editRatio != null) {
                b.editRatio(editRatio);
            }
            if (loop != null && loop < 1) {
                throw new UsageException("--loop needs a count >= 1, found " + loop);
            }
        }
        // --- reference frames: end

        private static io.github.jsora.ComputePrecision parsePrecision(String v) {
            try {
                return io.github.jsora.ComputePrecision.parse(v);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--precision must be fp32, bf16 or auto, found '" + v + "'");
            }
        }

        private static int parseInt(String opt, String v) {
            try {
                return Integer.parseInt(v.trim());
            } catch (NumberFormatException e) {
                throw new UsageException(opt + " needs a whole number, found '" + v + "'");
            }
        }

        /** "K/N" as {K, N}. */
        private static int[] parseFraction(String opt, String v) {
            String[] parts = v.trim().split("/", -1);
            if (parts.length != 2) {
                throw new UsageException(opt + " needs K/N (e.g. 3/72), found '" + v + "'");
            }
            return new int[] {parseInt(opt, parts[0]), parseInt(opt, parts[1])};
        }

        private static long parseLong(String opt, String v) {
            try {
                return Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new UsageException(opt + " needs a whole number, found '" + v + "'");
            }
        }

        private static double parseDouble(String opt, String v) {
            try {
                return Double.parseDouble(v.trim());
            } catch (NumberFormatException e) {
                throw new UsageException(opt + " needs a number, found '" + v + "'");
            }
        }

        static int[] parseSize(String v) {
            String[] p = v.toLowerCase(Locale.ROOT).split("x");
            if (p.length == 2) {
                try {
                    return new int[] {Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim())};
                } catch (NumberFormatException e) {
                    // fall through
                }
            }
            throw new UsageException("--size needs WIDTHxHEIGHT, e.g. 64x64, found '" + v + "'");
        }

        /** "2GiB", "500MB", "1.5G", "123456" → bytes (K/M/G/T decimal, KiB/MiB/GiB/TiB binary). */
        static long parseBytes(String v) {
            String s = v.trim().toUpperCase(Locale.ROOT).replace(" ", "");
            int i = 0;
            while (i < s.length() && (Character.isDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                i++;
            }
            try {
                double n = Double.parseDouble(s.substring(0, i));
                String unit = s.substring(i);
                double mult = switch (unit) {
                    case "", "B" -> 1;
                    case "K", "KB" -> 1e3;
                    case "M", "MB" -> 1e6;
                    case "G", "GB" -> 1e9;
                    case "T", "TB" -> 1e12;
                    case "KI", "KIB" -> 1024.0;
                    case "MI", "MIB" -> 1024.0 * 1024;
                    case "GI", "GIB" -> 1024.0 * 1024 * 1024;
                    case "TI", "TIB" -> 1024.0 * 1024 * 1024 * 1024;
                    default -> throw new NumberFormatException(unit);
                };
                long bytes = (long) (n * mult);
                if (bytes <= 0) {
                    throw new NumberFormatException(v);
                }
                return bytes;
            } catch (NumberFormatException e) {
                throw new UsageException("--budget needs a size such as 2GiB, 500MB or 1000000, found '" + v + "'");
            }
        }
    }
}

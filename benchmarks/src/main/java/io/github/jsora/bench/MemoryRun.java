package io.github.jsora.bench;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import io.github.jsora.GenerationListener;
import io.github.jsora.GenerationRequest;
import io.github.jsora.GenerationStats;
import io.github.jsora.Stage;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;
import io.github.jsora.video.DecodedVideo;
import io.github.jsora.video.Frame;
import io.github.jsora.video.VideoReaders;

/**
 * Runs whole generations on a real-size model directory (the real download or a {@link LookAlikeModel}) and
 * reports, per stage, the process's memory and disk reads next to jsora's own accounting. Not a JMH benchmark;
 * {@code benchmarks/memory-run} runs it under {@code /usr/bin/time -v}.
 *
 * <pre>
 *   MemoryRun MODEL_DIR OUT.csv [--budget 8GiB] [--steps 2] [--frames 17] [--resolution 144p] [--aspect 9:16]
 *             [--lpl N|dynamic] [--tdtm K] [--seed 1] [--threads N] [--cfg S] [--prompt TEXT] [--repeat N]
 *             [--out FILE.avi] [--trace TRACE.csv] [--weights SPEC] [--any-builder-option VALUE]
 * </pre>
 * Defaults: 144p 9:16 (256×144), 17 frames, 2 steps, seed 1, unlimited budget, output to a temporary {@code .avi}
 * (deleted after the run unless {@code --out} is given). An option not listed above, {@code --some-name VALUE},
 * calls {@code GenerationRequest.Builder.someName(VALUE)} when the builder has such a method with one String, long,
 * int, double or boolean parameter, so new request options need no change here; {@code --weights SPEC} and
 * {@code --weight-cache DIR} go to {@code GeneratorOptions}. {@code --repeat N}
 * runs N generations of the same request in one generator and reports each; {@code --trace} writes every
 * reading (with the stage it fell in) to a CSV.
 *
 * <p>A sampler thread reads {@code /proc/self/status} (VmRSS, VmHWM, RssAnon, RssFile, RssShmem) and
 * {@code /proc/self/io} (read_bytes: bytes the process caused to be read from the block device; rchar: bytes
 * passed through read calls, page-cache hits included; pages faulted in through a memory map count in read_bytes
 * only) every 50 ms, and the progress listener takes a reading at every stage change. Stage boundaries: the
 * {@code TEXT} event; text end = that + {@link GenerationStats#textSeconds()} (the first {@code DENOISE} event only
 * comes after the first step); the first {@code DECODE} event; the {@code WRITE} event (the container's finish; the
 * frames themselves are written during decode, as they come); the return of {@code generateTo}. Stage "open" is
 * {@link VideoGenerator#open} (it loads the VAE decoder resident). Per stage: wall seconds, jsora's seconds from the
 * stats, the maxima of VmRSS / RssAnon / RssFile / RssShmem over the readings in the stage, VmHWM at its end and the
 * read_bytes / rchar deltas. Memory is printed in MiB; the CSV (appended, header written when the file is new) has
 * KiB and bytes, plus the run's block-store counters (bytes loaded, peak resident blocks, compute wait).
 */
public final class MemoryRun {

    static final long PERIOD_MS = 50;

    static final String DEFAULT_PROMPT = "a red panda climbing a snowy tree at sunrise, cinematic";

    static final String CSV_HEADER = "time,run,stage,seconds,jsora_seconds,max_vmrss_kib,max_rssanon_kib,"
            + "max_rssfile_kib,max_rssshmem_kib,vmhwm_end_kib,read_bytes,rchar,samples,budget_bytes,steps,frames,"
            + "height,width,seed,model_evaluations,bytes_loaded,peak_resident_bytes,compute_wait_s,threads,options";

    private MemoryRun() {
    }

    // ------------------------------------------------------------------ /proc readings

    /** One reading: memory in KiB, I/O counters in bytes (−1 when the kernel does not expose them). */
    record Reading(long nanos, long vmRss, long vmHwm, long rssAnon, long rssFile, long rssShmem, long readBytes,
            long rchar) {

        static Reading now() {
            long t = System.nanoTime();
            long rss = -1;
            long hwm = -1;
            long anon = -1;
            long file = -1;
            long shmem = -1;
            long read = -1;
            long rchar = -1;
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmRSS:")) {
                        rss = kib(line);
                    } else if (line.startsWith("VmHWM:")) {
                        hwm = kib(line);
                    } else if (line.startsWith("RssAnon:")) {
                        anon = kib(line);
                    } else if (line.startsWith("RssFile:")) {
                        file = kib(line);
                    } else if (line.startsWith("RssShmem:")) {
                        shmem = kib(line);
                    }
                }
                for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
                    if (line.startsWith("read_bytes:")) {
                        read = Long.parseLong(line.substring(11).trim());
                    } else if (line.startsWith("rchar:")) {
                        rchar = Long.parseLong(line.substring(6).trim());
                    }
                }
            } catch (IOException e) {
                // not Linux, or /proc/self/io restricted: the fields stay −1
            }
            return new Reading(t, rss, hwm, anon, file, shmem, read, rchar);
        }

        private static long kib(String line) {
            String v = line.substring(line.indexOf(':') + 1).trim();   // "123456 kB"
            return Long.parseLong(v.substring(0, v.indexOf(' ')));
        }
    }

    /** Takes a reading every {@link #PERIOD_MS} ms on its own thread, and on demand; keeps all of them. */
    static final class Sampler implements AutoCloseable {
        private final List<Reading> readings = new ArrayList<>();
        private final Thread thread;
        private volatile boolean stop;

        Sampler() {
            thread = new Thread(() -> {
                while (!stop) {
                    take();
                    try {
                        Thread.sleep(PERIOD_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "memory-run-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        synchronized Reading take() {
            Reading r = Reading.now();
            readings.add(r);
            return r;
        }

        /** The last reading at or before {@code t} (the first reading if none). */
        synchronized List<Reading> all() {
            return List.copyOf(readings);
        }

        synchronized Reading at(long t) {
            Reading best = readings.get(0);
            for (Reading r : readings) {
                if (r.nanos() <= t) {
                    best = r;
                }
            }
            return best;
        }

        /** The statistics of the readings in [t0, t1]. */
        synchronized Row stage(int run, String stage, long t0, long t1, double jsoraSeconds) {
            Reading a = at(t0);
            Reading b = at(t1);
            long rss = 0;
            long anon = 0;
            long file = 0;
            long shmem = 0;
            int n = 0;
            for (Reading r : readings) {
                if (r.nanos() >= a.nanos() && r.nanos() <= t1) {
                    rss = Math.max(rss, r.vmRss());
                    anon = Math.max(anon, r.rssAnon());
                    file = Math.max(file, r.rssFile());
                    shmem = Math.max(shmem, r.rssShmem());
                    n++;
                }
            }
            return new Row(run, stage, t0, t1, (t1 - t0) / 1e9, jsoraSeconds, rss, anon, file, shmem, b.vmHwm(),
                    delta(a.readBytes(), b.readBytes()), delta(a.rchar(), b.rchar()), n);
        }

        private static long delta(long a, long b) {
            return a < 0 || b < 0 ? -1 : b - a;
        }

        @Override
        public void close() {
            stop = true;
            thread.interrupt();
        }
    }

    /** One stage of one run (memory in KiB, I/O in bytes). */
    record Row(int run, String stage, long t0, long t1, double seconds, double jsoraSeconds, long maxRss,
            long maxAnon, long maxFile, long maxShmem, long hwmEnd, long readBytes, long rchar, int samples) {
    }

    // ------------------------------------------------------------------ options

    /** The command line: request settings as builder actions, plus the harness's own. */
    static final class Setup {
        Path modelDir;
        Path csv;
        String prompt = DEFAULT_PROMPT;
        String resolution = "144p";
        String aspect = "9:16";
        int repeat = 1;
        Path out;
        Path trace;
        String weights;
        Path weightCache;
        final List<Consumer<GenerationRequest.Builder>> actions = new ArrayList<>();
        final List<String> options = new ArrayList<>();

        GenerationRequest request(GenerationRequest.Builder b) {
            b.steps(2).frames(17).seed(1);
            if (resolution != null) {
                b.resolution(resolution, aspect);
            }
            for (Consumer<GenerationRequest.Builder> a : actions) {
                a.accept(b);
            }
            return b.build();
        }
    }

    static Setup parse(String[] args) {
        if (args.length < 2) {
            throw new IllegalArgumentException("usage: MemoryRun MODEL_DIR OUT.csv [--budget 8GiB] [--steps N] "
                    + "[--frames N] [--resolution 144p] [--aspect 9:16] [--lpl N|dynamic] [--tdtm K] [--seed N] "
                    + "[--threads N] [--cfg S] [--prompt TEXT] [--repeat N] [--out FILE] [--trace FILE] [--weights SPEC] "
                    + "[--other-builder-option VALUE]");
        }
        Setup s = new Setup();
        s.modelDir = Path.of(args[0]);
        s.csv = Path.of(args[1]);
        for (int i = 2; i < args.length; i++) {
            String opt = args[i];
            if (!opt.startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException(opt.startsWith("--") ? opt + " needs a value"
                        : "expected an option, found '" + opt + "'");
            }
            String v = args[++i];
            s.options.add(opt + " " + v);
            switch (opt) {
                case "--budget" -> {
                    long bytes = Sizes.parseBytes(v);
                    s.actions.add(b -> b.memoryBudget(bytes));
                }
                case "--steps" -> s.actions.add(b -> b.steps(Integer.parseInt(v)));
                case "--frames" -> s.actions.add(b -> b.frames(Integer.parseInt(v)));
                case "--seed" -> s.actions.add(b -> b.seed(Long.parseLong(v)));
                case "--threads" -> s.actions.add(b -> b.threads(Integer.parseInt(v)));
                case "--cfg" -> s.actions.add(b -> b.cfgScale(Double.parseDouble(v)));
                case "--tdtm" -> s.actions.add(b -> b.tdtmSteps(Integer.parseInt(v)));
                case "--lpl" -> s.actions.add(v.equalsIgnoreCase("dynamic") ? GenerationRequest.Builder::dynamicLeap
                        : b -> b.leapAt(Integer.parseInt(v)));
                case "--resolution" -> s.resolution = v;
                case "--aspect" -> s.aspect = v;
                case "--prompt" -> s.prompt = v;
                case "--repeat" -> {
                    s.repeat = Integer.parseInt(v);
                    if (s.repeat < 1) {
                        throw new IllegalArgumentException("--repeat must be >= 1, found " + v);
                    }
                }
                case "--out" -> s.out = Path.of(v);
                case "--trace" -> s.trace = Path.of(v);
                case "--weights" -> s.weights = v;
                case "--weight-cache" -> s.weightCache = Path.of(v);
                default -> s.actions.add(builderOption(opt, v));
            }
        }
        s.request(GenerationRequest.builder(s.prompt));   // fail on a bad value before the model is opened
        return s;
    }

    /**
     * {@code --some-name VALUE} → {@code Builder.someName(VALUE)} with one String, long, int, double or boolean
     * parameter.
     */
    static Consumer<GenerationRequest.Builder> builderOption(String opt, String value) {
        StringBuilder name = new StringBuilder();
        boolean up = false;
        for (char c : opt.substring(2).toCharArray()) {
            if (c == '-') {
                up = true;
            } else {
                name.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        for (Method m : GenerationRequest.Builder.class.getMethods()) {
            if (!m.getName().equals(name.toString()) || m.getParameterCount() != 1) {
                continue;
            }
            Class<?> p = m.getParameterTypes()[0];
            Object arg;
            if (p == String.class) {
                arg = value;
            } else if (p == long.class) {
                arg = Long.parseLong(value);
            } else if (p == int.class) {
                arg = Integer.parseInt(value);
            } else if (p == double.class) {
                arg = Double.parseDouble(value);
            } else if (p == boolean.class) {
                arg = Boolean.parseBoolean(value);
            } else {
                continue;
            }
            return b -> {
                try {
                    m.invoke(b, arg);
                } catch (InvocationTargetException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            };
        }
        throw new IllegalArgumentException("unknown option " + opt + ": neither a MemoryRun option nor a "
                + "GenerationRequest.Builder method " + name + "(String|long|int|double|boolean)");
    }

    // ------------------------------------------------------------------ the run

    public static void main(String[] args) throws IOException {
        Setup s;
        try {
            s = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("MemoryRun: " + e.getMessage());
            System.exit(2);
            return;
        }
        List<Row> rows = new ArrayList<>();
        try (Sampler sampler = new Sampler()) {
            long t0 = sampler.take().nanos();
            io.github.jsora.GeneratorOptions.Builder go = io.github.jsora.GeneratorOptions.builder();
            if (s.weights != null) {
                go.weights(s.weights);
            }
            if (s.weightCache != null) {
                go.weightCache(s.weightCache);
            }
            try (VideoGenerator gen = VideoGenerator.open(s.modelDir, go.build())) {
                long t1 = sampler.take().nanos();
                // after opening: jsora sets JavaCPP's limits before JavaCPP loads, which this line would do first
                System.out.printf(Locale.ROOT, "MemoryRun %s: heap max %d MiB, JavaCPP maxBytes %d, maxPhysicalBytes "
                        + "%d, default budget %d%n", s.modelDir, Runtime.getRuntime().maxMemory() >> 20,
                        org.bytedeco.javacpp.Pointer.maxBytes(), org.bytedeco.javacpp.Pointer.maxPhysicalBytes(),
                        gen.defaultBudget());
                rows.add(sampler.stage(0, "open", t0, t1, Double.NaN));
                writeCsv(s, null, null, List.of(rows.get(0)));
                for (int run = 1; run <= s.repeat; run++) {
                    GenerationRequest req = s.request(gen.requestBuilder(s.prompt));
                    System.out.println("run " + run + ": " + req);
                    List<Row> runRows = generate(gen, req, run, s, sampler);
                    rows.addAll(runRows);
                }
            }
            if (s.trace != null) {
                writeTrace(s.trace, sampler.all(), rows);
            }
        }
        printTable(rows);
    }

    /** Every reading: seconds since the first, memory in KiB, I/O in bytes, and the stage it fell in. */
    private static void writeTrace(Path file, List<Reading> readings, List<Row> rows) throws IOException {
        StringBuilder sb = new StringBuilder("t_s,vmrss_kib,rssanon_kib,rssfile_kib,rssshmem_kib,vmhwm_kib,"
                + "read_bytes,rchar,run,stage\n");
        long start = readings.get(0).nanos();
        for (Reading r : readings) {
            String where = ",";
            for (Row row : rows) {
                if (r.nanos() >= row.t0() && r.nanos() <= row.t1()) {
                    where = row.run() + "," + row.stage();
                }
            }
            sb.append(String.format(Locale.ROOT, "%.3f,%d,%d,%d,%d,%d,%d,%d,%s%n", (r.nanos() - start) / 1e9,
                    r.vmRss(), r.rssAnon(), r.rssFile(), r.rssShmem(), r.vmHwm(), r.readBytes(), r.rchar(), where));
        }
        Files.writeString(file, sb, StandardCharsets.UTF_8);
    }

    private static List<Row> generate(VideoGenerator gen, GenerationRequest req, int run, Setup s, Sampler sampler)
            throws IOException {
        Map<Stage, Long> first = new EnumMap<>(Stage.class);
        GenerationListener listener = p -> {
            if (!first.containsKey(p.stage())) {
                first.put(p.stage(), sampler.take().nanos());
            }
        };
        Path out = s.out != null ? s.out : Files.createTempFile("memory-run", ".avi");
        Video v;
        long end;
        try {
            v = gen.generateTo(req, out, true, listener);
            end = sampler.take().nanos();
            describeOutput(out);
        } finally {
            if (s.out == null) {
                Files.deleteIfExists(out);
            }
        }
        GenerationStats st = v.stats();
        System.out.println("run " + run + " stats: " + st);
        long text = first.get(Stage.TEXT);
        long denoise = text + (long) (st.textSeconds() * 1e9);
        long decode = first.get(Stage.DECODE);
        long write = first.getOrDefault(Stage.WRITE, end);
        List<Row> rows = List.of(
                sampler.stage(run, "text", text, denoise, st.textSeconds()),
                sampler.stage(run, "denoise", denoise, decode, st.denoiseSeconds()),
                sampler.stage(run, "decode", decode, write, st.decodeSeconds()),
                sampler.stage(run, "write", write, end, st.writeSeconds()));
        writeCsv(s, v.request(), st, rows);
        return rows;
    }

    /** Frame count, size and 8-bit value range of the written video (a constant or black video shows here). */
    private static void describeOutput(Path out) throws IOException {
        DecodedVideo d = VideoReaders.read(out);
        long sum = 0;
        long n = 0;
        int min = 255;
        int max = 0;
        for (Frame f : d.frames()) {
            for (byte b : f.toRgbBytes()) {
                int x = b & 0xFF;
                sum += x;
                min = Math.min(min, x);
                max = Math.max(max, x);
                n++;
            }
        }
        System.out.printf(Locale.ROOT, "output %s: %d frames %dx%d, %,d bytes, 8-bit values %d..%d, mean %.1f%n",
                out.getFileName(), d.frames().size(), d.width(), d.height(), Files.size(out), min, max,
                n == 0 ? Double.NaN : (double) sum / n);
    }

    // ------------------------------------------------------------------ output

    private static void writeCsv(Setup s, GenerationRequest req, GenerationStats st, List<Row> rows)
            throws IOException {
        StringBuilder sb = new StringBuilder();
        if (!Files.exists(s.csv) || Files.size(s.csv) == 0) {
            sb.append(CSV_HEADER).append('\n');
        }
        String now = Instant.now().toString();
        String opts = '"' + String.join(" ", s.options).replace("\"", "\"\"") + '"';
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%s,%d,%s,%.3f,%s,%d,%d,%d,%d,%d,%d,%d,%d,", now, r.run(), r.stage(),
                    r.seconds(), Double.isNaN(r.jsoraSeconds()) ? "" : String.format(Locale.ROOT, "%.3f",
                            r.jsoraSeconds()), r.maxRss(), r.maxAnon(), r.maxFile(), r.maxShmem(), r.hwmEnd(),
                    r.readBytes(), r.rchar(), r.samples()));
            if (req == null) {
                sb.append(",,,,,,,,,,");
            } else {
                sb.append(String.format(Locale.ROOT, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%.3f,%d,", req.memoryBudgetBytes(),
                        req.steps(), req.frames(), req.height(), req.width(), req.seed().orElse(-1),
                        st.modelEvaluations(), st.bytesLoaded(), st.peakResidentBytes(), st.computeWaitSeconds(),
                        st.threads()));
            }
            sb.append(opts).append('\n');
        }
        Files.writeString(s.csv, sb, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static void printTable(List<Row> rows) {
        System.out.println();
        System.out.println("run stage      wall s  jsora s   max RSS  max anon  max file  max shmem  HWM end"
                + "   disk read     rchar");
        System.out.println("                                   MiB       MiB       MiB        MiB      MiB"
                + "         MiB       MiB");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%3d %-8s %8.1f %8s %9d %9d %9d %10d %8d %11d %9d%n", r.run(), r.stage(),
                    r.seconds(), Double.isNaN(r.jsoraSeconds()) ? "-" : String.format(Locale.ROOT, "%.1f",
                            r.jsoraSeconds()), r.maxRss() >> 10, r.maxAnon() >> 10, r.maxFile() >> 10,
                    r.maxShmem() >> 10, r.hwmEnd() >> 10, r.readBytes() < 0 ? -1 : r.readBytes() >> 20,
                    r.rchar() < 0 ? -1 : r.rchar() >> 20);
        }
    }
}

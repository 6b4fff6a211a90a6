package io.github.jsora.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import io.github.jsora.GenerationRequest;
import io.github.jsora.GenerationStats;
import io.github.jsora.Video;
import io.github.jsora.VideoGenerator;
import io.github.jsora.sampling.GuidanceInterval;
import io.github.jsora.sampling.RflowSchedule;
import io.github.jsora.sampling.SamplerOptions;
import io.github.jsora.sampling.StepCacheSignal;
import io.github.jsora.sampling.StepCaching;
import io.github.jsora.video.AdherenceCheck;
import io.github.jsora.video.Frame;

/**
 * Step caching and the guidance interval on the embedded demo model, with the reference noise of the 72-prompt
 * evaluation ({@code seed(1000).referenceBatch(i, 72)}, 30 steps, cfg 7, {@code mask=None} path).
 *
 * <p>{@code calibrate [N [FROM]]}: for N prompts (default 8, from the FROM-th) of a fixed spread of the 72, the per-step change both
 * step-caching criteria measure on the untouched trajectory (a threshold of 1e-30 never reuses; the values come from
 * {@code DitDenoiser}'s DEBUG line), and how many steps each threshold would reuse on that trajectory.
 *
 * <p>{@code quality SETTING...}: every setting on every prompt, in one JVM, prompt by prompt. A setting is
 * {@code off} or a {@code +}-joined list of {@code lpl} (fixed LPL 16/30, {@code leapAt(16)}), {@code input:T} /
 * {@code block:T} (a {@code --step-cache} spec) and {@code cfg:L,H} (a {@code --cfg-interval}); {@code off} and
 * {@code lpl} always run. Reported per setting, over the 72 prompts and the 12 of {@code DemoQualityTest}: colour and
 * direction hits (AdherenceCheck), frame PSNR against the same run without the step cache and the interval (base
 * {@code lpl} for settings with {@code lpl}, {@code off} otherwise), and transformer work relative to {@code off}:
 * <pre>
 *   work = Σ_evaluated steps w_s − Σ_reused steps w_s · k / depth,   relative = work / 30
 * </pre>
 * with {@code w_s} = 1 for a guided step (batch 2), ½ for a step outside the interval (batch 1), and {@code k} the
 * block pairs a reuse skips: {@code depth} for {@code input}, {@code depth − 1} for {@code block}. The patch/timestep/
 * caption embedders and the final layer (under 1 % of a step on these models) are not counted.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.StepCachingQualityRun calibrate|quality ...}
 */
public final class StepCachingQualityRun {

    /** The 12 prompts of DemoQualityTest (its DemoPrompts.FIXED_12, a test-only class). */
    static final List<String> CI_12 = List.of("a red circle moving left", "a green square moving right",
            "a blue circle moving up", "a yellow square moving down", "a white triangle moving left",
            "a purple circle moving right", "a red square moving up", "a green triangle moving down",
            "a blue square moving right", "a yellow circle moving left", "a white square moving up",
            "a purple triangle moving down");

    private static final long SEED = 1000;
    private static final int STEPS = 30;
    private static final int LEAP = 16;

    private StepCachingQualityRun() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || !List.of("calibrate", "quality").contains(args[0])) {
            throw new IllegalArgumentException("usage: StepCachingQualityRun calibrate [N [FROM]] | quality SETTING...");
        }
        if (args[0].equals("calibrate")) {
            calibrate(args.length > 1 ? Integer.parseInt(args[1]) : 8, args.length > 2 ? Integer.parseInt(args[2]) : 0);
        } else {
            quality(Arrays.asList(args).subList(1, args.length));
        }
    }

    // ------------------------------------------------------------------ calibration

    private static void calibrate(int n, int from) throws IOException {
        Path log = Files.createTempFile("jsora-calibration", ".log");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.io.github.jsora.DitDenoiser", "debug");
        System.setProperty("org.slf4j.simpleLogger.logFile", log.toString());
        List<String> all = AdherenceCheck.DEMO_PROMPTS;
        int[] pick = {0, 13, 26, 39, 52, 65, 7, 20, 33, 46, 59, 71};
        double[] inputThresholds = {0.1, 0.2, 0.3, 0.5};
        double[] blockThresholds = {0.02, 0.05, 0.1, 0.2};
        float[] t = schedule(64, 64, 17);
        System.out.printf(Locale.ROOT, "timesteps: %s%n", fmt(t));
        try (VideoGenerator gen = VideoGenerator.openDefault()) {
            for (int k = from; k < Math.min(from + n, pick.length); k++) {
                String p = all.get(pick[k]);
                for (String c : List.of("input", "block")) {
                    long seen = Files.size(log);
                    GenerationRequest.Builder b = gen.requestBuilder(p).seed(SEED).referenceBatch(pick[k], all.size())
                            .stepCaching(StepCaching.parse(c + ":1e-30"));
                    gen.generate(b.build());
                    double[] d = lastDistances(log, seen);
                    System.out.printf(Locale.ROOT, "%-30s %-5s %s%n", p, c, fmt(d));
                    double[] th = c.equals("input") ? inputThresholds : blockThresholds;
                    StringBuilder sb = new StringBuilder();
                    for (double x : th) {
                        List<Integer> r = simulate(d, x, c.equals("input"));
                        sb.append(String.format(Locale.ROOT, "  %s<%s: %d reused %s;", c, x, r.size(), r));
                    }
                    System.out.printf(Locale.ROOT, "%-30s %-5s%s%n", "", "", sb);
                }
            }
        }
    }

    /** The steps a threshold would reuse on a trajectory with these per-step changes (no LPL, no interval). */
    static List<Integer> simulate(double[] d, double threshold, boolean accumulate) {
        List<Integer> r = new ArrayList<>();
        double acc = 0;
        double sinceComputed = 0;
        for (int s = 1; s < d.length; s++) {
            if (accumulate) {
                acc += d[s];
                if (acc < threshold) {
                    r.add(s);
                } else {
                    acc = 0;
                }
            } else {
                // FirstBlockCache compares with the last computed step; approximated by the summed changes since
                sinceComputed += d[s];
                if (sinceComputed < threshold) {
                    r.add(s);
                } else {
                    sinceComputed = 0;
                }
            }
        }
        return r;
    }

    private static double[] lastDistances(Path log, long from) throws IOException {
        byte[] all = Files.readAllBytes(log);
        String s = new String(all, (int) from, all.length - (int) from, StandardCharsets.UTF_8);
        int i = s.lastIndexOf("per-step change [");
        if (i < 0) {
            throw new IllegalStateException("no step-cache DEBUG line in " + log);
        }
        String list = s.substring(i + "per-step change [".length(), s.indexOf(']', i));
        return Arrays.stream(list.split(",")).map(String::trim).mapToDouble(Double::parseDouble).toArray();
    }

    private static String fmt(double[] d) {
        StringBuilder sb = new StringBuilder();
        for (double x : d) {
            sb.append(Double.isNaN(x) ? "  -  " : String.format(Locale.ROOT, "%.3f", x)).append(' ');
        }
        return sb.toString().trim();
    }

    private static String fmt(float[] d) {
        StringBuilder sb = new StringBuilder();
        for (float x : d) {
            sb.append(String.format(Locale.ROOT, "%.0f", x)).append(' ');
        }
        return sb.toString().trim();
    }

    /** The sampler's timesteps for this size, as VideoGenerator builds its options. */
    static float[] schedule(int height, int width, int frames) {
        return RflowSchedule.of(SamplerOptions.builder().steps(STEPS).videoSize(height, width).numFrames(frames)
                .build()).timesteps();
    }

    // ------------------------------------------------------------------ quality

    /** A parsed setting. */
    record Setting(String name, boolean lpl, StepCaching cache, GuidanceInterval interval) {

        static Setting parse(String spec) {
            boolean lpl = false;
            StepCaching cache = StepCaching.off();
            GuidanceInterval interval = GuidanceInterval.always();
            if (!spec.equals("off")) {
                for (String part : spec.split("\\+")) {
                    if (part.equals("lpl")) {
                        lpl = true;
                    } else if (part.startsWith("cfg:")) {
                        interval = GuidanceInterval.parse(part.substring(4));
                    } else if (part.startsWith("input:") || part.startsWith("block:")) {
                        cache = StepCaching.parse(part);
                    } else {
                        throw new IllegalArgumentException("setting '" + spec + "': unknown part '" + part
                                + "' (lpl, input:T, block:T, cfg:L,H)");
                    }
                }
            }
            return new Setting(spec, lpl, cache, interval);
        }

        GenerationRequest.Builder apply(GenerationRequest.Builder b) {
            if (lpl) {
                b.leapAt(LEAP);
            }
            return b.stepCaching(cache).cfgInterval(interval.low(), interval.high());
        }

        String base() {
            return lpl ? "lpl" : "off";
        }
    }

    /** Running totals of one setting. */
    static final class Tally {
        int colour;
        int direction;
        int colour12;
        int direction12;
        int prompts;
        double mse;             // summed per-video MSE against the base (8-bit levels²)
        double minPsnr = Double.POSITIVE_INFINITY;
        double work;            // guided-step units of block-stack work
        double seconds;         // denoise seconds
        int reused;
    }

    private static void quality(List<String> specs) {
        Map<String, Setting> settings = new LinkedHashMap<>();
        settings.put("off", Setting.parse("off"));
        settings.put("lpl", Setting.parse("lpl"));
        for (String s : specs) {
            settings.putIfAbsent(s, Setting.parse(s));
        }
        Map<String, Tally> tally = new LinkedHashMap<>();
        settings.keySet().forEach(k -> tally.put(k, new Tally()));
        List<String> prompts = AdherenceCheck.DEMO_PROMPTS;
        long t0 = System.nanoTime();
        try (VideoGenerator gen = VideoGenerator.openDefault()) {
            int depth = gen.modelInfo().depth();
            for (int i = 0; i < prompts.size(); i++) {
                String p = prompts.get(i);
                Map<String, List<Frame>> bases = new LinkedHashMap<>();
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%2d %-30s", i, p));
                for (Setting s : settings.values()) {
                    GenerationRequest r = s.apply(gen.requestBuilder(p).seed(SEED).referenceBatch(i, prompts.size()))
                            .build();
                    Video v = gen.generate(r);
                    if (s.name().equals("off") || s.name().equals("lpl")) {
                        bases.put(s.name(), v.frames());
                    }
                    Tally a = tally.get(s.name());
                    AdherenceCheck.Result q = AdherenceCheck.evaluate(p, v.frames());
                    a.prompts++;
                    a.colour += q.colourCorrect() ? 1 : 0;
                    a.direction += q.directionCorrect() ? 1 : 0;
                    if (CI_12.contains(p)) {
                        a.colour12 += q.colourCorrect() ? 1 : 0;
                        a.direction12 += q.directionCorrect() ? 1 : 0;
                    }
                    double mse = mse(bases.get(s.base()), v.frames());
                    a.mse += mse;
                    a.minPsnr = Math.min(a.minPsnr, psnr(mse));
                    GenerationStats st = v.stats();
                    a.work += work(st, r, depth, r.height(), r.width(), r.frames());
                    a.seconds += st.denoiseSeconds();
                    a.reused += st.reusedSteps().size();
                    line.append(String.format(Locale.ROOT, " | %s%s %s", q.colourCorrect() ? "C" : "c",
                            q.directionCorrect() ? "D" : "d", st.reusedSteps()));
                }
                System.out.println(line);
                if ((i + 1) % 24 == 0 || i + 1 == prompts.size()) {
                    report(tally, (System.nanoTime() - t0) / 1e9);
                }
            }
        }
    }

    private static void report(Map<String, Tally> tally, double elapsed) {
        Tally off = tally.get("off");
        Tally lpl = tally.get("lpl");
        System.out.printf(Locale.ROOT, "after %d prompts, %.0f s:%n", off.prompts, elapsed);
        System.out.printf(Locale.ROOT, "%-34s %9s %9s %7s %7s %7s %9s %9s %8s %8s %7s%n", "setting", "colour",
                "direction", "col/12", "dir/12", "work", "vs off", "vs lpl", "PSNR", "minPSNR", "reused");
        for (Map.Entry<String, Tally> e : tally.entrySet()) {
            Tally a = e.getValue();
            System.out.printf(Locale.ROOT, "%-34s %5d/%-3d %5d/%-3d %4d/12 %4d/12 %7.2f %8.2fx %8.2fx %8s %8s %7.1f"
                    + "  (%.2f s/video)%n", e.getKey(), a.colour, a.prompts, a.direction, a.prompts, a.colour12,
                    a.direction12, a.work / a.prompts, off.work / a.work, lpl.work / a.work,
                    fmtDb(psnr(a.mse / a.prompts)), fmtDb(a.minPsnr), (double) a.reused / a.prompts,
                    a.seconds / a.prompts);
        }
    }

    private static String fmtDb(double db) {
        return Double.isInfinite(db) ? "exact" : String.format(Locale.ROOT, "%.1f", db);
    }

    /**
     * Block-stack work of one generation in guided-step units (see the class comment), from its stats and the
     * schedule; checks the schedule's half-batch steps against the stats' sample evaluations.
     */
    static double work(GenerationStats st, GenerationRequest r, int depth, int h, int w, int f) {
        float[] t = schedule(h, w, f);
        GuidanceInterval iv = r.cfgInterval();
        int evaluated = st.modelEvaluations();
        double expected = 0;
        for (int s = 0; s < evaluated; s++) {
            expected += iv.guides(t[s]) ? 1 : 0.5;
        }
        if (Math.abs(expected - st.sampleEvaluations()) > 1e-9) {
            throw new IllegalStateException("schedule disagrees with the stats: " + expected + " vs "
                    + st.sampleEvaluations() + " sample evaluations");
        }
        double skipped = r.stepCaching().signal() == StepCacheSignal.MODULATED_INPUT ? depth : depth - 1;
        double work = st.sampleEvaluations();
        for (int s : st.reusedSteps()) {
            work -= (iv.guides(t[s]) ? 1 : 0.5) * skipped / depth;
        }
        return work;
    }

    /** Mean squared 8-bit difference over all frames, pixels and channels. */
    static double mse(List<Frame> a, List<Frame> b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("frame counts differ: " + a.size() + " vs " + b.size());
        }
        double sum = 0;
        long n = 0;
        for (int k = 0; k < a.size(); k++) {
            Frame x = a.get(k);
            Frame y = b.get(k);
            for (int yy = 0; yy < x.height(); yy++) {
                for (int xx = 0; xx < x.width(); xx++) {
                    for (int c = 0; c < 3; c++) {
                        double d = x.channel(xx, yy, c) - y.channel(xx, yy, c);
                        sum += d * d;
                        n++;
                    }
                }
            }
        }
        return sum / n;
    }

    static double psnr(double mse) {
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }
}

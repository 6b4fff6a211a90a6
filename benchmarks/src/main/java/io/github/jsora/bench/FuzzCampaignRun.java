package io.github.jsora.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import io.github.jsora.fuzz.FuzzCampaign;

/**
 * The long fuzz campaign of jsora's parsers (the unit suite's {@code FuzzTest} runs a short one with the same
 * {@link io.github.jsora.fuzz.Mutator} and targets): for each parser, {@code --count} mutated inputs (default
 * 1,000,000), optionally capped at {@code --seconds} per parser; prints per parser the inputs tried, the outcomes
 * (exception types and counts), the slowest input and the heap and tensor peaks, then the totals. Exit code 1 when
 * any input threw an undocumented exception, ran past the per-input limit or broke a memory bound.
 *
 * <p>Usage: {@code benchmarks/fuzz-run [--count N] [--seconds S] [--seed N] [--only NAME] [--limit-ms MS]}.
 * An input is reproduced from the seed and its index (the mutator is deterministic):
 * {@code --only NAME --replay INDEX} parses just that input three times, timed, and saves it.
 */
public final class FuzzCampaignRun {

    private FuzzCampaignRun() {
    }

    public static void main(String[] args) throws Exception {
        long count = 1_000_000;
        Duration perParser = null;
        long seed = 1;
        String only = null;
        long limitMs = 2000;
        long replay = -1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--count" -> count = Long.parseLong(args[++i]);
                case "--seconds" -> perParser = Duration.ofSeconds(Long.parseLong(args[++i]));
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--only" -> only = args[++i];
                case "--limit-ms" -> limitMs = Long.parseLong(args[++i]);
                case "--replay" -> replay = Long.parseLong(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        FuzzCampaign.Limits limits = new FuzzCampaign.Limits(Duration.ofMillis(limitMs),
                FuzzCampaign.Limits.DEFAULT.heapBytes(), FuzzCampaign.Limits.DEFAULT.tensorBytes());
        Path work = Files.createTempDirectory("jsora-fuzz");
        List<FuzzCampaign.Target> targets = FuzzCampaign.targets(work.resolve("seeds"));
        if (replay >= 0) { // re-run input #replay of --only's target (the mutator is deterministic) and time it
            for (FuzzCampaign.Target t : targets) {
                if (t.name().equals(only)) {
                    io.github.jsora.fuzz.Mutator m = new io.github.jsora.fuzz.Mutator(seed);
                    byte[] in = null;
                    for (long i = 0; i <= replay; i++) {
                        in = m.mutate(t.seeds().get((int) (i % t.seeds().size())));
                    }
                    Path input = work.resolve(t.name() + "-" + replay + ".bin");
                    Files.write(input, in);
                    for (int k = 0; k < 3; k++) {
                        long t0 = System.nanoTime();
                        String outcome = "ok";
                        try {
                            t.parser().parse(in, Files.createDirectories(work.resolve("replay")));
                        } catch (Exception e) {
                            outcome = e.toString();
                        }
                        System.out.printf(Locale.ROOT, "%s input #%d (%d bytes, saved to %s): %.1f ms, %s%n", t.name(),
                                replay, in.length, input, (System.nanoTime() - t0) / 1e6, outcome);
                    }
                }
            }
            return;
        }
        long total = 0;
        long failures = 0;
        long stalls = 0;
        Map<String, Long> seen = new TreeMap<>();
        String slowest = "";
        long slowestNanos = 0;
        System.out.printf(Locale.ROOT, "fuzz campaign: seed %d, up to %,d inputs per parser%s, per-input limit %d ms%n",
                seed, count, perParser == null ? "" : " or " + perParser.toSeconds() + " s", limitMs);
        for (FuzzCampaign.Target t : targets) {
            if (only != null && !t.name().equals(only)) {
                continue;
            }
            FuzzCampaign.Result r = FuzzCampaign.run(t, count, seed, limits, work.resolve(t.name()), perParser);
            System.out.println(r);
            r.failures.forEach(f -> System.out.println("  FAILURE " + f));
            total += r.inputs;
            failures += r.failures.size();
            stalls += r.stalls;
            r.outcomes.forEach((k, v) -> seen.merge(k, v, Long::sum));
            if (r.slowestNanos > slowestNanos) {
                slowestNanos = r.slowestNanos;
                slowest = t.name() + " input #" + r.slowestIndex;
            }
        }
        System.out.printf(Locale.ROOT, "total: %,d inputs, outcomes %s, slowest %.1f ms (%s), stalls %d, failures %d%n",
                total, seen, slowestNanos / 1e6, slowest, stalls, failures);
        System.exit(failures == 0 ? 0 : 1);
    }
}

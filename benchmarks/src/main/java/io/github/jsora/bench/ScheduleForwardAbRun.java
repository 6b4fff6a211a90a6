package io.github.jsora.bench;

import java.util.Locale;

import io.github.jsora.dit.ForwardStats;

/**
 * The XL block pair forward ({@link Stdit3Bench}) with the two attention schedules alternated forward by forward in
 * one process ({@code jsora.attention.schedule=shared}, then {@code perThread}, per round), so that the machine's
 * slow and fast phases fall on both alike. Prints per round the two forwards and attention laps, then the medians
 * and the median of the per-round ratios.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.ScheduleForwardAbRun [shape=xl32] [rounds=5] [fp32|bf16]}; one
 * warm-up forward of each first.
 */
public final class ScheduleForwardAbRun {

    private static final String PROPERTY = "jsora.attention.schedule";
    private static final String[] SCHEDULES = {"shared", "perThread"};

    private ScheduleForwardAbRun() {
    }

    public static void main(String[] args) {
        String shape = args.length > 0 ? args[0] : "xl32";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        String precision = args.length > 2 ? args[2] : "bf16";
        Stdit3Bench bench = new Stdit3Bench();
        bench.shape = shape;
        bench.precision = precision;
        bench.setUp();
        double[][] total = new double[2][rounds];
        double[][] attention = new double[2][rounds];
        double[][] linear = new double[2][rounds];
        double[] ratio = new double[rounds];
        try {
            for (String s : SCHEDULES) {
                System.setProperty(PROPERTY, s);
                bench.timeOne(false);
            }
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < 2; i++) {
                    System.setProperty(PROPERTY, SCHEDULES[i]);
                    bench.timeOne(false);
                    ForwardStats st = bench.lastStats();
                    total[i][r] = st.totalNanos() / 1e6;
                    attention[i][r] = st.attentionNanos() / 1e6;
                    linear[i][r] = st.gemmNanos() / 1e6;
                }
                ratio[r] = total[0][r] / total[1][r];
                System.out.printf(Locale.ROOT, "round %d: shared %.0f ms (attention %.0f, linear %.0f), perThread %.0f "
                        + "ms (attention %.0f, linear %.0f)%n", r, total[0][r], attention[0][r], linear[0][r],
                        total[1][r], attention[1][r], linear[1][r]);
            }
        } finally {
            System.clearProperty(PROPERTY);
            bench.tearDown();
        }
        System.out.printf(Locale.ROOT, "%s %s: shared %.0f ms (attention %.0f, linear %.0f), perThread %.0f ms "
                + "(attention %.0f, linear %.0f); median shared/perThread forward ratio %.3f%n", shape, precision,
                Medians.of(total[0]), Medians.of(attention[0]), Medians.of(linear[0]), Medians.of(total[1]),
                Medians.of(attention[1]), Medians.of(linear[1]), Medians.of(ratio));
    }
}

package io.github.jsora.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Paired A/B timing of {@link SamplerBench}: LPL off and fixed LPL 16/30 alternate on the same model and noise, so
 * slow drifts of a shared machine hit both sides alike; prints each pair's speed-up and their median. JMH runs one
 * parameter after the other, which on this machine kind mixes a drift of ±15 % into the ratio.
 *
 * <p>Usage: {@code java -cp ... io.github.jsora.bench.SamplerAbRun [pairs]} (default 6, after one warm-up pair).
 */
public final class SamplerAbRun {

    private SamplerAbRun() {
    }

    public static void main(String[] args) {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        SamplerBench off = new SamplerBench();
        off.leap = "off";
        off.setup();
        SamplerBench fixed = new SamplerBench();
        fixed.leap = "fixed16of30";
        fixed.setup();
        SamplerBench.Calls calls = new SamplerBench.Calls();
        off.sample(calls);                  // warm-up pair
        fixed.sample(calls);
        double[] ratios = new double[pairs];
        double sumOff = 0;
        double sumFixed = 0;
        for (int i = 0; i < pairs; i++) {
            long t0 = System.nanoTime();
            off.sample(calls);
            long t1 = System.nanoTime();
            fixed.sample(calls);
            long t2 = System.nanoTime();
            double a = (t1 - t0) / 1e9;
            double b = (t2 - t1) / 1e9;
            sumOff += a;
            sumFixed += b;
            ratios[i] = a / b;
            System.out.printf(Locale.ROOT, "pair %d: off %.2f s, fixed 16/30 %.2f s, speed-up %.3f%n", i + 1, a, b,
                    ratios[i]);
        }
        Arrays.sort(ratios);
        double median = pairs % 2 == 1 ? ratios[pairs / 2] : (ratios[pairs / 2 - 1] + ratios[pairs / 2]) / 2;
        System.out.printf(Locale.ROOT, "%d pairs: mean off %.2f s, mean fixed %.2f s, ratio of means %.3f, median "
                + "pair speed-up %.3f (structural 30/16 = 1.875)%n", pairs, sumOff / pairs, sumFixed / pairs,
                sumOff / sumFixed, median);
    }
}

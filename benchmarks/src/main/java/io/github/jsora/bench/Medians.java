package io.github.jsora.bench;

import java.util.Arrays;

/** The median the alternating benchmark runs report. */
final class Medians {

    private Medians() {
    }

    /** Median of {@code a} (the mean of the two middle values for an even count); {@code a} is not changed. */
    static double of(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}

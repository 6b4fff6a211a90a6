package io.github.jsora.bench;

/** Byte sizes on the benchmarks' command lines. */
final class Sizes {

    private Sizes() {
    }

    /**
     * "8GiB", "1600MiB", "512KiB" (binary) or a plain byte count; fractions allowed ("1.5GiB").
     *
     * @throws IllegalArgumentException naming the value when it is not such a size
     */
    static long parseBytes(String s) {
        String t = s.trim();
        long mult = 1;
        for (String[] u : new String[][] {{"GiB", "1073741824"}, {"MiB", "1048576"}, {"KiB", "1024"}}) {
            if (t.endsWith(u[0])) {
                mult = Long.parseLong(u[1]);
                t = t.substring(0, t.length() - u[0].length());
                break;
            }
        }
        try {
            return (long) (Double.parseDouble(t) * mult);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a byte size (e.g. 8GiB, 1600MiB, 123456): '" + s + "'");
        }
    }
}

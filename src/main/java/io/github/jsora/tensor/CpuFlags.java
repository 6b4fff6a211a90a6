package io.github.jsora.tensor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/** The CPU's feature flags as Linux lists them in {@code /proc/cpuinfo} (read by {@link Bf16Gemm} and {@link Amx}). */
final class CpuFlags {

    private CpuFlags() {
    }

    /** This machine's {@code /proc/cpuinfo}. */
    static String read() throws IOException {
        return Files.readString(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1);
    }

    /**
     * The flags of the first feature line of a {@code /proc/cpuinfo} text ({@code flags} on x86, {@code Features}
     * on ARM), in their order, or null when the text has none.
     */
    static Set<String> parse(String cpuinfo) {
        for (String line : cpuinfo.split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            if (key.equals("flags") || key.equals("features")) {
                return new LinkedHashSet<>(Arrays.asList(line.substring(colon + 1).trim().split("\\s+")));
            }
        }
        return null;
    }
}

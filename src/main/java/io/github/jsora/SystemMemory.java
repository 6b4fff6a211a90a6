package io.github.jsora;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import io.github.jsora.tensor.NativeMemory;

/**
 * The default memory budget: what the machine has available now, less what the Java heap may still grow by and a
 * margin for the JVM itself, plus what jsora already holds (it is part of what the budget covers).
 */
final class SystemMemory {

    /** Left for the JVM's own native memory (code, threads, libraries) and the operating system. */
    static final long MARGIN_BYTES = 768L << 20;
    /** Never plan with less than this, however little is free (the plan then fails with the bytes it needs). */
    static final long MIN_BUDGET = 512L << 20;

    private SystemMemory() {
    }

    /** Bytes available to new allocations: MemAvailable on Linux, else the OS bean's free memory; -1 if unknown. */
    static long availableBytes() {
        Path meminfo = Path.of("/proc/meminfo");
        if (Files.isReadable(meminfo)) {
            try {
                List<String> lines = Files.readAllLines(meminfo);
                for (String l : lines) {
                    if (l.startsWith("MemAvailable:")) {
                        return Long.parseLong(l.replaceAll("\\D", "")) * 1024;
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // fall through to the bean
            }
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getFreeMemorySize();
        }
        return -1;
    }

    /** The default budget from the memory available now (see the class comment); logged by the caller. */
    static long defaultBudget() {
        long avail = availableBytes();
        if (avail < 0) {
            return 4L << 30;
        }
        Runtime rt = Runtime.getRuntime();
        long heapGrowth = Math.max(0, rt.maxMemory() - rt.totalMemory());
        long b = (long) ((avail - heapGrowth - MARGIN_BYTES) * 0.9) + NativeMemory.liveBytes();
        return Math.max(MIN_BUDGET, Math.min(b, javaCppCap()));
    }

    /**
     * The most jsora may plan with under JavaCPP's own RSS guard: {@code maxphysicalbytes} less the JVM's share, or
     * unlimited. jsora switches the guard off before JavaCPP loads; a program that loaded JavaCPP first (or set
     * the property) keeps its value, and a budget above this cap would end in JavaCPP's OutOfMemoryError.
     */
    static long javaCppCap() {
        long max = NativeMemory.javaCppPhysicalLimit();
        return max <= 0 ? Long.MAX_VALUE : Math.max(MIN_BUDGET, max - MARGIN_BYTES);
    }
}

package io.github.jsora.tensor;

import java.util.Locale;

/**
 * Turns on Intel AMX (the tile matrix unit of Sapphire Rapids and later Xeons) for the bf16 products that
 * {@link Bf16Gemm} sends to oneDNN.
 *
 * <p>Two things stand between the oneDNN that ND4J 1.0.0-M2.1 bundles (v2.3) and AMX. Linux (5.16 and later) hands
 * the tile registers only to a process that asked for them ({@code arch_prctl(ARCH_REQ_XCOMP_PERM,
 * XFEATURE_XTILEDATA)}); an AMX instruction without that permission kills the process with SIGILL. And oneDNN v2.3
 * keeps AMX behind its {@code DNNL_MAX_CPU_ISA} setting, which it reads from the environment once, at its first
 * product. So, before ND4J loads, this class asks the kernel for the permission and, only if it was granted, sets
 * {@code DNNL_MAX_CPU_ISA=AVX512_CORE_AMX} in the process environment (a value the user set is kept).
 *
 * <p>jsora has no native code of its own: both libc calls go through JNA ({@link Libc}), which ND4J already brings,
 * so no JVM option is needed. Nothing is changed on a CPU without {@code amx_bf16}, where
 * the kernel refuses, or with {@code -Djsora.amx=off}; oneDNN then uses its AVX-512 bf16 kernels. Measured on a 2-core
 * Xeon with AMX: a 10240×1152×4608 bf16 product at about 1950 GFLOP/s with AMX against 200 without (float32 sgemm:
 * 355).
 *
 * <p>float32 work is not affected: AMX has no float32 arithmetic, and oneDNN's float32 kernels are the same under
 * either setting.
 */
public final class Amx {

    /** System property: {@code auto} (default) requests AMX where the CPU has it, {@code off} never does. */
    public static final String PROPERTY = "jsora.amx";

    private static final long SYS_ARCH_PRCTL = 158; // x86-64
    private static final long ARCH_REQ_XCOMP_PERM = 0x1023;
    private static final long XFEATURE_XTILEDATA = 18;
    private static final String ISA_VARIABLE = "DNNL_MAX_CPU_ISA";
    private static final String ISA_AMX = "AVX512_CORE_AMX";

    /**
     * What was done. @param enabled whether oneDNN may use AMX in this process @param detail why, for the log
     */
    public record Status(boolean enabled, String detail) {
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Amx.class);
    private static final Status STATUS = logged(request());

    private Amx() {
    }

    /** Whether oneDNN may use AMX in this process, and why (the request is made once, before ND4J loads). */
    public static Status status() {
        return STATUS;
    }

    /** Runs the request; called by {@link NativeMemory}'s set-up, before any ND4J class is used. */
    static void init() {
        // the static initialiser does the work
    }

    private static Status logged(Status s) {
        if (s.enabled() || s.detail().startsWith("CPU has")) {
            LOG.info("Intel AMX for bf16 products: {} ({})", s.enabled() ? "on" : "off", s.detail());
        } else {
            LOG.debug("Intel AMX for bf16 products: off ({})", s.detail());
        }
        return s;
    }

    private static Status request() {
        String arch = System.getProperty("os.arch", "");
        boolean x86 = arch.equals("amd64") || arch.equals("x86_64");
        return request(System.getProperty(PROPERTY, "auto"), x86, x86 && cpuHasAmx(), Libc.jnaPresent(),
                System.getenv(ISA_VARIABLE), Libc.JNA);
    }

    /**
     * The decision, from its inputs. @param mode the {@value #PROPERTY} value @param x86 whether this is x86-64
     * @param cpuAmx whether the CPU reports amx_bf16 @param jna whether JNA is on the class path
     * @param userIsa the user's own {@code DNNL_MAX_CPU_ISA}, or null
     */
    static Status request(String mode, boolean x86, boolean cpuAmx, boolean jna, String userIsa,
            Libc.Opener libc) {
        String m = mode.trim().toLowerCase(Locale.ROOT);
        if (m.equals("off")) {
            return new Status(false, PROPERTY + "=off");
        }
        if (!m.equals("auto")) {
            // a bad value must not stop the library from loading: say so and leave AMX off
            return new Status(false, "system property " + PROPERTY + " must be auto or off, found '" + mode
                    + "'; AMX left off");
        }
        if (!x86) {
            return new Status(false, "not an x86-64 CPU");
        }
        if (!cpuAmx) {
            return new Status(false, "CPU reports no amx_bf16");
        }
        if (!jna) {
            return new Status(false, "CPU has amx_bf16, but JNA (net.java.dev.jna:jna, which jsora uses to request "
                    + "it) is not on the class path");
        }
        try {
            Libc.Calls c = libc.open();
            long granted = c.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
            if (granted != 0) {
                return new Status(false, "CPU has amx_bf16, but the kernel refused the tile registers "
                        + "(arch_prctl ARCH_REQ_XCOMP_PERM returned " + granted + ")");
            }
            if (userIsa != null) {
                return new Status(userIsa.toUpperCase(Locale.ROOT).contains("AMX"), "tile registers granted; "
                        + ISA_VARIABLE + "=" + userIsa + " kept as the user set it");
            }
            int set = c.setenv(ISA_VARIABLE, ISA_AMX);
            return set == 0 ? new Status(true, "tile registers granted, " + ISA_VARIABLE + "=" + ISA_AMX)
                    : new Status(false, "tile registers granted, but setenv(" + ISA_VARIABLE + ") returned " + set);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            return new Status(false, "CPU has amx_bf16, but libc could not be called through JNA (" + t + ")");
        }
    }

    private static boolean cpuHasAmx() {
        try {
            java.util.Set<String> flags = CpuFlags.parse(CpuFlags.read());
            return flags != null && flags.contains("amx_bf16");
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }
}

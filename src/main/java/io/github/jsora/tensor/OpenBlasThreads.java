package io.github.jsora.tensor;

import java.util.Locale;

/**
 * Makes OpenBLAS's idle worker threads sleep at once instead of spinning after each float32 product.
 *
 * <p>OpenBLAS (the float32 {@code sgemm} under {@link Gemm}) keeps its worker threads busy-waiting for the next
 * product for 2<sup>28</sup> cycles (about 0.1 s) before they sleep. jsora alternates OpenBLAS products with its own
 * Java threads ({@link Parallel}) and with oneDNN's bf16 products ({@link Bf16Gemm}), which then share the cores with
 * spinning threads that have nothing to do. On a 2-vCPU Xeon with AMX that was measured to make one bf16 product in
 * four run 3–4× slower (28–34 ms instead of 7–8 ms), enough to make {@link Bf16Gemm}'s calibration choose float32 in
 * 1 of 10 fresh processes; with the wait cut to 2<sup>4</sup> cycles, 10 of 10 chose bf16, the XL transformer block
 * forward ran about 4 % faster in bf16 and no slower in float32, and its float32 output stayed bit-identical.
 *
 * <p>OpenBLAS reads {@value #VARIABLE} (the exponent n of 2<sup>n</sup> cycles, 4 to 30) from the environment once,
 * when it loads; so, before ND4J loads, this class sets it in the process environment through libc's
 * {@code setenv} ({@link Libc}). A value the user set ({@value #VARIABLE} or its old name {@value #OLD_VARIABLE}) is
 * kept, and {@code -Djsora.openblas.threadTimeout=off} leaves OpenBLAS's default; an integer from 4 to 30 sets that
 * exponent instead of 4. A program that loaded ND4J before jsora keeps whatever OpenBLAS read then.
 */
public final class OpenBlasThreads {

    /** System property: {@code auto} (default: exponent 4), {@code off}, or an exponent from 4 to 30. */
    public static final String PROPERTY = "jsora.openblas.threadTimeout";

    static final String VARIABLE = "OPENBLAS_THREAD_TIMEOUT";
    static final String OLD_VARIABLE = "GOTO_THREAD_TIMEOUT";
    static final int DEFAULT_EXPONENT = 4;

    /**
     * What was done. @param value the exponent set in the environment, or null if nothing was set @param detail why,
     * for the log
     */
    public record Status(String value, String detail) {
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OpenBlasThreads.class);
    private static final Status STATUS = logged(request(System.getProperty(PROPERTY, "auto"), Libc.jnaPresent(),
            userValue(), Libc.JNA));

    private OpenBlasThreads() {
    }

    /** What was set before ND4J loaded, and why. */
    public static Status status() {
        return STATUS;
    }

    /** Runs the setting; called by {@link NativeMemory}'s set-up, before any ND4J class is used. */
    static void init() {
        // the static initialiser does the work
    }

    private static Status logged(Status s) {
        if (s.value() != null) {
            LOG.info("OpenBLAS idle threads sleep after 2^{} cycles ({})", s.value(), s.detail());
        } else {
            LOG.debug("OpenBLAS idle-thread wait unchanged: {}", s.detail());
        }
        return s;
    }

    private static String userValue() {
        String v = System.getenv(VARIABLE);
        if (v != null) {
            return VARIABLE + "=" + v;
        }
        v = System.getenv(OLD_VARIABLE);
        return v == null ? null : OLD_VARIABLE + "=" + v;
    }

    /**
     * The decision, from its inputs. @param mode the {@value #PROPERTY} value @param jna whether JNA is on the class
     * path @param user the user's own setting as {@code NAME=value}, or null
     */
    static Status request(String mode, boolean jna, String user, Libc.Opener libc) {
        String m = mode.trim().toLowerCase(Locale.ROOT);
        if (m.equals("off")) {
            return new Status(null, PROPERTY + "=off: OpenBLAS's default");
        }
        int exponent;
        if (m.equals("auto")) {
            exponent = DEFAULT_EXPONENT;
        } else {
            try {
                exponent = Integer.parseInt(m);
            } catch (NumberFormatException e) {
                exponent = -1;
            }
            if (exponent < 4 || exponent > 30) {
                // a bad value must not stop the library from loading: say so and change nothing
                LOG.warn("system property {} must be auto, off or an integer from 4 to 30, found '{}'; OpenBLAS's "
                        + "default kept", PROPERTY, mode);
                return new Status(null, "bad " + PROPERTY + " '" + mode + "': OpenBLAS's default");
            }
        }
        if (user != null) {
            return new Status(null, user + " kept as the user set it");
        }
        if (!jna) {
            return new Status(null, "JNA is not on the class path: OpenBLAS's default");
        }
        try {
            int set = libc.open().setenv(VARIABLE, Integer.toString(exponent));
            return set == 0 ? new Status(Integer.toString(exponent), VARIABLE + "=" + exponent
                    + " set before ND4J loaded") : new Status(null, "setenv(" + VARIABLE + ") returned " + set
                            + ": OpenBLAS's default");
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            return new Status(null, "libc could not be called through JNA (" + t + "): OpenBLAS's default");
        }
    }
}

package io.github.jsora.tensor;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

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
 * <p>jsora has no native code of its own: both calls go through the JDK's foreign linker, which Java 17 ships as
 * the incubator module {@code jdk.incubator.foreign}. It is used only when the JVM was started with
 * {@code --add-modules jdk.incubator.foreign --enable-native-access=ALL-UNNAMED}; without them, or on a CPU
 * without {@code amx_bf16}, or with {@code -Djsora.amx=off}, nothing is changed and oneDNN uses its AVX-512 bf16
 * kernels. Measured on a 2-core Xeon with AMX: a 10240×1152×4608 bf16 product at about 1950 GFLOP/s with AMX
 * against 200 without (float32 sgemm: 355).
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
        return request(System.getProperty(PROPERTY, "auto"), x86, x86 && cpuHasAmx(),
                ModuleLayer.boot().findModule("jdk.incubator.foreign").isPresent(), System.getenv(ISA_VARIABLE),
                Libc::new);
    }

    /** The two libc calls the request makes (an interface so that the decision can be tested without them). */
    interface LibcCalls {
        /** {@code syscall(number, a, b)}. */
        long syscall(long number, long a, long b) throws Throwable;

        /** {@code setenv(name, value, 0)}. */
        int setenv(String name, String value) throws Throwable;
    }

    /** Opens the {@link LibcCalls}; it may fail (no native access). */
    interface LibcOpener {
        LibcCalls open() throws Throwable;
    }

    /**
     * The decision, from its inputs. @param mode the {@value #PROPERTY} value @param x86 whether this is x86-64
     * @param cpuAmx whether the CPU reports amx_bf16 @param foreignModule whether the JVM resolved
     * jdk.incubator.foreign @param userIsa the user's own {@code DNNL_MAX_CPU_ISA}, or null
     */
    static Status request(String mode, boolean x86, boolean cpuAmx, boolean foreignModule, String userIsa,
            LibcOpener libc) {
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
        if (!foreignModule) {
            return new Status(false, "CPU has amx_bf16, but the JVM was started without --add-modules "
                    + "jdk.incubator.foreign --enable-native-access=ALL-UNNAMED, which jsora needs to request it");
        }
        try {
            LibcCalls c = libc.open();
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
            Throwable cause = t instanceof InvocationTargetException && t.getCause() != null ? t.getCause() : t;
            return new Status(false, "CPU has amx_bf16, but the foreign linker could not request it (" + cause
                    + "); the JVM needs --enable-native-access=ALL-UNNAMED");
        }
    }

    private static boolean cpuHasAmx() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1)) {
                if (line.startsWith("flags")) {
                    return (" " + line.substring(line.indexOf(':') + 1) + " ").contains(" amx_bf16 ");
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    /**
     * libc's {@code syscall} and {@code setenv} through Java 17's incubating foreign linker, reached by reflection
     * so that jsora compiles and runs without the incubator module (it is then simply not used).
     */
    private static final class Libc implements LibcCalls {
        private final Class<?> linkerClass = Class.forName("jdk.incubator.foreign.CLinker");
        private final Class<?> layoutClass = Class.forName("jdk.incubator.foreign.MemoryLayout");
        private final Class<?> addressClass = Class.forName("jdk.incubator.foreign.MemoryAddress");
        private final Class<?> scopeClass = Class.forName("jdk.incubator.foreign.ResourceScope");
        private final Object linker = linkerClass.getMethod("getInstance").invoke(null);
        private final Object libc = linkerClass.getMethod("systemLookup").invoke(null);

        Libc() throws ReflectiveOperationException {
        }

        @Override
        public long syscall(long number, long a, long b) throws Throwable {
            Object cLong = layout("C_LONG");
            Object vaLong = linkerClass.getMethod("asVarArg", layoutClass).invoke(null, cLong);
            MethodHandle h = downcall("syscall", MethodType.methodType(long.class, long.class, long.class,
                    long.class), cLong, cLong, vaLong, vaLong);
            return (long) h.invokeWithArguments(number, a, b);
        }

        @Override
        public int setenv(String name, String value) throws Throwable {
            Object cPtr = layout("C_POINTER");
            MethodHandle h = downcall("setenv", MethodType.methodType(int.class, addressClass, addressClass,
                    int.class), layout("C_INT"), cPtr, cPtr, layout("C_INT"));
            Object scope = scopeClass.getMethod("newConfinedScope").invoke(null);
            try {
                Method toC = linkerClass.getMethod("toCString", String.class, scopeClass);
                Object n = toC.invoke(null, name, scope);
                Object v = toC.invoke(null, value, scope);
                Method address = Class.forName("jdk.incubator.foreign.MemorySegment").getMethod("address");
                // setenv copies both strings, so the scope may end when it returns
                return (int) h.invokeWithArguments(address.invoke(n), address.invoke(v), 0);
            } finally {
                scopeClass.getMethod("close").invoke(scope);
            }
        }

        private Object layout(String field) throws ReflectiveOperationException {
            return linkerClass.getField(field).get(null);
        }

        private MethodHandle downcall(String symbol, MethodType type, Object result, Object... args)
                throws ReflectiveOperationException {
            Optional<?> address = (Optional<?>) Class.forName("jdk.incubator.foreign.SymbolLookup")
                    .getMethod("lookup", String.class).invoke(libc, symbol);
            Object argArray = Array.newInstance(layoutClass, args.length);
            for (int i = 0; i < args.length; i++) {
                Array.set(argArray, i, args[i]);
            }
            Class<?> descriptorClass = Class.forName("jdk.incubator.foreign.FunctionDescriptor");
            Object descriptor = descriptorClass.getMethod("of", layoutClass, argArray.getClass())
                    .invoke(null, result, argArray);
            Class<?> addressable = Class.forName("jdk.incubator.foreign.Addressable");
            return (MethodHandle) linkerClass.getMethod("downcallHandle", addressable, MethodType.class,
                    descriptorClass).invoke(linker, address.orElseThrow(() -> new IllegalStateException(
                            "libc has no " + symbol)), type, descriptor);
        }
    }
}

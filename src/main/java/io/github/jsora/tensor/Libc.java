package io.github.jsora.tensor;

/**
 * The few libc calls jsora makes before ND4J loads ({@link Amx}, {@link OpenBlasThreads}), through JNA, which ND4J
 * already brings (it is on every ND4J class path through OSHI); jsora has no native code of its own. The calls sit
 * behind {@link Calls} so that each decision can be tested without them.
 */
final class Libc {

    private Libc() {
    }

    /** The libc functions used. */
    interface Calls {
        /** {@code syscall(number, a, b)}. */
        long syscall(long number, long a, long b) throws Throwable;

        /** {@code setenv(name, value, 0)}: never replaces a variable that is set. */
        int setenv(String name, String value) throws Throwable;
    }

    /** Opens the {@link Calls}; it may fail (JNA cannot load its native part). */
    interface Opener {
        Calls open() throws Throwable;
    }

    /** The real libc, through JNA. */
    static final Opener JNA = Jna::new;

    /** Whether JNA is on the class path (without loading it). */
    static boolean jnaPresent() {
        try {
            Class.forName("com.sun.jna.NativeLibrary", false, Libc.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * libc through JNA. JNA unpacks its native part under {@code java.io.tmpdir} into a {@code jna-<user>} directory
     * it never removes; unless the user set {@code jna.tmpdir}, it unpacks into JavaCPP's cache instead (where
     * ND4J's natives already are), and deletes the unpacked file once loaded, so nothing is left.
     */
    private static final class Jna implements Calls {
        private final com.sun.jna.NativeLibrary libc;

        Jna() {
            if (System.getProperty("jna.tmpdir") == null) {
                try {
                    System.setProperty("jna.tmpdir", org.bytedeco.javacpp.Loader.getCacheDir().getPath());
                } catch (java.io.IOException | RuntimeException e) {
                    // JNA's own default then
                }
            }
            libc = com.sun.jna.NativeLibrary.getInstance("c");
        }

        @Override
        public long syscall(long number, long a, long b) {
            return libc.getFunction("syscall").invokeLong(new Object[] {number, a, b});
        }

        @Override
        public int setenv(String name, String value) {
            // setenv copies both strings
            return libc.getFunction("setenv").invokeInt(new Object[] {name, value, 0});
        }
    }
}

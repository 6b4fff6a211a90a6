package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The OpenBLAS idle-thread setting: every branch of the decision, and what this JVM's native environment holds. */
class OpenBlasThreadsTest {

    private static final Libc.Opener NEVER = () -> {
        throw new AssertionError("libc must not be opened");
    };

    @Test
    void autoSetsTheShortestWait() {
        FakeLibc libc = new FakeLibc(0, 0);
        OpenBlasThreads.Status s = OpenBlasThreads.request("auto", true, null, () -> libc);
        assertEquals("4", s.value(), s.detail());
        assertEquals(List.of("setenv OPENBLAS_THREAD_TIMEOUT=4"), libc.calls);
    }

    @Test
    void anExponentInRangeIsUsed() {
        FakeLibc libc = new FakeLibc(0, 0);
        assertEquals("12", OpenBlasThreads.request(" 12 ", true, null, () -> libc).value());
        assertEquals(List.of("setenv OPENBLAS_THREAD_TIMEOUT=12"), libc.calls);
    }

    @Test
    void theUsersOwnSettingIsKept() {
        OpenBlasThreads.Status s = OpenBlasThreads.request("auto", true, "GOTO_THREAD_TIMEOUT=28", NEVER);
        assertNull(s.value());
        assertTrue(s.detail().contains("GOTO_THREAD_TIMEOUT=28 kept"), s.detail());
    }

    @Test
    void offBadValuesAndAMissingJnaChangeNothing() {
        assertNull(OpenBlasThreads.request("OFF", true, null, NEVER).value());
        for (String bad : new String[] {"3", "31", "fast", ""}) {
            OpenBlasThreads.Status s = OpenBlasThreads.request(bad, true, null, NEVER);
            assertNull(s.value(), bad);
            assertTrue(s.detail().contains("'" + bad + "'"), s.detail());
        }
        OpenBlasThreads.Status noJna = OpenBlasThreads.request("auto", false, null, NEVER);
        assertNull(noJna.value());
        assertTrue(noJna.detail().contains("JNA"), noJna.detail());
    }

    @Test
    void aFailingLibcIsReportedNotThrown() {
        OpenBlasThreads.Status refused = OpenBlasThreads.request("auto", true, null, () -> new FakeLibc(0, -1));
        assertNull(refused.value());
        assertTrue(refused.detail().contains("returned -1"), refused.detail());
        OpenBlasThreads.Status unloadable = OpenBlasThreads.request("auto", true, null, () -> {
            throw new UnsatisfiedLinkError("jnidispatch not loadable");
        });
        assertNull(unloadable.value());
        assertTrue(unloadable.detail().contains("jnidispatch not loadable"), unloadable.detail());
    }

    /** With JNA on the test class path and no user setting, the variable must be in the native environment. */
    @Test
    void thisJvmsOpenBlasSeesTheSetting() {
        NativeMemory.init();
        String nativeValue = com.sun.jna.NativeLibrary.getInstance("c").getFunction("getenv")
                .invokeString(new Object[] {"OPENBLAS_THREAD_TIMEOUT"}, false);
        OpenBlasThreads.Status s = OpenBlasThreads.status();
        if (System.getenv("OPENBLAS_THREAD_TIMEOUT") == null && System.getenv("GOTO_THREAD_TIMEOUT") == null
                && System.getProperty(OpenBlasThreads.PROPERTY) == null) {
            assertEquals("4", s.value(), s.detail());
            assertEquals("4", nativeValue);
        } else {
            assertEquals(s.value() != null ? s.value() : System.getenv("OPENBLAS_THREAD_TIMEOUT"), nativeValue);
        }
    }
}

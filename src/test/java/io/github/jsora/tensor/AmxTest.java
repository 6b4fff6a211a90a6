package io.github.jsora.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The AMX request: every branch of the decision, and what this JVM (JNA on its class path) got. */
class AmxTest {

    @Test
    void grantedPermissionSetsOneDnnsIsaAfterAskingTheKernel() {
        FakeLibc libc = new FakeLibc(0, 0);
        Amx.Status s = Amx.request("auto", true, true, true, null, () -> libc);
        assertTrue(s.enabled(), s.detail());
        assertEquals(List.of("syscall 158 0x1023 18", "setenv DNNL_MAX_CPU_ISA=AVX512_CORE_AMX"), libc.calls);
    }

    @Test
    void aRefusalLeavesTheIsaAloneSoNoTileInstructionRuns() {
        FakeLibc libc = new FakeLibc(-22, 0);
        Amx.Status s = Amx.request("auto", true, true, true, null, () -> libc);
        assertFalse(s.enabled());
        assertTrue(s.detail().contains("refused") && s.detail().contains("-22"), s.detail());
        assertEquals(List.of("syscall 158 0x1023 18"), libc.calls);
    }

    @Test
    void theUsersOwnIsaSettingIsKept() {
        FakeLibc libc = new FakeLibc(0, 0);
        Amx.Status capped = Amx.request("auto", true, true, true, "AVX512_CORE_BF16", () -> libc);
        assertFalse(capped.enabled(), capped.detail());
        assertTrue(capped.detail().contains("AVX512_CORE_BF16"), capped.detail());
        assertEquals(List.of("syscall 158 0x1023 18"), libc.calls);
        assertTrue(Amx.request("auto", true, true, true, "avx512_core_amx", () -> new FakeLibc(0, 0)).enabled());
    }

    @Test
    void nothingIsCalledWhereAmxIsOffUnsupportedOrUnreachable() {
        Libc.Opener never = () -> {
            throw new AssertionError("libc must not be opened");
        };
        assertEquals("jsora.amx=off", Amx.request(" OFF ", true, true, true, null, never).detail());
        assertTrue(Amx.request("sometimes", true, true, true, null, never).detail()
                .contains("must be auto or off, found 'sometimes'"));
        assertTrue(Amx.request("auto", false, false, true, null, never).detail().contains("x86-64"));
        assertTrue(Amx.request("auto", true, false, true, null, never).detail().contains("no amx_bf16"));
        Amx.Status noJna = Amx.request("auto", true, true, false, null, never);
        assertFalse(noJna.enabled());
        assertTrue(noJna.detail().contains("JNA"), noJna.detail());
    }

    @Test
    void aLibcThatCannotBeCalledIsReportedNotThrown() {
        Amx.Status s = Amx.request("auto", true, true, true, null, () -> {
            throw new UnsatisfiedLinkError("jnidispatch not loadable");
        });
        assertFalse(s.enabled());
        assertTrue(s.detail().contains("jnidispatch not loadable") && s.detail().contains("JNA"), s.detail());
    }

    /** JNA is on the test class path, so on an AMX CPU the request must have worked (or the kernel refused). */
    @Test
    void thisJvmGotAmxWhereTheCpuHasIt() throws Exception {
        java.util.Set<String> flags = CpuFlags.parse(CpuFlags.read());
        boolean cpuAmx = flags != null && flags.contains("amx_bf16");
        Amx.Status s = Amx.status();
        boolean x86 = System.getProperty("os.arch").equals("amd64");
        if (x86 && cpuAmx && System.getenv("DNNL_MAX_CPU_ISA") == null) {
            assertTrue(s.enabled() || s.detail().contains("refused"), s.detail());
        } else if (!cpuAmx) {
            assertFalse(s.enabled(), s.detail());
        }
        assertFalse(s.detail().isBlank());
    }
}

package io.github.jsora.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.ComputePrecision;
import io.github.jsora.GeneratorOptions;

/** {@code --precision fp32|bf16|auto}: parsing, the help, and a clear usage error for another value. */
class MainPrecisionTest {

    @TempDir
    Path dir;

    @Test
    void precisionOption() {
        MainTest.Result help = MainTest.run("--help");
        assertTrue(help.out().contains("--precision P"), help.out());
        MainTest.Result bad = MainTest.run("generate", "a cat", "--out", dir.resolve("x.gif").toString(),
                "--precision", "fp16");
        assertEquals(Main.USAGE_ERROR, bad.code());
        assertTrue(bad.err().contains("--precision") && bad.err().contains("fp16") && bad.err().contains("bf16"),
                bad.err());
    }

    @Test
    void parseAndDefault() {
        assertEquals(ComputePrecision.FP32, ComputePrecision.parse(" FP32 "));
        assertEquals(ComputePrecision.FP32, ComputePrecision.parse("float32"));
        assertEquals(ComputePrecision.BF16, ComputePrecision.parse("bf16"));
        assertEquals(ComputePrecision.AUTO, ComputePrecision.parse("Auto"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ComputePrecision.parse("x"));
        assertTrue(e.getMessage().contains("\"x\"") && e.getMessage().contains("fp32, bf16, auto"), e.getMessage());
        assertEquals(ComputePrecision.AUTO, GeneratorOptions.DEFAULT.computePrecision());
        assertEquals(ComputePrecision.BF16,
                GeneratorOptions.builder().computePrecision(ComputePrecision.BF16).build().computePrecision());
    }
}

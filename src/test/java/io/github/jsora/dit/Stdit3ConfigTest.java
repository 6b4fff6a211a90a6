package io.github.jsora.dit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.github.jsora.weights.WeightFormatException;

class Stdit3ConfigTest {

    /** The fields of hpcai-tech/OpenSora-STDiT-v3 config.json (SPEC §5.1). */
    static final String XL_JSON = """
            {"architectures": ["STDiT3"], "model_type": "STDiT3", "caption_channels": 4096,
             "class_dropout_prob": 0.1, "depth": 28, "drop_path": 0.0, "enable_flash_attn": true,
             "enable_layernorm_kernel": true, "enable_sequence_parallelism": false, "freeze_y_embedder": true,
             "hidden_size": 1152, "in_channels": 4, "input_size": [null, null, null], "input_sq_size": 512,
             "mlp_ratio": 4.0, "model_max_length": 300, "num_heads": 16, "only_train_temporal": false,
             "patch_size": [1, 2, 2], "pred_sigma": true, "qk_norm": true, "skip_y_embedder": false,
             "torch_dtype": "float32", "transformers_version": "4.36.2"}""";

    @Test
    void readsTheShippedConfigAndMatchesTheNamedVariant(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), XL_JSON);
        Stdit3Config c = Stdit3Config.read(dir);
        assertEquals(Stdit3Config.xl2(), c);
        assertEquals(Stdit3Config.xl2(), Stdit3Config.named("STDiT3-XL/2"));
        assertEquals(72, c.headDim());
        assertEquals(4608, c.mlpHidden());
        assertEquals(8, c.outChannels());
        // ≈ 1.21 B parameters (SPEC §5.1: 4.84 GB of float32)
        long p = c.parameterCount();
        assertTrue(p > 1.19e9 && p < 1.23e9, "XL parameter count " + p);
        assertEquals(p * 4, Stdit3.layout(c, false).float32Bytes());
    }

    @Test
    void absentKeysTakeReferenceDefaults() {
        Stdit3Config c = Stdit3Config.parse("t", "{\"hidden_size\": 64, \"depth\": 2, \"num_heads\": 4}");
        assertEquals(64, c.hiddenSize());
        assertEquals(4, c.inChannels());
        assertEquals(300, c.modelMaxLength());
        assertFalse(c.qkNorm(), "reference constructor default of qk_norm is false");
    }

    @Test
    void badConfigsNameTheKey() {
        WeightFormatException e = assertThrows(WeightFormatException.class,
                () -> Stdit3Config.parse("cfg.json", "{\"hidden_size\": 100, \"num_heads\": 16}"));
        assertTrue(e.getMessage().contains("num_heads"), e.getMessage());
        e = assertThrows(WeightFormatException.class,
                () -> Stdit3Config.parse("cfg.json", "{\"model_type\": \"T5\"}"));
        assertTrue(e.getMessage().contains("model_type"), e.getMessage());
        e = assertThrows(WeightFormatException.class,
                () -> Stdit3Config.parse("cfg.json", "{\"skip_y_embedder\": true}"));
        assertTrue(e.getMessage().contains("skip_y_embedder"), e.getMessage());
        e = assertThrows(WeightFormatException.class,
                () -> Stdit3Config.parse("cfg.json", "{\"patch_size\": [2, 2]}"));
        assertTrue(e.getMessage().contains("patch_size"), e.getMessage());
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class,
                () -> Stdit3Config.named("STDiT3-S/9"));
        assertTrue(u.getMessage().contains("STDiT3-XL/2"), u.getMessage());
    }
}

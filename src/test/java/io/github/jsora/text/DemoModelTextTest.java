package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import io.github.jsora.golden.Golden;
import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.SafetensorsFile;

/**
 * The shared demo model's text side in its real layout ({@code demo-model/t5}: config.json, model.safetensors with
 * both embedding keys, spiece.model): the prompt of {@code samples/e2e_case.safetensors} tokenizes to the stored
 * ids and encodes to the stored {@code t5.last_hidden_state} [1, 1, 16, 64] within the T5 tolerance 1e-5.
 * The demo folder is {@code -Djsora.demo.dir}, else {@code ../shared/demo-model} beside the project.
 */
class DemoModelTextTest {

    static Path demoDir() {
        String p = System.getProperty("jsora.demo.dir");
        for (String c : p != null ? new String[] {p} : new String[] {"../shared/demo-model", "/work/shared/demo-model"}) {
            if (Files.isDirectory(Path.of(c, "t5"))) {
                return Path.of(c);
            }
        }
        return fail("demo model not found (set -Djsora.demo.dir to the shared demo-model folder)");
    }

    @Test
    void promptToEmbeddingMatchesTheDemoCase() {
        Path demo = demoDir();
        Path caseFile = demo.resolve("samples/e2e_case.safetensors");
        try (SafetensorsFile c = SafetensorsFile.open(caseFile);
                T5TextEncoder te = T5TextEncoder.open(demo.resolve("t5"), T5Tokenizer.Options.huggingFace(16),
                        T5TextEncoder.RESIDENT)) {
            String prompt = c.metadata().get("prompt");
            int[][] ids = Golden.intRows(c, "in.input_ids");
            int[][] mask = Golden.intRows(c, "in.attention_mask");
            try (TextEmbedding e = te.encode(prompt); Tensor expected = c.load("t5.last_hidden_state")) {
                assertArrayEquals(ids[0], e.tokens().ids(0));
                assertArrayEquals(mask[0], e.tokens().mask(0));
                Golden.check("demo_t5", caseFile, "t5.last_hidden_state", expected, e.y(), 1e-5);
            }
        }
    }
}

package io.github.jsora.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import io.github.jsora.tensor.Tensor;
import io.github.jsora.weights.DType;
import io.github.jsora.weights.SafetensorsFile;
import io.github.jsora.weights.TensorInfo;

/** Every tensor and the metadata of every safetensors file in the golden folder load through the reader. */
class GoldenFilesLoadTest {

    @TestFactory
    Stream<DynamicTest> everyGoldenFileLoads() throws IOException {
        Path dir = Golden.dir();
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no safetensors files in " + dir.toAbsolutePath());
        return files.stream().map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> {
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertFalse(f.tensors().isEmpty(), p + " has no tensors");
                assertFalse(f.metadata().isEmpty(), p + " has no __metadata__");
                long values = 0;
                for (TensorInfo info : f.tensors()) {
                    if (info.dtype() == DType.I64 || info.dtype() == DType.I32) {
                        assertEquals(info.elements(), f.loadLongs(info.name()).length, info.name());
                    } else {
                        try (Tensor t = f.load(info.name())) {
                            assertTrue(t.hasShape(info.shape()), info.name());
                            values += t.size();
                        }
                    }
                }
                System.out.println("golden load " + p.getFileName() + ": " + f.tensors().size() + " tensors, "
                        + values + " float values, " + f.metadata().size() + " metadata keys");
            }
        }));
    }
}

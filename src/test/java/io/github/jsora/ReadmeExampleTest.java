package io.github.jsora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java example in README.md compiles against the library as it is. */
class ReadmeExampleTest {

    @Test
    void readmeJavaExampleCompiles(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Paths.get("README.md"), StandardCharsets.UTF_8);
        int start = readme.indexOf("```java\n");
        assertTrue(start >= 0, "README has a ```java block");
        int end = readme.indexOf("```", start + 8);
        String code = readme.substring(start + 8, end);
        assertTrue(code.contains("public class Example"), "the example is a class named Example");
        compile(dir, "Example", code);
    }

    /** Compiles {@code code}, the class {@code className}, against the test class path into {@code dir}. */
    static void compile(Path dir, String className, String code) throws Exception {
        Path src = dir.resolve(className + ".java");
        Files.writeString(src, code);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "a JDK is needed to compile the README example");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, "-d", dir.toString(), "-cp", System.getProperty("java.class.path"),
                src.toString());
        assertEquals(0, rc, "README example does not compile:\n" + err.toString(StandardCharsets.UTF_8));
    }
}

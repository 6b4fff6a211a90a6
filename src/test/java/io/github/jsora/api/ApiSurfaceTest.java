package io.github.jsora.api;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The public API is what the README's "Public API" section lists: the facade package {@code io.github.jsora} and
 * the few types of other packages named in {@link #API_TYPES}. This test walks every public or protected member of
 * every API type and fails when a signature (parameter, return, exception, field, supertype, type argument) names a
 * jsora type that is not itself API: no internal type leaks through the API.
 */
class ApiSurfaceTest {

    /** The facade package: all its public types are API. */
    static final String FACADE = "io.github.jsora";

    /** API types outside the facade package (keep in sync with the README). */
    static final Set<String> API_TYPES = Set.of(
            "io.github.jsora.tensor.Tensor",
            "io.github.jsora.tensor.MemoryBudgetExceededException",
            "io.github.jsora.video.Frame",
            "io.github.jsora.video.VideoFormat",
            "io.github.jsora.weights.WeightFormatException",
            "io.github.jsora.text.SentencePieceFormatException",
            "io.github.jsora.weights.WeightPrecision",
            "io.github.jsora.sampling.LeapStrategy",
            "io.github.jsora.sampling.SamplerOptions",
            "io.github.jsora.sampling.StepCaching",
            "io.github.jsora.sampling.StepCacheSignal",
            "io.github.jsora.sampling.GuidanceInterval");

    static boolean isApi(Class<?> c) {
        while (c.isArray()) {
            c = c.getComponentType();
        }
        if (c.isPrimitive() || !c.getName().startsWith("io.github.jsora.")) {
            return true;
        }
        Class<?> top = c;
        while (top.getEnclosingClass() != null) {
            top = top.getEnclosingClass();
        }
        boolean apiTop = (top.getPackageName().equals(FACADE) && Modifier.isPublic(top.getModifiers()))
                || API_TYPES.contains(top.getName());
        return apiTop && Modifier.isPublic(c.getModifiers());
    }

    /** Public top-level types of the facade package, from the compiled classes. */
    static List<Class<?>> facadeTypes() throws IOException, ClassNotFoundException {
        Path dir = Path.of("target/classes/io/github/jsora");
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(f -> f.toString().endsWith(".class") && !f.getFileName().toString().contains("$"))
                    .sorted().toList()) {
                String n = p.getFileName().toString();
                Class<?> c = Class.forName(FACADE + "." + n.substring(0, n.length() - 6));
                if (Modifier.isPublic(c.getModifiers())) {
                    out.add(c);
                }
            }
        }
        return out;
    }

    private static void check(Type t, String where, Set<String> leaks) {
        if (t instanceof Class<?> c) {
            if (!isApi(c)) {
                leaks.add(c.getName() + " in " + where);
            }
        } else if (t instanceof ParameterizedType p) {
            check(p.getRawType(), where, leaks);
            for (Type a : p.getActualTypeArguments()) {
                check(a, where, leaks);
            }
        } else if (t instanceof GenericArrayType g) {
            check(g.getGenericComponentType(), where, leaks);
        } else if (t instanceof WildcardType w) {
            for (Type b : w.getUpperBounds()) {
                check(b, where, leaks);
            }
            for (Type b : w.getLowerBounds()) {
                check(b, where, leaks);
            }
        } else if (t instanceof TypeVariable<?> v) {
            for (Type b : v.getBounds()) {
                check(b, where, leaks);
            }
        }
    }

    private static boolean visible(Member m) {
        return Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers());
    }

    private static void checkType(Class<?> c, Set<String> leaks, Set<Class<?>> seen) {
        if (!seen.add(c)) {
            return;
        }
        String n = c.getName();
        if (c.getGenericSuperclass() != null) {
            check(c.getGenericSuperclass(), n + " extends", leaks);
        }
        for (Type i : c.getGenericInterfaces()) {
            check(i, n + " implements", leaks);
        }
        for (Field f : c.getDeclaredFields()) {
            if (visible(f) && !f.isSynthetic()) {
                check(f.getGenericType(), n + "." + f.getName(), leaks);
            }
        }
        List<Executable> ex = new ArrayList<>(List.of(c.getDeclaredMethods()));
        for (Constructor<?> k : c.getDeclaredConstructors()) {
            ex.add(k);
        }
        for (Executable e : ex) {
            if (!visible(e) || e.isSynthetic() || (e instanceof Method m && m.isBridge())) {
                continue;
            }
            String where = n + "." + e.getName();
            if (e instanceof Method m) {
                check(m.getGenericReturnType(), where + " returns", leaks);
            }
            for (Type p : e.getGenericParameterTypes()) {
                check(p, where + " parameter", leaks);
            }
            for (Type x : e.getGenericExceptionTypes()) {
                check(x, where + " throws", leaks);
            }
        }
        for (Class<?> inner : c.getDeclaredClasses()) {
            if (Modifier.isPublic(inner.getModifiers()) || Modifier.isProtected(inner.getModifiers())) {
                checkType(inner, leaks, seen);
            }
        }
    }

    @Test
    void noInternalTypeLeaksThroughTheApi() throws Exception {
        Set<String> leaks = new TreeSet<>();
        Set<Class<?>> seen = new java.util.HashSet<>();
        List<Class<?>> api = new ArrayList<>(facadeTypes());
        for (String n : API_TYPES) {
            api.add(Class.forName(n));
        }
        for (Class<?> c : api) {
            checkType(c, leaks, seen);
        }
        System.out.println("api: " + api.size() + " top-level types checked");
        assertTrue(leaks.isEmpty(), leaks.size() + " internal types in API signatures:\n  " + String.join("\n  ",
                leaks));
    }
}

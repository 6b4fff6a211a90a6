package io.github.jsora.weights;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Typed access to a model's {@code config.json} (Hugging Face style). Getters name the file and the key when a
 * value is missing or of the wrong type. Model packages build their own immutable config records from it.
 */
public final class ModelConfig {

    private final String source;
    private final Map<String, Object> values;

    private ModelConfig(String source, Map<String, Object> values) {
        this.source = source;
        this.values = values;
    }

    /** Reads and parses a config file. */
    public static ModelConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new WeightFormatException(file, "cannot read config: " + e.getMessage(), e);
        }
        return parse(file.toString(), text);
    }

    /** Parses config JSON text; {@code source} names it in messages. */
    public static ModelConfig parse(String source, String json) {
        try {
            return new ModelConfig(source, Json.parseObject(json));
        } catch (Json.JsonException e) {
            throw new WeightFormatException(source + ": config is not valid JSON: " + e.getMessage());
        }
    }

    public String source() {
        return source;
    }

    public Map<String, Object> values() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key) && values.get(key) != null;
    }

    private Object require(String key) {
        Object v = values.get(key);
        if (v == null) {
            throw new WeightFormatException(source + ": config has no \"" + key + "\"");
        }
        return v;
    }

    private WeightFormatException wrongType(String key, String type) {
        return new WeightFormatException(source + ": config \"" + key + "\" must be " + type + ", found "
                + values.get(key));
    }

    public int getInt(String key) {
        Object v = require(key);
        if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
            return l.intValue();
        }
        throw wrongType(key, "an integer");
    }

    public int getInt(String key, int dflt) {
        return has(key) ? getInt(key) : dflt;
    }

    public double getDouble(String key) {
        Object v = require(key);
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw wrongType(key, "a number");
    }

    public double getDouble(String key, double dflt) {
        return has(key) ? getDouble(key) : dflt;
    }

    public boolean getBoolean(String key, boolean dflt) {
        if (!has(key)) {
            return dflt;
        }
        if (values.get(key) instanceof Boolean b) {
            return b;
        }
        throw wrongType(key, "true or false");
    }

    public String getString(String key, String dflt) {
        if (!has(key)) {
            return dflt;
        }
        if (values.get(key) instanceof String s) {
            return s;
        }
        throw wrongType(key, "a string");
    }

    public int[] getIntArray(String key) {
        if (!(require(key) instanceof List<?> l)) {
            throw wrongType(key, "an array of integers");
        }
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Long v)) {
                throw wrongType(key, "an array of integers");
            }
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) { // never truncated to another value
                throw wrongType(key, "an array of 32-bit integers (entry " + i + " is " + v + ")");
            }
            out[i] = v.intValue();
        }
        return out;
    }

    public double[] getDoubleArray(String key) {
        if (!(require(key) instanceof List<?> l)) {
            throw wrongType(key, "an array of numbers");
        }
        double[] out = new double[l.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(l.get(i) instanceof Number v)) {
                throw wrongType(key, "an array of numbers");
            }
            out[i] = v.doubleValue();
        }
        return out;
    }

    /** A nested object as its own config (source "file#key"). */
    @SuppressWarnings("unchecked")
    public ModelConfig getObject(String key) {
        if (!(require(key) instanceof Map<?, ?> m)) {
            throw wrongType(key, "an object");
        }
        return new ModelConfig(source + "#" + key, (Map<String, Object>) m);
    }
}

package io.github.jsora.video;

import java.util.LinkedHashMap;
import java.util.Map;

import io.github.jsora.weights.Json;

/**
 * The one text form of video metadata used by every writer: a flat JSON object of strings, pure 7-bit ASCII
 * (non-ASCII characters become {@code \\uXXXX} escapes), so it fits GIF comments, PNG tEXt chunks and AVI INFO
 * strings, which are all Latin-1 or ASCII, and the MP4 writer's {@code ©cmt} item.
 */
final class MetadataJson {

    private MetadataJson() {
    }

    static String toJson(Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (!first) {
                sb.append(", ");
            }
            first = false;
            quote(sb, e.getKey());
            sb.append(": ");
            quote(sb, e.getValue());
        }
        return sb.append('}').toString();
    }

    static void quote(StringBuilder sb, String s) {
        Json.quote(sb, s, true);
    }

    /** Parses a JSON object back; non-string values are kept as their JSON text. */
    static Map<String, String> fromJson(String json) {
        Map<String, Object> obj = Json.parseObject(json);
        Map<String, String> out = new LinkedHashMap<>();
        obj.forEach((k, v) -> out.put(k, v == null ? "null" : v.toString()));
        return out;
    }
}

package io.github.jsora.text;

/** Placeholder, replaced below. */
final class CaptionCleaner {
    private CaptionCleaner() {
    }

    static String cleanTwice(String s) {
        return s.toLowerCase(java.util.Locale.ROOT).strip();
    }
}

package io.github.jsora.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** What {@link CaptionCleaner} does to typical captions (each expectation follows a documented step). */
class CaptionCleanerTest {

    static String clean(String s) {
        return CaptionCleaner.cleanTwice(s);
    }

    @Test
    void lowercasesAndKeepsTheAestheticSentence() {
        assertEquals("a dog running in the park. aesthetic score: 6.5.",
                clean("A Dog running in the PARK. aesthetic score: 6.5."));
        assertEquals("a red circle moving left", clean("  a red circle moving left  "));
    }

    @Test
    void removesUrlsHtmlAndHandles() {
        assertEquals("see now", clean("see https://example.com/x?y=1 now"));
        assertEquals("visit for more", clean("visit www.example.org/page for more"));
        assertEquals("on today", clean("on example.com today"));
        assertEquals("bold text", clean("<b>bold</b> &amp; text"));
        assertEquals("photo by", clean("photo by @john_doe"));
        assertEquals("a cat", clean("a cat</s>"));
    }

    @Test
    void normalisesPunctuation() {
        assertEquals("a-b", clean("a\u2014b"));
        // a trailing ' is removed (documented last step), as Open-Sora's cleaner does
        assertEquals("he said \"hi\" and 'bye", clean("he said \u201chi\u201d and \u2018bye\u2019"));
        assertEquals("c code", clean("C++ code"));
        assertEquals("tag", clean("#123 tag"));
        assertEquals("of cat", clean("image.png of cat"));
        assertEquals("very long hyphenated word here", clean("very-long-hyphenated-word-here"));
        assertEquals("wait and see", clean("wait... and see"));
        assertEquals("sun rises", clean("sun (rises)"));
        assertEquals("caf\u00e9 au lait", clean("caf%C3%A9 au lait"));
        assertEquals("quoted", clean("\"quoted\""));
        assertEquals("a b, c", clean("a b,c"));
    }

    @Test
    void removesCodesAndBoilerplate() {
        assertEquals("sneakers", clean("sneakers jc6640 free shipping"));
        assertEquals("a poster", clean("a poster 1920x1080"));
        assertEquals("", clean("123456789"));
        assertEquals("photo", clean("photo click for details"));
        assertEquals("", clean("\u4e2d\u6587"));
    }
}

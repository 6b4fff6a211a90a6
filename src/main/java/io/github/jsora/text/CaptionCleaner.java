package io.github.jsora.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Caption cleaning in the spirit of Open-Sora's {@code text_preprocessing} ({@code clean_caption} applied twice),
 * written for jsora without ftfy or BeautifulSoup and with every step linear in the text length (possessive
 * quantifiers or plain scans where a backtracking regex could go quadratic). Stateless and thread-safe.
 *
 * <p>One {@link #clean} pass applies, in this order:
 * <ol>
 * <li>URL-decoding like {@code unquote_plus}: {@code +} → space; runs of {@code %XX} decoded as UTF-8 (malformed →
 *     U+FFFD); other {@code %} left as is.</li>
 * <li>Trim (Python's notion of white space) and lower-case ({@code Locale.ROOT}).</li>
 * <li>{@code <person>} → {@code person}.</li>
 * <li>URLs removed: {@code http:}/{@code https:}/{@code www.} followed by the rest of the non-space run; and host
 *     names — a run of {@code [a-z0-9.-]} holding {@code .com .co .ru .net .org .edu .gov .it} followed by a
 *     non-word character — from the run start through the following {@code [\w/-]} characters.</li>
 * <li>HTML: tags {@code <…>} (no nested {@code <}) removed, then entities decoded ({@code &amp; &lt; &gt; &quot;
 *     &apos; &nbsp;} with or without {@code ;}, {@code &#N;}, {@code &#xH;}; other named entities are kept).</li>
 * <li>{@code @handle} ({@code @} + word characters) removed.</li>
 * <li>CJK strokes … unified ideographs (U+31C0–U+9FFF) removed.</li>
 * <li>Runs of dash characters (hyphen-minus, U+058A, U+05BE, U+1400, U+1806, U+2010–U+2015, U+2E17, U+2E1A,
 *     U+2E3A, U+2E3B, U+2E40, U+301C, U+3030, U+30A0, U+FE31, U+FE32, U+FE58, U+FE63, U+FF0D) → one {@code -}.</li>
 * <li>Quotes: {@code ` ´ « » “ ” ¨} → {@code "}; {@code ‘ ’} → {@code '}.</li>
 * <li>Leftover {@code &quot} / {@code &quot;} and {@code &amp} removed.</li>
 * <li>IPv4 addresses → space; a trailing {@code d:dd} time stamp removed; the two characters {@code \n} → space.</li>
 * <li>{@code #} + 1–3 digits and {@code #} + 5 or more digits removed; stand-alone numbers of 6+ digits removed.</li>
 * <li>File names: in a non-space run, everything up to and including its last {@code .png .jpg .jpeg .bmp .webp
 *     .eps .pdf .apk .mp4} removed.</li>
 * <li>Two or more quote characters → {@code "}; two or more dots → space.</li>
 * <li>Runs of {@code # ® • © ™ & @ · º ½ ¾ ¿ ¡ § ~ ( ) [ ] { } | \ / *} → space; {@code " . "} → space.</li>
 * <li>More than three {@code -}/{@code _} in total: all of them → space.</li>
 * <li>HTML entities decoded twice more, trim.</li>
 * <li>Product-code-like words removed: letters(1–3)+digits(3–15); letters+digits+letters; digits+letters+digits;
 *     mixed codes like {@code j2d1a2a} (→ space); the words {@code shipping} (optionally preceded by
 *     {@code worldwide}/{@code free}), {@code download} (optionally with {@code free}), {@code click for|on X},
 *     the file extensions above as words (optionally + {@code cover}), {@code page N}; dimensions like
 *     {@code 1920x1080}.</li>
 * <li>{@code " : "} → {@code ": "}; a space inserted after {@code , . /} that follows a non-digit and precedes a
 *     word; white space collapsed to single spaces.</li>
 * <li>One pair of enclosing quotes stripped; a leading {@code ' _ , - : ;} and a trailing {@code ' _ , - : +}
 *     removed; a caption that is a single {@code .word} token emptied; trim.</li>
 * </ol>
 * Not done (Open-Sora does them through ftfy/bs4): mojibake repair, the full HTML5 entity table, HTML comments and
 * CDATA handling beyond tag removal. Non-ASCII letters are kept; the tokenizer's own normalisation (NFKC) applies
 * afterwards.
 */
public final class CaptionCleaner {

    private CaptionCleaner() {
    }

    private static final int F = Pattern.UNICODE_CHARACTER_CLASS;
    private static final String WS = "[\\s\\x1c-\\x1f]";

    private static Pattern p(String regex) {
        return Pattern.compile(regex, F);
    }

    private static final Pattern URL_SCHEME = p("\\b(?:https?:|www\\.)\\S*+");
    private static final Pattern TAG = p("<[^<>]*+>");
    private static final Pattern HANDLE = p("@\\w++");
    private static final Pattern CJK = p("[\\u31c0-\\u9fff]++");
    private static final Pattern DASHES = p("[\\u002d\\u058a\\u05be\\u1400\\u1806\\u2010-\\u2015\\u2e17\\u2e1a"
            + "\\u2e3a\\u2e3b\\u2e40\\u301c\\u3030\\u30a0\\ufe31\\ufe32\\ufe58\\ufe63\\uff0d]++");
    private static final Pattern DOUBLE_QUOTES = p("[`\\u00b4\\u00ab\\u00bb\\u201c\\u201d\\u00a8]");
    private static final Pattern SINGLE_QUOTES = p("[\\u2018\\u2019]");
    private static final Pattern QUOT_AMP = p("&quot;?|&amp");
    private static final Pattern IPV4 = p("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
    private static final Pattern TRAILING_TIME = p("\\d:\\d\\d" + WS + "++$");
    private static final Pattern BACKSLASH_N = p("\\\\n");
    private static final Pattern HASH_NUMBERS = p("#\\d{1,3}\\b|#\\d{5,}+\\b");
    private static final Pattern LONG_NUMBER = p("\\b\\d{6,}+\\b");
    private static final Pattern REPEATED_QUOTES = p("[\"']{2,}+");
    private static final Pattern REPEATED_DOTS = p("\\.{2,}+");
    private static final Pattern BAD_PUNCT = p("[#\\u00ae\\u2022\\u00a9\\u2122&@\\u00b7\\u00ba\\u00bd\\u00be\\u00bf"
            + "\\u00a1\\u00a7~()\\[\\]{}|\\\\/*]++");
    private static final Pattern LONE_DOT = p(WS + "++\\." + WS + "++");
    private static final Pattern DASH_UNDERSCORE = p("[-_]");
    private static final Pattern CODE_1 = p("\\b[a-z]{1,3}\\d{3,15}\\b");
    private static final Pattern CODE_2 = p("\\b[a-z]+\\d+[a-z]+\\b");
    private static final Pattern CODE_3 = p("\\b\\d+[a-z]+\\d+\\b");
    private static final Pattern SHIPPING = p("(?:worldwide" + WS + "+)?(?:free" + WS + "+)?shipping");
    private static final Pattern DOWNLOAD = p("(?:free" + WS + ")?download(?:" + WS + "free)?");
    private static final Pattern CLICK = p("\\bclick\\b" + WS + "(?:for|on)" + WS + "\\w+");
    private static final Pattern EXTENSION_WORD = p("\\b(?:png|jpg|jpeg|bmp|webp|eps|pdf|apk|mp4)(?:" + WS
            + "+cover)?\\b");
    private static final Pattern PAGE = p("\\bpage" + WS + "+\\d+\\b");
    private static final Pattern CODE_4 = p("\\b\\d*[a-z]+\\d+[a-z]+\\d+[a-z\\d]*+\\b");
    private static final Pattern DIMENSIONS = p("\\b\\d+\\.?\\d*[x\\u0445\\u00d7]\\d+\\.?\\d*\\b");
    private static final Pattern SPACED_COLON = p("\\b" + WS + "+:" + WS + "+");
    private static final Pattern PUNCT_SPACE = p("(\\D[,./])\\b");
    private static final Pattern SPACES = p(WS + "++");
    private static final Pattern ENCLOSING_QUOTES = p("^[\"']([\\w\\W]+)[\"']$");
    private static final Pattern LEADING_PUNCT = p("^['_,\\-:;]");
    private static final Pattern TRAILING_PUNCT = p("['_,\\-:+]$");
    private static final Pattern DOT_WORD = p("^\\.\\S+$");

    private static final String[] TLDS = {"com", "co", "ru", "net", "org", "edu", "gov", "it"};
    private static final String[] EXTENSIONS = {"png", "jpg", "jpeg", "bmp", "webp", "eps", "pdf", "apk", "mp4"};

    /** Open-Sora's preprocessing: {@link #clean} applied twice. */
    public static String cleanTwice(String caption) {
        return clean(clean(caption));
    }

    /** One cleaning pass (see the class comment for the exact steps). */
    public static String clean(String caption) {
        String s = unquotePlus(caption);
        s = pyStrip(s).toLowerCase(Locale.ROOT);
        s = s.replace("<person>", "person");
        s = URL_SCHEME.matcher(s).replaceAll("");
        s = removeHostNames(s);
        s = TAG.matcher(s).replaceAll("");
        s = unescapeHtml(s);
        s = HANDLE.matcher(s).replaceAll("");
        s = CJK.matcher(s).replaceAll("");
        s = DASHES.matcher(s).replaceAll("-");
        s = DOUBLE_QUOTES.matcher(s).replaceAll("\"");
        s = SINGLE_QUOTES.matcher(s).replaceAll("'");
        s = QUOT_AMP.matcher(s).replaceAll("");
        s = IPV4.matcher(s).replaceAll(" ");
        s = TRAILING_TIME.matcher(s).replaceAll("");
        s = BACKSLASH_N.matcher(s).replaceAll(" ");
        s = HASH_NUMBERS.matcher(s).replaceAll("");
        s = LONG_NUMBER.matcher(s).replaceAll("");
        s = removeFileNames(s);
        s = REPEATED_QUOTES.matcher(s).replaceAll("\"");
        s = REPEATED_DOTS.matcher(s).replaceAll(" ");
        s = BAD_PUNCT.matcher(s).replaceAll(" ");
        s = LONE_DOT.matcher(s).replaceAll(" ");
        int dashes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '-' || c == '_') {
                dashes++;
            }
        }
        if (dashes > 3) {
            s = DASH_UNDERSCORE.matcher(s).replaceAll(" ");
        }
        s = pyStrip(unescapeHtml(unescapeHtml(s)));
        s = CODE_1.matcher(s).replaceAll("");
        s = CODE_2.matcher(s).replaceAll("");
        s = CODE_3.matcher(s).replaceAll("");
        s = SHIPPING.matcher(s).replaceAll("");
        s = DOWNLOAD.matcher(s).replaceAll("");
        s = CLICK.matcher(s).replaceAll("");
        s = EXTENSION_WORD.matcher(s).replaceAll("");
        s = PAGE.matcher(s).replaceAll("");
        s = CODE_4.matcher(s).replaceAll(" ");
        s = DIMENSIONS.matcher(s).replaceAll("");
        s = SPACED_COLON.matcher(s).replaceAll(": ");
        s = PUNCT_SPACE.matcher(s).replaceAll("$1 ");
        s = SPACES.matcher(s).replaceAll(" ");
        s = ENCLOSING_QUOTES.matcher(s).replaceAll("$1");
        s = LEADING_PUNCT.matcher(s).replaceAll("");
        s = TRAILING_PUNCT.matcher(s).replaceAll("");
        s = DOT_WORD.matcher(s).replaceAll("");
        return pyStrip(s);
    }

    /** Python's {@code str.isspace} for one char. */
    static boolean pyIsSpace(char c) {
        return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
                || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f
                || c == 0x3000;
    }

    static String pyStrip(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && pyIsSpace(s.charAt(a))) {
            a++;
        }
        while (b > a && pyIsSpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    private static int hex(char c) {
        return Character.digit(c, 16);
    }

    /** {@code +} → space; runs of {@code %XX} decoded as UTF-8 with U+FFFD for malformed bytes. */
    static String unquotePlus(String s) {
        if (s.indexOf('+') < 0 && s.indexOf('%') < 0) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length() && hex(s.charAt(i + 1)) >= 0
                    && hex(s.charAt(i + 2)) >= 0) {
                bytes.write(hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2)));
                i += 3;
                continue;
            }
            if (bytes.size() > 0) {
                sb.append(bytes.toString(StandardCharsets.UTF_8));
                bytes.reset();
            }
            sb.append(c == '+' ? ' ' : c);
            i++;
        }
        if (bytes.size() > 0) {
            sb.append(bytes.toString(StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    private static boolean hostChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || (c >= 'A' && c <= 'Z');
    }

    private static boolean wordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || Character.getType(c) == Character.NON_SPACING_MARK;
    }

    /**
     * Removes host names: within a run of {@code [a-z0-9.-]}, a {@code .tld} (see {@link #TLDS}) that ends at a
     * non-word character removes the run from its start through the following {@code [\w/-]} characters. One
     * left-to-right scan.
     */
    static String removeHostNames(String s) {
        if (s.indexOf('.') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int runStartOut = -1;   // output index where the current host-char run starts
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c == '.' && runStartOut >= 0 && runStartOut < out.length()) {
                int tldEnd = -1;
                for (String tld : TLDS) {
                    int e = i + 1 + tld.length();
                    if (s.startsWith(tld, i + 1) && (e == n || !wordChar(s.charAt(e)))) {
                        tldEnd = e;
                        break;
                    }
                }
                if (tldEnd >= 0) {
                    int j = tldEnd;
                    while (j < n && (wordChar(s.charAt(j)) || s.charAt(j) == '/' || s.charAt(j) == '-')) {
                        j++;
                    }
                    out.setLength(runStartOut);
                    runStartOut = -1;
                    i = j;
                    continue;
                }
            }
            if (hostChar(c)) {
                if (runStartOut < 0) {
                    runStartOut = out.length();
                }
            } else {
                runStartOut = -1;
            }
            out.append(c);
            i++;
        }
        return out.toString();
    }

    /** In each non-space run, removes everything up to and including the run's last {@code .ext}. */
    static String removeFileNames(String s) {
        if (s.indexOf('.') < 0) {
            return s;
        }
        StringBuilder out = new StringBuilder(s.length());
        int n = s.length();
        int i = 0;
        while (i < n) {
            if (Character.isWhitespace(s.charAt(i)) || pyIsSpace(s.charAt(i))) {
                out.append(s.charAt(i++));
                continue;
            }
            int e = i;
            while (e < n && !(Character.isWhitespace(s.charAt(e)) || pyIsSpace(s.charAt(e)))) {
                e++;
            }
            int cut = -1;
            for (int d = e - 1; d > i && cut < 0; d--) {
                if (s.charAt(d) == '.') {
                    for (String ext : EXTENSIONS) {
                        if (d + 1 + ext.length() <= e && s.startsWith(ext, d + 1)) {
                            cut = d + 1 + ext.length();
                            break;
                        }
                    }
                }
            }
            out.append(s, cut < 0 ? i : cut, e);
            i = e;
        }
        return out.toString();
    }

    /** Decodes the common named entities (with or without {@code ;}) and numeric character references. */
    static String unescapeHtml(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length());
        int i = 0;
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (c != '&') {
                sb.append(c);
                i++;
                continue;
            }
            int consumed = 0;
            String rep = null;
            if (i + 1 < n && s.charAt(i + 1) == '#') {
                int j = i + 2;
                boolean hexa = j < n && (s.charAt(j) == 'x' || s.charAt(j) == 'X');
                if (hexa) {
                    j++;
                }
                int start = j;
                long v = 0;
                while (j < n && j - start < 8 && Character.digit(s.charAt(j), hexa ? 16 : 10) >= 0) {
                    v = v * (hexa ? 16 : 10) + Character.digit(s.charAt(j), hexa ? 16 : 10);
                    j++;
                }
                if (j > start) {
                    if (j < n && s.charAt(j) == ';') {
                        j++;
                    }
                    int cp = (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) ? 0xFFFD : (int) v;
                    rep = new String(Character.toChars(cp));
                    consumed = j - i;
                }
            } else {
                for (String[] e : ENTITIES) {
                    if (s.startsWith(e[0], i + 1)) {
                        int j = i + 1 + e[0].length();
                        if (j < n && s.charAt(j) == ';') {
                            j++;
                        }
                        rep = e[1];
                        consumed = j - i;
                        break;
                    }
                }
            }
            if (rep == null) {
                sb.append(c);
                i++;
            } else {
                sb.append(rep);
                i += consumed;
            }
        }
        return sb.toString();
    }

    private static final String[][] ENTITIES = {{"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""},
        {"apos;", "'"}, {"nbsp", "\u00a0"}};
}

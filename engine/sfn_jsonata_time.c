
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata's pictures, ported from jsonata-js's datetime.js and
 * functions.js: $formatInteger / $parseInteger (decimal digit families,
 * grouping, ordinals, letters, roman numerals, words), $fromMillis /
 * $toMillis / $now with XPath date/time pictures, and $formatNumber with
 * its decimal format properties.  Pictures are handled as code points.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_jsonata_int.h"


#define SFN_JFN(name)                                                         \
    sfn_jv_t *name(sfn_jctx_t *ctx, sfn_jv_t **a, int n, sfn_jv_t *input,     \
        sfn_jenv_t *env)


/* code point strings */

typedef struct {
    uint32_t             *c;
    size_t                n;
    size_t                cap;
} sfn_jus_t;


static void
sfn_jus_add(sfn_jctx_t *ctx, sfn_jus_t *s, uint32_t c)
{
    uint32_t  *nc;

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        nc = sfn_jalloc(ctx, s->cap * sizeof(uint32_t));
        if (s->n) {
            memcpy(nc, s->c, s->n * sizeof(uint32_t));
        }
        s->c = nc;
    }

    s->c[s->n++] = c;
}


static void
sfn_jus_adds(sfn_jctx_t *ctx, sfn_jus_t *s, const char *a)
{
    uint32_t  *c;
    size_t     i, n;

    c = sfn_jalloc(ctx, (strlen(a) + 1) * sizeof(uint32_t));
    n = sfn_utf8_decode(a, strlen(a), c);
    for (i = 0; i < n; i++) {
        sfn_jus_add(ctx, s, c[i]);
    }
}


static void
sfn_jus_insert(sfn_jctx_t *ctx, sfn_jus_t *s, size_t at, uint32_t c)
{
    sfn_jus_add(ctx, s, 0);
    memmove(&s->c[at + 1], &s->c[at], (s->n - 1 - at) * sizeof(uint32_t));
    s->c[at] = c;
}


/*
 * Insert cs[k] before the string's code point at[k], at[] ascending
 * (indices into the string as it is; equal ones in the order given), in
 * one pass: a picture may ask for a separator after every digit of a
 * 100,000-digit number.
 */

static void
sfn_jus_splice(sfn_jctx_t *ctx, sfn_jus_t *s, const size_t *at,
    const uint32_t *cs, size_t nat)
{
    size_t     i, j, k;
    uint32_t  *nc;

    if (nat == 0) {
        return;
    }

    nc = sfn_jalloc(ctx, (s->n + nat) * sizeof(uint32_t));

    for (i = 0, j = 0, k = 0; i <= s->n; i++) {
        while (k < nat && at[k] == i) {
            nc[j++] = cs[k++];
        }
        if (i < s->n) {
            nc[j++] = s->c[i];
        }
    }

    s->c = nc;
    s->n = j;
    s->cap = j;
}


/*
 * Insert ch at the indices c[0] <= c[1] <= ... one after another, each
 * into the string as the ones before left it, as jsonata-js's slices do,
 * in one pass: walk the original code points once, counting what has been
 * put into the gap before each.
 */

static void
sfn_jus_put(sfn_jctx_t *ctx, sfn_jus_t *s, const size_t *c, size_t nc,
    uint32_t ch)
{
    size_t     k, o, before, run, *at;
    uint32_t  *cs;

    at = sfn_jalloc(ctx, (nc + 1) * sizeof(size_t));
    cs = sfn_jalloc(ctx, (nc + 1) * sizeof(uint32_t));

    o = 0;              /* the gap before original code point o */
    before = 0;         /* what the string holds before that gap */
    run = 0;            /* separators in that gap */

    for (k = 0; k < nc; k++) {
        while (o < s->n && before + run + 1 <= c[k]) {
            before += run + 1;
            o++;
            run = 0;
        }
        at[k] = o;
        cs[k] = ch;
        run++;
    }

    sfn_jus_splice(ctx, s, at, cs, nc);
}


static sfn_jus_t
sfn_jus_of(sfn_jctx_t *ctx, const char *p, size_t len)
{
    sfn_jus_t  s;

    s.cap = len + 1;
    s.c = sfn_jalloc(ctx, s.cap * sizeof(uint32_t));
    s.n = sfn_utf8_decode(p, len, s.c);

    return s;
}


static sfn_jv_t *
sfn_jus_value(sfn_jctx_t *ctx, sfn_jus_t *s)
{
    size_t  i, len;
    char   *p;

    p = sfn_jalloc(ctx, s->n * 4 + 1);
    len = 0;
    for (i = 0; i < s->n; i++) {
        len += sfn_utf8_encode(s->c[i], p + len);
    }

    return sfn_jv_string(ctx, p, len);
}


static long
sfn_jus_index(const uint32_t *c, size_t n, uint32_t ch, size_t from)
{
    size_t  i;

    for (i = from; i < n; i++) {
        if (c[i] == ch) {
            return (long) i;
        }
    }

    return -1;
}


static long
sfn_jus_last(const uint32_t *c, size_t n, uint32_t ch)
{
    size_t  i;

    for (i = n; i-- > 0; ) {
        if (c[i] == ch) {
            return (long) i;
        }
    }

    return -1;
}


/* integers */

enum {
    SFN_JI_DECIMAL = 1,
    SFN_JI_LETTERS,
    SFN_JI_ROMAN,
    SFN_JI_WORDS,
    SFN_JI_SEQUENCE
};

enum {
    SFN_JC_LOWER = 0,
    SFN_JC_UPPER,
    SFN_JC_TITLE
};


typedef struct {
    int                   position;
    uint32_t              character;
} sfn_jsep_t;


typedef struct {
    int                   primary;
    int                   tcase;
    int                   ordinal;
    uint32_t              zero;
    int                   mandatory;
    int                   optional;
    int                   regular;
    sfn_jsep_t           *seps;
    int                   nseps;
    sfn_jus_t             token;
} sfn_jintfmt_t;


static const char  *sfn_jfew[] = {
    "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight",
    "Nine", "Ten", "Eleven", "Twelve", "Thirteen", "Fourteen", "Fifteen",
    "Sixteen", "Seventeen", "Eighteen", "Nineteen"
};

static const char  *sfn_jordinals[] = {
    "Zeroth", "First", "Second", "Third", "Fourth", "Fifth", "Sixth",
    "Seventh", "Eighth", "Ninth", "Tenth", "Eleventh", "Twelfth",
    "Thirteenth", "Fourteenth", "Fifteenth", "Sixteenth", "Seventeenth",
    "Eighteenth", "Nineteenth"
};

static const char  *sfn_jdecades[] = {
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty",
    "Ninety", "Hundred"
};

static const char  *sfn_jmagnitudes[] = {
    "Thousand", "Million", "Billion", "Trillion"
};

static const char  *sfn_jdays[] = {
    "", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    "Sunday"
};

static const char  *sfn_jmonths[] = {
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December"
};

static const uint32_t  sfn_jdecimal_groups[] = {
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66,
    0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040,
    0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0,
    0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10
};


static void
sfn_jwords(sfn_jsb_t *b, double num, int prev, int ord)
{
    int     mag;
    double  tens, rem, hundreds, factor, mant;
    size_t  len;

    if (num <= 19) {
        if (prev) {
            sfn_jsb_adds(b, " and ");
        }
        sfn_jsb_adds(b, ord ? sfn_jordinals[(int) num] : sfn_jfew[(int) num]);

    } else if (num < 100) {
        tens = floor(num / 10);
        rem = fmod(num, 10);
        if (prev) {
            sfn_jsb_adds(b, " and ");
        }
        sfn_jsb_adds(b, sfn_jdecades[(int) tens - 2]);
        if (rem > 0) {
            sfn_jsb_addc(b, '-');
            sfn_jwords(b, rem, 0, ord);
        } else if (ord) {
            len = strlen(sfn_jdecades[(int) tens - 2]);
            b->len -= 1;
            (void) len;
            sfn_jsb_adds(b, "ieth");
        }

    } else if (num < 1000) {
        hundreds = floor(num / 100);
        rem = fmod(num, 100);
        if (prev) {
            sfn_jsb_adds(b, ", ");
        }
        sfn_jsb_adds(b, sfn_jfew[(int) hundreds]);
        sfn_jsb_adds(b, " Hundred");
        if (rem > 0) {
            sfn_jwords(b, rem, 1, ord);
        } else if (ord) {
            sfn_jsb_adds(b, "th");
        }

    } else {
        mag = (int) floor(log10(num) / 3);
        if (mag > 4) {
            mag = 4;
        }
        factor = pow(10, mag * 3);
        mant = floor(num / factor);
        rem = num - mant * factor;
        if (prev) {
            sfn_jsb_adds(b, ", ");
        }
        sfn_jwords(b, mant, 0, 0);
        sfn_jsb_addc(b, ' ');
        sfn_jsb_adds(b, sfn_jmagnitudes[mag - 1]);
        if (rem > 0) {
            sfn_jwords(b, rem, 1, ord);
        } else if (ord) {
            sfn_jsb_adds(b, "th");
        }
    }
}


static const char *sfn_jroman[] = {
    "m", "cm", "d", "cd", "c", "xc", "l", "xl", "x", "ix", "v", "iv", "i"
};

static const int  sfn_jroman_v[] = {
    1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1
};


static int
sfn_jis_digit(uint32_t c, uint32_t *group)
{
    size_t  i;

    for (i = 0; i < sfn_nelems(sfn_jdecimal_groups); i++) {
        if (c >= sfn_jdecimal_groups[i] && c <= sfn_jdecimal_groups[i] + 9) {
            *group = sfn_jdecimal_groups[i];
            return 1;
        }
    }

    return 0;
}


static int
sfn_jgcd(int a, int b)
{
    return b == 0 ? a : sfn_jgcd(b, a % b);
}


static void
sfn_janalyse_integer(sfn_jctx_t *ctx, const uint32_t *pic, size_t len,
    sfn_jintfmt_t *f)
{
    int       pos, k, factor, found;
    long      semi;
    size_t    i;
    uint32_t  group, c;

    memset(f, 0, sizeof(sfn_jintfmt_t));
    f->primary = SFN_JI_DECIMAL;
    f->tcase = SFN_JC_LOWER;

    semi = sfn_jus_last(pic, len, ';');
    if (semi >= 0) {
        if ((size_t) semi + 1 < len && pic[semi + 1] == 'o') {
            f->ordinal = 1;
        }
        len = (size_t) semi;
    }

    if (len == 1 && (pic[0] == 'A' || pic[0] == 'a')) {
        f->primary = SFN_JI_LETTERS;
        f->tcase = pic[0] == 'A' ? SFN_JC_UPPER : SFN_JC_LOWER;
        return;
    }

    if (len == 1 && (pic[0] == 'I' || pic[0] == 'i')) {
        f->primary = SFN_JI_ROMAN;
        f->tcase = pic[0] == 'I' ? SFN_JC_UPPER : SFN_JC_LOWER;
        return;
    }

    if (len == 1 && (pic[0] == 'W' || pic[0] == 'w')) {
        f->primary = SFN_JI_WORDS;
        f->tcase = pic[0] == 'W' ? SFN_JC_UPPER : SFN_JC_LOWER;
        return;
    }

    if (len == 2 && pic[0] == 'W' && pic[1] == 'w') {
        f->primary = SFN_JI_WORDS;
        f->tcase = SFN_JC_TITLE;
        return;
    }

    f->seps = sfn_jalloc(ctx, (len + 1) * sizeof(sfn_jsep_t));
    pos = 0;
    f->zero = 0;

    for (i = len; i-- > 0; ) {
        c = pic[i];
        if (sfn_jis_digit(c, &group)) {
            f->mandatory++;
            pos++;
            if (f->zero == 0) {
                f->zero = group;
            } else if (group != f->zero) {
                sfn_jthrow(ctx, "D3131");
            }
        } else if (c == '#') {
            pos++;
            f->optional++;
        } else {
            f->seps[f->nseps].position = pos;
            f->seps[f->nseps].character = c;
            f->nseps++;
        }
    }

    if (f->mandatory == 0) {
        f->primary = SFN_JI_SEQUENCE;
        f->token.c = (uint32_t *) pic;
        f->token.n = len;
        return;
    }

    /* regular grouping: one character at multiples of a factor */
    factor = 0;
    if (f->nseps > 0) {
        factor = f->seps[0].position;
        for (k = 1; k < f->nseps; k++) {
            if (f->seps[k].character != f->seps[0].character) {
                factor = 0;
                break;
            }
            factor = sfn_jgcd(factor, f->seps[k].position);
        }
        for (k = 1; factor && k <= f->nseps; k++) {
            int  j;

            found = 0;
            for (j = 0; j < f->nseps; j++) {
                if (f->seps[j].position == k * factor) {
                    found = 1;
                }
            }
            if (!found) {
                factor = 0;
            }
        }
    }

    if (factor > 0) {
        f->regular = 1;
        f->seps[0].position = factor;
        f->nseps = 1;
    }
}


static void
sfn_jformat_integer(sfn_jctx_t *ctx, double value, sfn_jintfmt_t *f,
    sfn_jus_t *out)
{
    int        neg, k;
    char       num[48];
    size_t     i, len, start, nat, *at;
    double     v;
    uint32_t  *cs;
    sfn_jsb_t  b;
    sfn_jus_t  s;

    memset(&s, 0, sizeof(sfn_jus_t));

    /* past these, jsonata-js fails with a JavaScript RangeError */
    if (!isfinite(value)
        || (f->primary == SFN_JI_ROMAN && fabs(value) > 1e7))
    {
        sfn_jthrow_v(ctx, "D1001", sfn_jv_number(ctx, value));
    }

    neg = value < 0;
    value = fabs(value);

    switch (f->primary) {
    case SFN_JI_LETTERS:
        v = value;
        while (v > 0) {
            sfn_jus_insert(ctx, &s, 0, (uint32_t) fmod(v - 1, 26)
                                       + (f->tcase == SFN_JC_UPPER ? 'A'
                                                                   : 'a'));
            v = floor((v - 1) / 26);
        }
        break;

    case SFN_JI_ROMAN:
        v = value;
        while (v > 0) {
            for (k = 0; k < 13; k++) {
                if (v >= sfn_jroman_v[k]) {
                    const char  *r;

                    for (r = sfn_jroman[k]; *r; r++) {
                        sfn_jus_add(ctx, &s, f->tcase == SFN_JC_UPPER
                                             ? (uint32_t) (*r - 32)
                                             : (uint32_t) *r);
                    }
                    v -= sfn_jroman_v[k];
                    break;
                }
            }
        }
        break;

    case SFN_JI_WORDS:
        sfn_jsb_init(ctx, &b);
        sfn_jwords(&b, value, 0, f->ordinal);
        for (i = 0; i < b.len; i++) {
            uint32_t  c = (unsigned char) b.data[i];

            if (f->tcase == SFN_JC_UPPER && c >= 'a' && c <= 'z') {
                c -= 32;
            } else if (f->tcase == SFN_JC_LOWER && c >= 'A' && c <= 'Z') {
                c += 32;
            }
            sfn_jus_add(ctx, &s, c);
        }
        break;

    case SFN_JI_DECIMAL:
        sfn_js_number(value, num);
        len = strlen(num);
        for (k = f->mandatory - (int) len; k > 0; k--) {
            sfn_jus_add(ctx, &s, '0');
        }
        for (i = 0; i < len; i++) {
            sfn_jus_add(ctx, &s, (unsigned char) num[i]);
        }
        if (f->zero != 0x30) {
            for (i = 0; i < s.n; i++) {
                s.c[i] = s.c[i] + f->zero - 0x30;
            }
        }
        /* separators counted from the right, seps[] nearest first */
        at = sfn_jalloc(ctx, (s.n + f->nseps + 1) * sizeof(size_t));
        cs = sfn_jalloc(ctx, (s.n + f->nseps + 1) * sizeof(uint32_t));
        nat = 0;
        if (f->regular) {
            for (k = ((int) s.n - 1) / f->seps[0].position; k > 0; k--) {
                at[nat] = s.n - (size_t) k * f->seps[0].position;
                cs[nat++] = f->seps[0].character;
            }
        } else {
            for (k = f->nseps; k-- > 0; ) {
                if ((size_t) f->seps[k].position <= s.n) {
                    at[nat] = s.n - f->seps[k].position;
                    cs[nat++] = f->seps[k].character;
                }
            }
        }
        sfn_jus_splice(ctx, &s, at, cs, nat);
        if (f->ordinal) {
            const char  *suffix = "th";
            uint32_t     last = s.c[s.n - 1];

            if (!(s.n > 1 && s.c[s.n - 2] == '1')) {
                suffix = last == '1' ? "st" : last == '2' ? "nd"
                         : last == '3' ? "rd" : "th";
            }
            sfn_jus_adds(ctx, &s, suffix);
        }
        break;

    default:
        ctx->value = sfn_jus_value(ctx, &f->token);
        sfn_jthrow(ctx, "D3130");
    }

    start = out->n;
    if (neg) {
        sfn_jus_add(ctx, out, '-');
    }
    (void) start;

    for (i = 0; i < s.n; i++) {
        sfn_jus_add(ctx, out, s.c[i]);
    }
}


SFN_JFN(sfn_jfn_format_integer)
{
    sfn_jus_t      pic, out;
    sfn_jintfmt_t  f;

    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        sfn_jarg_missing(ctx, 2);
    }

    pic = sfn_jus_of(ctx, a[1]->u.s.data, a[1]->u.s.len);
    sfn_janalyse_integer(ctx, pic.c, pic.n, &f);

    memset(&out, 0, sizeof(sfn_jus_t));
    sfn_jformat_integer(ctx, floor(a[0]->u.n), &f, &out);

    return sfn_jus_value(ctx, &out);
}


/* words back to a number */

static double
sfn_jword_value(const char *w, size_t len, int *ok)
{
    int     i;
    char    lw[32], tmp[32];
    size_t  k;

    *ok = 1;
    if (len == 0 || len >= sizeof(lw)) {
        *ok = 0;
        return 0;
    }

    for (k = 0; k < len; k++) {
        lw[k] = (char) (w[k] >= 'A' && w[k] <= 'Z' ? w[k] + 32 : w[k]);
    }
    lw[len] = '\0';

#define sfn_jlow(dst, src)                                                   \
    do {                                                                     \
        size_t  j_;                                                          \
        for (j_ = 0; (src)[j_]; j_++) {                                      \
            (dst)[j_] = (char) ((src)[j_] >= 'A' && (src)[j_] <= 'Z'         \
                                ? (src)[j_] + 32 : (src)[j_]);               \
        }                                                                    \
        (dst)[j_] = '\0';                                                    \
    } while (0)

    for (i = 0; i < 20; i++) {
        sfn_jlow(tmp, sfn_jfew[i]);
        if (strcmp(tmp, lw) == 0) {
            return i;
        }
        sfn_jlow(tmp, sfn_jordinals[i]);
        if (strcmp(tmp, lw) == 0) {
            return i;
        }
    }

    for (i = 0; i < 9; i++) {
        sfn_jlow(tmp, sfn_jdecades[i]);
        if (strcmp(tmp, lw) == 0) {
            return (i + 2) * 10;
        }
        strcpy(tmp + strlen(tmp) - 1, "ieth");
        if (strcmp(tmp, lw) == 0) {
            return (i + 2) * 10;
        }
    }

    if (strcmp(lw, "hundredth") == 0) {
        return 100;
    }

    for (i = 0; i < 4; i++) {
        sfn_jlow(tmp, sfn_jmagnitudes[i]);
        if (strcmp(tmp, lw) == 0) {
            return pow(10, (i + 1) * 3);
        }
        strcat(tmp, "th");
        if (strcmp(tmp, lw) == 0) {
            return pow(10, (i + 1) * 3);
        }
    }

#undef sfn_jlow

    *ok = 0;
    return 0;
}


static double
sfn_jwords_to_number(const char *s, size_t len)
{
    int     ok, nsegs;
    size_t  i, start;
    double  segs[64], v, top, r;

    nsegs = 1;
    segs[0] = 0;

    for (i = 0, start = 0; i <= len; i++) {
        size_t  skip = 0;

        if (i == len) {
            skip = 1;
        } else if (s[i] == ',' && i + 1 < len && (s[i + 1] == ' '
                                                   || s[i + 1] == '\t'))
        {
            skip = 2;
        } else if ((s[i] == ' ' || s[i] == '\t') && i + 4 < len + 0
                   && strncmp(s + i + 1, "and", 3) == 0
                   && (s[i + 4] == ' ' || s[i + 4] == '\t'))
        {
            skip = 5;
        } else if (s[i] == ' ' || s[i] == '\t' || s[i] == '-'
                   || s[i] == '\\' || s[i] == '\n')
        {
            skip = 1;
        }

        if (!skip) {
            continue;
        }

        v = sfn_jword_value(s + start, i - start, &ok);
        if (!ok) {
            v = NAN;
        }

        if (v < 100) {
            top = segs[--nsegs];
            if (top >= 1000) {
                segs[nsegs++] = top;
                top = 0;
            }
            segs[nsegs++] = top + v;
        } else {
            segs[nsegs - 1] = segs[nsegs - 1] * v;
        }

        if (nsegs >= 60) {
            break;
        }

        if (i != len) {
            i += skip - 1;
        }
        start = i + 1;
    }

    r = 0;
    for (i = 0; i < (size_t) nsegs; i++) {
        r += segs[i];
    }

    return r;
}


static double
sfn_jparse_integer_text(sfn_jctx_t *ctx, const uint32_t *v, size_t len,
    sfn_jintfmt_t *f)
{
    int       k, max, val;
    size_t    i;
    double    r;
    char     *digits, *lw;
    uint32_t  c;

    switch (f->primary) {
    case SFN_JI_LETTERS:
        r = 0;
        for (i = 0; i < len; i++) {
            r += ((double) v[len - i - 1]
                  - (f->tcase == SFN_JC_UPPER ? 'A' : 'a') + 1)
                 * pow(26, (double) i);
        }
        return r;

    case SFN_JI_ROMAN:
        r = 0;
        max = 1;
        for (i = len; i-- > 0; ) {
            c = v[i];
            if (f->tcase != SFN_JC_UPPER && c >= 'a' && c <= 'z') {
                c -= 32;
            }
            val = c == 'M' ? 1000 : c == 'D' ? 500 : c == 'C' ? 100
                  : c == 'L' ? 50 : c == 'X' ? 10 : c == 'V' ? 5
                  : c == 'I' ? 1 : 0;
            if (val == 0) {
                return NAN;
            }
            if (val < max) {
                r -= val;
            } else {
                max = val;
                r += val;
            }
        }
        return r;

    case SFN_JI_WORDS:
        lw = sfn_jalloc(ctx, len + 1);
        for (i = 0; i < len; i++) {
            c = v[i];
            lw[i] = (char) (c >= 'A' && c <= 'Z' ? c + 32 : c < 128 ? c : '?');
        }
        lw[len] = '\0';
        return sfn_jwords_to_number(lw, len);

    case SFN_JI_DECIMAL:
        if (f->ordinal && len >= 2) {
            len -= 2;
        }
        digits = sfn_jalloc(ctx, len + 1);
        k = 0;
        for (i = 0; i < len; i++) {
            c = v[i];
            if (f->regular ? c == ',' : 0) {
                continue;
            }
            if (!f->regular) {
                int  j, sep = 0;

                for (j = 0; j < f->nseps; j++) {
                    if (f->seps[j].character == c) {
                        sep = 1;
                    }
                }
                if (sep) {
                    continue;
                }
            }
            if (f->zero != 0x30) {
                c = c - f->zero + 0x30;
            }
            digits[k++] = c < 128 ? (char) c : '?';
        }
        digits[k] = '\0';
        /* parseInt: the leading digits */
        if (k == 0 || !((digits[0] >= '0' && digits[0] <= '9')
                        || ((digits[0] == '-' || digits[0] == '+')
                            && digits[1] >= '0' && digits[1] <= '9')))
        {
            return NAN;
        }
        return strtod(digits, NULL) == 0 ? 0 : (double) strtoll(digits, NULL,
                                                                 10);

    default:
        ctx->value = sfn_jus_value(ctx, &f->token);
        sfn_jthrow(ctx, "D3130");
    }
}


SFN_JFN(sfn_jfn_parse_integer)
{
    double         r;
    sfn_jus_t      pic, v;
    sfn_jintfmt_t  f;

    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        sfn_jarg_missing(ctx, 2);
    }

    pic = sfn_jus_of(ctx, a[1]->u.s.data, a[1]->u.s.len);
    sfn_janalyse_integer(ctx, pic.c, pic.n, &f);

    v = sfn_jus_of(ctx, a[0]->u.s.data, a[0]->u.s.len);
    r = sfn_jparse_integer_text(ctx, v.c, v.n, &f);

    return sfn_jv_number(ctx, r);
}


/* date/time pictures */

typedef struct {
    int                   literal;
    sfn_jus_t             text;        /* literal */
    uint32_t              component;
    int                   has_min;
    int                   has_max;
    int                   min;
    int                   max;
    sfn_jus_t             pres1;
    uint32_t              pres2;
    int                   names;       /* 0 none, 1 + tcase */
    int                   has_int;
    sfn_jintfmt_t         ifmt;
    int                   n;
} sfn_jdpart_t;


typedef struct {
    sfn_jdpart_t         *parts;
    int                   nparts;
} sfn_jdpic_t;


static const char *
sfn_jdefault_pres(uint32_t c)
{
    switch (c) {
    case 'Y': case 'M': case 'D': case 'd': case 'W': case 'w': case 'X':
    case 'x': case 'H': case 'h': case 'f':
        return "1";
    case 'F': case 'P': case 'C': case 'E':
        return "n";
    case 'm': case 's':
        return "01";
    case 'Z': case 'z':
        return "01:01";
    default:
        return NULL;
    }
}


static int
sfn_jparse_width(const uint32_t *c, size_t n, int *ok)
{
    size_t  i;
    int     v;

    /* parseInt(); '*' or nothing: none */
    *ok = 0;
    if (n == 0 || (n == 1 && c[0] == '*')) {
        return 0;
    }

    v = 0;
    for (i = 0; i < n && c[i] >= '0' && c[i] <= '9'; i++) {
        v = v * 10 + (int) (c[i] - '0');
        *ok = 1;
        if (v > 100000) {
            break;
        }
    }

    return v;
}


static void
sfn_jdpic_literal(sfn_jctx_t *ctx, sfn_jdpic_t *p, const uint32_t *c,
    size_t start, size_t end)
{
    size_t         i;
    sfn_jdpart_t  *part;

    if (end <= start) {
        return;
    }

    part = &p->parts[p->nparts++];
    memset(part, 0, sizeof(sfn_jdpart_t));
    part->literal = 1;

    for (i = start; i < end; i++) {
        sfn_jus_add(ctx, &part->text, c[i]);
        if (c[i] == ']' && i + 1 < end && c[i + 1] == ']') {
            i++;
        }
    }
}


static void
sfn_janalyse_datetime(sfn_jctx_t *ctx, const uint32_t *c, size_t len,
    sfn_jdpic_t *p)
{
    int            ok, w;
    long           close, comma, dash;
    size_t         start, pos, i, mlen;
    uint32_t      *m, last;
    sfn_jus_t      pres, pat;
    sfn_jdpart_t  *part;
    const char    *def;

    p->parts = sfn_jalloc(ctx, (len * 2 + 2) * sizeof(sfn_jdpart_t));
    p->nparts = 0;

    start = 0;
    pos = 0;

    while (pos < len) {
        if (c[pos] != '[') {
            pos++;
            continue;
        }

        if (pos + 1 < len && c[pos + 1] == '[') {
            sfn_jdpic_literal(ctx, p, c, start, pos);
            part = &p->parts[p->nparts++];
            memset(part, 0, sizeof(sfn_jdpart_t));
            part->literal = 1;
            sfn_jus_add(ctx, &part->text, '[');
            pos += 2;
            start = pos;
            continue;
        }

        sfn_jdpic_literal(ctx, p, c, start, pos);
        start = pos;
        close = sfn_jus_index(c, len, ']', start);
        if (close < 0) {
            sfn_jthrow(ctx, "D3135");
        }
        pos = (size_t) close;

        /* the marker without whitespace */
        m = sfn_jalloc(ctx, (pos - start + 1) * sizeof(uint32_t));
        mlen = 0;
        for (i = start + 1; i < pos; i++) {
            if (c[i] != ' ' && c[i] != '\t' && c[i] != '\n' && c[i] != '\r') {
                m[mlen++] = c[i];
            }
        }

        part = &p->parts[p->nparts++];
        memset(part, 0, sizeof(sfn_jdpart_t));
        part->component = mlen ? m[0] : 0;

        comma = sfn_jus_last(m, mlen, ',');
        memset(&pres, 0, sizeof(sfn_jus_t));

        if (comma >= 0) {
            size_t   wl = mlen - comma - 1;
            uint32_t *wm = m + comma + 1;

            dash = sfn_jus_index(wm, wl, '-', 0);
            if (dash < 0) {
                part->min = sfn_jparse_width(wm, wl, &ok);
                part->has_min = ok;
            } else {
                part->min = sfn_jparse_width(wm, dash, &ok);
                part->has_min = ok;
                part->max = sfn_jparse_width(wm + dash + 1, wl - dash - 1,
                                             &ok);
                part->has_max = ok;
            }
            for (i = 1; i < (size_t) comma; i++) {
                sfn_jus_add(ctx, &pres, m[i]);
            }
        } else {
            for (i = 1; i < mlen; i++) {
                sfn_jus_add(ctx, &pres, m[i]);
            }
        }

        if (pres.n == 1) {
            part->pres1 = pres;

        } else if (pres.n > 1) {
            last = pres.c[pres.n - 1];
            if (last == 'a' || last == 't' || last == 'c' || last == 'o') {
                part->pres2 = last;
                pres.n--;
            }
            part->pres1 = pres;

        } else {
            def = sfn_jdefault_pres(part->component);
            if (def == NULL) {
                uint32_t  comp = part->component;
                sfn_jus_t cs;

                memset(&cs, 0, sizeof(sfn_jus_t));
                sfn_jus_add(ctx, &cs, comp);
                ctx->value = sfn_jus_value(ctx, &cs);
                sfn_jthrow(ctx, "D3132");
            }
            memset(&part->pres1, 0, sizeof(sfn_jus_t));
            sfn_jus_adds(ctx, &part->pres1, def);
        }

        if (part->pres1.n > 0 && part->pres1.c[0] == 'n') {
            part->names = 1 + SFN_JC_LOWER;

        } else if (part->pres1.n > 0 && part->pres1.c[0] == 'N') {
            part->names = 1 + ((part->pres1.n > 1 && part->pres1.c[1] == 'n')
                               ? SFN_JC_TITLE : SFN_JC_UPPER);

        } else if (part->component && strchr("YMDdFWwXxHhmsf",
                                             (int) part->component))
        {
            memset(&pat, 0, sizeof(sfn_jus_t));
            for (i = 0; i < part->pres1.n; i++) {
                sfn_jus_add(ctx, &pat, part->pres1.c[i]);
            }
            if (part->pres2) {
                sfn_jus_add(ctx, &pat, ';');
                sfn_jus_add(ctx, &pat, part->pres2);
            }
            sfn_janalyse_integer(ctx, pat.c, pat.n, &part->ifmt);
            part->has_int = 1;

            if (part->has_min && part->ifmt.mandatory < part->min) {
                part->ifmt.mandatory = part->min;
            }

            if (strchr("YMD", (int) part->component)) {
                part->n = -1;
                if (part->has_max) {
                    part->n = part->max;
                    part->ifmt.mandatory = part->n;
                } else {
                    w = part->ifmt.mandatory + part->ifmt.optional;
                    if (w >= 2) {
                        part->n = w;
                    }
                }
            }
        }

        if (part->component == 'Z' || part->component == 'z') {
            sfn_janalyse_integer(ctx, part->pres1.c, part->pres1.n,
                                 &part->ifmt);
            part->has_int = 1;
        }

        start = pos + 1;
        pos++;
    }

    sfn_jdpic_literal(ctx, p, c, start, len);
}


/* civil dates, as Date's UTC methods */

#define SFN_JDAY  86400000.0


static double
sfn_jdays_from_civil(double y, double m, double d)
{
    /* m 1..12; y and m may be out of range as Date.UTC allows */
    double  era, yoe, doy, doe, mp;

    y += floor((m - 1) / 12);
    m = fmod(m - 1, 12);
    if (m < 0) {
        m += 12;
    }
    m += 1;

    y -= m <= 2;
    era = floor(y / 400);
    yoe = y - era * 400;
    mp = m > 2 ? m - 3 : m + 9;
    doy = floor((153 * mp + 2) / 5) + d - 1;
    doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy;

    return era * 146097 + doe - 719468;
}


static double
sfn_jdate_utc(double y, double mon0, double d, double h, double mi, double s,
    double ms)
{
    return sfn_jdays_from_civil(y, mon0 + 1, d) * SFN_JDAY
           + ((h * 60 + mi) * 60 + s) * 1000 + ms;
}


typedef struct {
    double                year;
    int                   month;       /* 0..11 */
    int                   day;
    int                   wday;        /* 0 Sunday */
    int                   hour;
    int                   min;
    int                   sec;
    int                   ms;
    double                time;
} sfn_jdate_t;


static void
sfn_jdate_of(double t, sfn_jdate_t *d)
{
    double  days, msd, z, era, doe, yoe, y, doy, mp;

    /* outside Date's range: the epoch rather than undefined behaviour */
    if (!(fabs(t) <= 8.64e15)) {
        t = 0;
    }

    d->time = t;
    days = floor(t / SFN_JDAY);
    msd = t - days * SFN_JDAY;

    d->hour = (int) (msd / 3600000);
    d->min = (int) (fmod(msd, 3600000) / 60000);
    d->sec = (int) (fmod(msd, 60000) / 1000);
    d->ms = (int) fmod(msd, 1000);
    d->wday = (int) fmod(days + 4, 7);
    if (d->wday < 0) {
        d->wday += 7;
    }

    z = days + 719468;
    era = floor(z / 146097);
    doe = z - era * 146097;
    yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524)
                 - floor(doe / 146096)) / 365);
    y = yoe + era * 400;
    doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100));
    mp = floor((5 * doy + 2) / 153);
    d->day = (int) (doy - floor((153 * mp + 2) / 5) + 1);
    d->month = (int) (mp < 10 ? mp + 2 : mp - 10);
    d->year = y + (d->month <= 1);
}


static double
sfn_jstart_of_first_week(double year, int month)
{
    int     dow;
    double  jan1;
    sfn_jdate_t  d;

    jan1 = sfn_jdate_utc(year, month, 1, 0, 0, 0, 0);
    sfn_jdate_of(jan1, &d);
    dow = d.wday == 0 ? 7 : d.wday;

    return dow > 4 ? jan1 + (8 - dow) * SFN_JDAY : jan1 - (dow - 1) * SFN_JDAY;
}


static double
sfn_jdelta_weeks(double start, double end)
{
    return (end - start) / (SFN_JDAY * 7) + 1;
}


/* getDateTimeFragment; names (P) come back through *str */

static double
sfn_jfragment(sfn_jdate_t *d, uint32_t component, const char **str)
{
    double  today, start, week, end, y;
    int     m;

    *str = NULL;

    switch (component) {
    case 'Y':
        return d->year;
    case 'M':
        return d->month + 1;
    case 'D':
        return d->day;
    case 'd':
        today = sfn_jdate_utc(d->year, d->month, d->day, 0, 0, 0, 0);
        return (today - sfn_jdate_utc(d->year, 0, 1, 0, 0, 0, 0)) / SFN_JDAY
               + 1;
    case 'F':
        return d->wday == 0 ? 7 : d->wday;
    case 'W':
        start = sfn_jstart_of_first_week(d->year, 0);
        today = sfn_jdate_utc(d->year, d->month, d->day, 0, 0, 0, 0);
        week = sfn_jdelta_weeks(start, today);
        if (week > 52) {
            if (today >= sfn_jstart_of_first_week(d->year + 1, 0)) {
                week = 1;
            }
        } else if (week < 1) {
            week = sfn_jdelta_weeks(sfn_jstart_of_first_week(d->year - 1, 0),
                                    today);
        }
        return floor(week);
    case 'w':
        start = sfn_jstart_of_first_week(d->year, d->month);
        today = sfn_jdate_utc(d->year, d->month, d->day, 0, 0, 0, 0);
        week = sfn_jdelta_weeks(start, today);
        if (week > 4) {
            y = d->month == 11 ? d->year + 1 : d->year;
            m = d->month == 11 ? 0 : d->month + 1;
            if (today >= sfn_jstart_of_first_week(y, m)) {
                week = 1;
            }
        } else if (week < 1) {
            y = d->month == 0 ? d->year - 1 : d->year;
            m = d->month == 0 ? 11 : d->month - 1;
            week = sfn_jdelta_weeks(sfn_jstart_of_first_week(y, m), today);
        }
        return floor(week);
    case 'X':
        start = sfn_jstart_of_first_week(d->year, 0);
        end = sfn_jstart_of_first_week(d->year + 1, 0);
        if (d->time < start) {
            return d->year - 1;
        }
        if (d->time >= end) {
            return d->year + 1;
        }
        return d->year;
    case 'x':
        start = sfn_jstart_of_first_week(d->year, d->month);
        y = d->month == 11 ? d->year + 1 : d->year;
        m = d->month == 11 ? 0 : d->month + 1;
        end = sfn_jstart_of_first_week(y, m);
        if (d->time < start) {
            return (d->month == 0 ? 11 : d->month - 1) + 1;
        }
        if (d->time >= end) {
            return m + 1;
        }
        return d->month + 1;
    case 'H':
        return d->hour;
    case 'h':
        return d->hour % 12 == 0 ? 12 : d->hour % 12;
    case 'P':
        *str = d->hour >= 12 ? "pm" : "am";
        return 0;
    case 'm':
        return d->min;
    case 's':
        return d->sec;
    case 'f':
        return d->ms;
    case 'C':
    case 'E':
        *str = "ISO";
        return 0;
    default:
        return NAN;
    }
}


static void
sfn_jformat_component(sfn_jctx_t *ctx, sfn_jdate_t *d, sfn_jdpart_t *p,
    double off_h, double off_m, sfn_jus_t *out)
{
    int          digits;
    size_t       i, start;
    double       v, offset;
    const char  *str, *name;
    sfn_jus_t    tmp;

    v = sfn_jfragment(d, p->component, &str);
    start = out->n;

    if (p->component && strchr("YMDdFWwXxHhms", (int) p->component)) {
        if (p->component == 'Y' && p->n != -1) {
            v = fmod(v, pow(10, p->n));
        }

        if (p->names) {
            if (p->component == 'M' || p->component == 'x') {
                name = sfn_jmonths[(int) v - 1];
            } else if (p->component == 'F') {
                name = sfn_jdays[(int) v];
            } else {
                sfn_jus_t  cs;

                memset(&cs, 0, sizeof(sfn_jus_t));
                sfn_jus_add(ctx, &cs, p->component);
                ctx->value = sfn_jus_value(ctx, &cs);
                sfn_jthrow(ctx, "D3133");
            }

            for (i = 0; name[i]; i++) {
                uint32_t  c = (unsigned char) name[i];

                if (p->names - 1 == SFN_JC_UPPER && c >= 'a' && c <= 'z') {
                    c -= 32;
                } else if (p->names - 1 == SFN_JC_LOWER && c >= 'A'
                           && c <= 'Z')
                {
                    c += 32;
                }
                if (p->has_max && (int) i >= p->max) {
                    break;
                }
                sfn_jus_add(ctx, out, c);
            }

        } else {
            sfn_jformat_integer(ctx, v, &p->ifmt, out);
        }

        return;
    }

    if (p->component == 'f') {
        sfn_jformat_integer(ctx, v, &p->ifmt, out);
        return;
    }

    if (p->component == 'Z' || p->component == 'z') {
        offset = off_h * 100 + off_m;

        if (p->ifmt.regular) {
            sfn_jformat_integer(ctx, offset, &p->ifmt, out);

        } else {
            digits = p->ifmt.mandatory;
            if (digits == 1 || digits == 2) {
                sfn_jformat_integer(ctx, off_h, &p->ifmt, out);
                if (off_m != 0) {
                    sfn_jintfmt_t  f2;
                    uint32_t       zz[2] = { '0', '0' };

                    sfn_jus_add(ctx, out, ':');
                    sfn_janalyse_integer(ctx, zz, 2, &f2);
                    sfn_jformat_integer(ctx, floor(off_m), &f2, out);
                }
            } else if (digits == 3 || digits == 4) {
                sfn_jformat_integer(ctx, offset, &p->ifmt, out);
            } else {
                ctx->value = sfn_jv_number(ctx, digits);
                sfn_jthrow(ctx, "D3134");
            }
        }

        memset(&tmp, 0, sizeof(sfn_jus_t));
        if (p->component == 'z') {
            sfn_jus_adds(ctx, &tmp, "GMT");
        }
        if (offset >= 0) {
            sfn_jus_add(ctx, &tmp, '+');
        }
        for (i = tmp.n; i-- > 0; ) {
            sfn_jus_insert(ctx, out, start, tmp.c[i]);
        }

        if (offset == 0 && p->pres2 == 't') {
            out->n = start;
            sfn_jus_add(ctx, out, 'Z');
        }
        return;
    }

    if (p->component == 'P') {
        for (i = 0; str[i]; i++) {
            uint32_t  c = (unsigned char) str[i];

            if (p->names - 1 == SFN_JC_UPPER) {
                c -= 32;
            }
            sfn_jus_add(ctx, out, c);
        }
        return;
    }

    if (str) {
        sfn_jus_adds(ctx, out, str);
    }
}


static sfn_jv_t *
sfn_jformat_datetime(sfn_jctx_t *ctx, double millis, sfn_jv_t *picture,
    sfn_jv_t *timezone)
{
    int           i;
    double        off_h, off_m, offset;
    sfn_jus_t     pic, out;
    sfn_jdpic_t   p;
    sfn_jdate_t   d;
    static const char  *iso = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001]"
                              "[Z01:01t]";

    off_h = 0;
    off_m = 0;

    if (timezone != NULL) {
        /* parseInt() */
        const char  *s = timezone->u.s.data;
        char        *end;

        offset = (double) strtol(s, &end, 10);
        if (end == s) {
            offset = NAN;
        }
        off_h = floor(offset / 100);
        off_m = fmod(offset, 100);
    }

    if (picture == NULL) {
        pic = sfn_jus_of(ctx, iso, strlen(iso));
    } else {
        pic = sfn_jus_of(ctx, picture->u.s.data, picture->u.s.len);
    }

    sfn_janalyse_datetime(ctx, pic.c, pic.n, &p);

    sfn_jdate_of(millis + (60 * off_h + off_m) * 60 * 1000, &d);

    memset(&out, 0, sizeof(sfn_jus_t));

    for (i = 0; i < p.nparts; i++) {
        if (p.parts[i].literal) {
            size_t  k;

            for (k = 0; k < p.parts[i].text.n; k++) {
                sfn_jus_add(ctx, &out, p.parts[i].text.c[k]);
            }
        } else {
            sfn_jformat_component(ctx, &d, &p.parts[i], off_h, off_m, &out);
        }
    }

    return sfn_jus_value(ctx, &out);
}


SFN_JFN(sfn_jfn_from_millis)
{
    /* beyond Date's range (8.64e15 ms) there is no date: Invalid Date */
    if (a[0] == NULL || !(fabs(a[0]->u.n) <= 8.64e15)) {
        return NULL;
    }

    return sfn_jformat_datetime(ctx, a[0]->u.n, n > 1 ? a[1] : NULL,
                                n > 2 ? a[2] : NULL);
}


SFN_JFN(sfn_jfn_now)
{
    return sfn_jformat_datetime(ctx, (double) ctx->now, n > 0 ? a[0] : NULL,
                                n > 1 ? a[1] : NULL);
}


/* ISO 8601 as Date.parse() reads what the regex of toMillis admits */

static int
sfn_jdigits(const char *s, size_t len, size_t *pos, int n, int *out)
{
    int  i, v;

    if (*pos + n > len) {
        return -1;
    }

    v = 0;
    for (i = 0; i < n; i++) {
        if (s[*pos + i] < '0' || s[*pos + i] > '9') {
            return -1;
        }
        v = v * 10 + (s[*pos + i] - '0');
    }

    *pos += n;
    *out = v;
    return 0;
}


static double
sfn_jparse_iso(const char *s, size_t len)
{
    int     y, mo, d, h, mi, sec, ms, oh, om, k, sign;
    size_t  pos;
    double  t;

    pos = 0;
    mo = 1;
    d = 1;
    h = 0;
    mi = 0;
    sec = 0;
    ms = 0;

    if (sfn_jdigits(s, len, &pos, 4, &y) != 0) {
        return NAN;
    }

    if (pos < len && s[pos] == '-') {
        pos++;
        if (sfn_jdigits(s, len, &pos, 2, &mo) != 0) {
            return NAN;
        }
        if (pos < len && s[pos] == '-') {
            pos++;
            if (sfn_jdigits(s, len, &pos, 2, &d) != 0) {
                return NAN;
            }
        }
    }

    if (pos < len && s[pos] == 'T') {
        pos++;
        if (sfn_jdigits(s, len, &pos, 2, &h) != 0 || pos >= len
            || s[pos++] != ':' || sfn_jdigits(s, len, &pos, 2, &mi) != 0)
        {
            return NAN;
        }
        if (pos < len && s[pos] == ':') {
            pos++;
            if (sfn_jdigits(s, len, &pos, 2, &sec) != 0) {
                return NAN;
            }
        }
        if (pos < len && s[pos] == '.') {
            pos++;
            for (k = 0; pos < len && s[pos] >= '0' && s[pos] <= '9'; k++) {
                if (k < 3) {
                    ms = ms * 10 + (s[pos] - '0');
                }
                pos++;
            }
            for ( ; k < 3; k++) {
                ms *= 10;
            }
        }
    }

    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59
        || sec > 59)
    {
        return NAN;
    }

    t = sfn_jdate_utc(y, mo - 1, d, h, mi, sec, ms);

    if (pos < len && s[pos] == 'Z') {
        pos++;

    } else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        sign = s[pos++] == '-' ? -1 : 1;
        if (sfn_jdigits(s, len, &pos, 2, &oh) != 0) {
            return NAN;
        }
        if (pos < len && s[pos] == ':') {
            pos++;
        }
        if (sfn_jdigits(s, len, &pos, 2, &om) != 0) {
            return NAN;
        }
        t -= sign * (oh * 60 + om) * 60000.0;
    }

    return pos == len ? t : NAN;
}


/* the regex jsonata-js generates for a picture's parts */

static void
sfn_jregex_add_literal(sfn_jsb_t *b, const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (strchr(".*+?^${}()|[]\\", s[i]) && s[i]) {
            sfn_jsb_addc(b, '\\');
        }
        sfn_jsb_addc(b, s[i]);
    }
}


static void
sfn_jint_regex(sfn_jctx_t *ctx, sfn_jintfmt_t *f, int width, sfn_jsb_t *b)
{
    int  i;

    switch (f->primary) {
    case SFN_JI_LETTERS:
        sfn_jsb_adds(b, f->tcase == SFN_JC_UPPER ? "[A-Z]+" : "[a-z]+");
        break;
    case SFN_JI_ROMAN:
        sfn_jsb_adds(b, f->tcase == SFN_JC_UPPER ? "[MDCLXVI]+"
                                                 : "[mdclxvi]+");
        break;
    case SFN_JI_WORDS:
        sfn_jsb_adds(b, "(?:");
        for (i = 0; i < 20; i++) {
            sfn_jsb_printf(b, "%s|%s|", sfn_jfew[i], sfn_jordinals[i]);
        }
        for (i = 0; i < 9; i++) {
            sfn_jsb_printf(b, "%s|%.*sieth|", sfn_jdecades[i],
                           (int) strlen(sfn_jdecades[i]) - 1, sfn_jdecades[i]);
        }
        sfn_jsb_adds(b, "hundredth|");
        for (i = 0; i < 4; i++) {
            sfn_jsb_printf(b, "%s|%sth|", sfn_jmagnitudes[i],
                           sfn_jmagnitudes[i]);
        }
        sfn_jsb_adds(b, "and|[\\-, ])+");
        break;
    case SFN_JI_DECIMAL:
        sfn_jsb_adds(b, "[0-9]");
        if (width > 0) {
            if (f->optional == 0) {
                sfn_jsb_printf(b, "{%d}", width);
            } else {
                sfn_jsb_printf(b, "{%d,%d}", width - f->optional, width);
            }
        } else {
            sfn_jsb_addc(b, '+');
        }
        if (f->ordinal) {
            sfn_jsb_adds(b, "(?:th|st|nd|rd)");
        }
        break;
    default:
        ctx->value = sfn_jus_value(ctx, &f->token);
        sfn_jthrow(ctx, "D3130");
    }
}


static double
sfn_jlookup_name(const char *v, size_t len, sfn_jdpart_t *p, int *ok)
{
    int          i;
    size_t       n;
    const char  *name;

    *ok = 1;

    if (p->component == 'M' || p->component == 'x') {
        for (i = 0; i < 12; i++) {
            name = sfn_jmonths[i];
            n = strlen(name);
            if (p->has_max && p->max > 0 && (size_t) p->max < n) {
                n = p->max;
            }
            if (n == len && strncmp(name, v, n) == 0) {
                return i + 1;
            }
        }
    } else if (p->component == 'F') {
        for (i = 1; i < 8; i++) {
            name = sfn_jdays[i];
            n = strlen(name);
            if (p->has_max && p->max > 0 && (size_t) p->max < n) {
                n = p->max;
            }
            if (n == len && strncmp(name, v, n) == 0) {
                return i;
            }
        }
    } else if (p->component == 'P') {
        if (len == 2 && (strncmp(v, "am", 2) == 0 || strncmp(v, "AM", 2) == 0))
        {
            return 0;
        }
        if (len == 2 && (strncmp(v, "pm", 2) == 0 || strncmp(v, "PM", 2) == 0))
        {
            return 1;
        }
    }

    *ok = 0;
    return 0;
}


static sfn_jv_t *
sfn_jparse_datetime(sfn_jctx_t *ctx, sfn_jv_t *ts, sfn_jv_t *picture)
{
    int           i, ng, ok, mask, da, db, dc, dd, ta, tb, start_spec;
    int           end_spec, has[128];
    double        comp[128], millis, v;
    size_t        ov[2 * 64], k, gl;
    sfn_jsb_t     b;
    sfn_jus_t     pic, gv;
    sfn_jdpic_t   p;
    sfn_jdpart_t *part;
    sfn_jdate_t   now;
    pcre2_code   *re;
    const char   *gs, *str;
    const char   *comps;

    pic = sfn_jus_of(ctx, picture->u.s.data, picture->u.s.len);
    sfn_janalyse_datetime(ctx, pic.c, pic.n, &p);

    sfn_jsb_init(ctx, &b);
    sfn_jsb_addc(&b, '^');

    for (i = 0; i < p.nparts; i++) {
        part = &p.parts[i];
        sfn_jsb_addc(&b, '(');

        if (part->literal) {
            sfn_jv_t  *lit = sfn_jus_value(ctx, &part->text);

            sfn_jregex_add_literal(&b, lit->u.s.data, lit->u.s.len);

        } else if (part->component == 'Z' || part->component == 'z') {
            if (part->component == 'z') {
                sfn_jsb_adds(&b, "GMT");
            }
            sfn_jsb_adds(&b, "[-+][0-9]+");
            if (part->ifmt.regular) {
                char  sep[8];

                sep[sfn_utf8_encode(part->ifmt.seps[0].character, sep)] = 0;
                sfn_jregex_add_literal(&b, sep, strlen(sep));
                sfn_jsb_adds(&b, "[0-9]+");
            }

        } else if (part->has_int) {
            sfn_jint_regex(ctx, &part->ifmt, part->n, &b);

        } else {
            if (!(part->component == 'M' || part->component == 'x'
                  || part->component == 'F' || part->component == 'P'))
            {
                sfn_jus_t  cs;

                memset(&cs, 0, sizeof(sfn_jus_t));
                sfn_jus_add(ctx, &cs, part->component);
                ctx->value = sfn_jus_value(ctx, &cs);
                sfn_jthrow(ctx, "D3133");
            }
            sfn_jsb_adds(&b, "[a-zA-Z]+");
        }

        sfn_jsb_addc(&b, ')');
    }

    sfn_jsb_addc(&b, '$');


    re = sfn_jregex_compile(b.data, b.len, "i", 1, sfn_jpcre(ctx));

    if (re == NULL) {
        return NULL;
    }

    if (sfn_jregex_exec(ctx, re, ts->u.s.data, ts->u.s.len, 0, ov, &ng) <= 0)
    {
        return NULL;
    }

    for (i = 0; i < 128; i++) {
        has[i] = 0;
        comp[i] = 0;
    }

    ok = 0;
    for (i = 0; i < p.nparts && i + 1 < ng; i++) {
        part = &p.parts[i];
        if (part->literal || part->component >= 128) {
            continue;
        }

        gs = ts->u.s.data + ov[2 * (i + 1)];
        gl = ov[2 * (i + 1) + 1] - ov[2 * (i + 1)];

        if (part->component == 'Z' || part->component == 'z') {
            const char  *z = gs;
            size_t       zl = gl;
            double       oh, om;

            if (part->component == 'z') {
                z += 3;
                zl -= 3;
            }
            if (part->ifmt.regular) {
                const char  *sep = memchr(z, ':', zl);

                if (part->ifmt.seps[0].character != ':') {
                    sep = memchr(z, (int) part->ifmt.seps[0].character, zl);
                }
                oh = strtol(z, NULL, 10);
                om = sep ? strtol(sep + 1, NULL, 10) : 0;
            } else if (zl - 1 <= 2) {
                oh = strtol(z, NULL, 10);
                om = 0;
            } else {
                char  hh[4];

                memcpy(hh, z, 3);
                hh[3] = '\0';
                oh = strtol(hh, NULL, 10);
                om = strtol(z + 3, NULL, 10);
            }
            v = oh * 60 + om;

        } else if (part->has_int) {
            gv = sfn_jus_of(ctx, gs, gl);
            v = sfn_jparse_integer_text(ctx, gv.c, gv.n, &part->ifmt);

        } else {
            v = sfn_jlookup_name(gs, gl, part, &ok);
            if (!ok) {
                has[part->component] = 0;
                continue;
            }
        }

        has[part->component] = 1;
        comp[part->component] = v;
        ok = 1;
    }

    /* no component parsed at all: undefined */
    for (i = 0, ok = 0; i < 128; i++) {
        if (has[i]) {
            ok = 1;
        }
    }
    if (!ok) {
        return NULL;
    }

#define sfn_jshift(c)  (mask = (mask << 1) + (has[c] ? 1 : 0))
#define sfn_jis_type(t)  (!(~(t) & mask) && !!((t) & mask))

    mask = 0;
    for (str = "YXMxWwdD"; *str; str++) {
        sfn_jshift((int) *str);
    }
    da = sfn_jis_type(161);
    db = !da && sfn_jis_type(130);
    dc = sfn_jis_type(84);
    dd = !dc && sfn_jis_type(72);

    mask = 0;
    for (str = "PHhmsf"; *str; str++) {
        sfn_jshift((int) *str);
    }
    ta = sfn_jis_type(23);
    tb = !ta && sfn_jis_type(47);

#undef sfn_jshift
#undef sfn_jis_type

    comps = db ? "YD" : dc ? "XxwF" : dd ? "XWF" : "YMD";

    sfn_jdate_of((double) ctx->now, &now);
    start_spec = 0;
    end_spec = 0;

    for (k = 0; k < 2; k++) {
        const char  *cs = k == 0 ? comps : (tb ? "Phmsf" : "Hmsf");

        for ( ; *cs; cs++) {
            int  c = (int) *cs;

            if (!has[c]) {
                if (start_spec) {
                    comp[c] = strchr("MDd", c) ? 1 : 0;
                    end_spec = 1;
                } else {
                    comp[c] = sfn_jfragment(&now, (uint32_t) c, &str);
                    if (c == 'P') {
                        comp[c] = now.hour >= 12;
                    }
                }
                has[c] = 1;
            } else {
                start_spec = 1;
                if (end_spec) {
                    sfn_jthrow(ctx, "D3136");
                }
            }
        }
    }

    if (comp['M'] > 0) {
        comp['M'] -= 1;
    } else {
        comp['M'] = 0;
    }

    if (db) {
        sfn_jdate_t  dd_;

        sfn_jdate_of(sfn_jdate_utc(comp['Y'], 0, 1, 0, 0, 0, 0)
                     + (comp['d'] - 1) * SFN_JDAY, &dd_);
        comp['M'] = dd_.month;
        comp['D'] = dd_.day;
    }

    if (dc || dd) {
        sfn_jthrow(ctx, "D3136");
    }

    if (tb) {
        comp['H'] = comp['h'] == 12 ? 0 : comp['h'];
        if (comp['P'] == 1) {
            comp['H'] += 12;
        }
    }

    millis = sfn_jdate_utc(comp['Y'], comp['M'], comp['D'], comp['H'],
                           comp['m'], comp['s'], comp['f']);

    if (comp['Z'] != 0 || comp['z'] != 0) {
        millis -= (comp['Z'] != 0 ? comp['Z'] : comp['z']) * 60 * 1000;
    }

    return sfn_jv_number(ctx, millis);
}


/* the shape toMillis() accepts without a picture, as jsonata-js's regex */

static int
sfn_jiso_shape(sfn_jctx_t *ctx, const char *s, size_t len)
{
    int                 ng;
    size_t              ov[2 * 64];
    pcre2_code         *re;
    static const char  *pat = "^\\d{4}(-[01]\\d)*(-[0-3]\\d)*"
                              "(T[0-2]\\d:[0-5]\\d:[0-5]\\d)*(\\.\\d+)?"
                              "([+-][0-2]\\d:?[0-5]\\d|Z)?$";

    re = sfn_jregex_compile(pat, strlen(pat), NULL, 0, sfn_jpcre(ctx));
    if (re == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    return sfn_jregex_exec(ctx, re, s, len, 0, ov, &ng) > 0;
}


SFN_JFN(sfn_jfn_to_millis)
{
    double  t;

    if (a[0] == NULL) {
        return NULL;
    }

    if (n < 2 || a[1] == NULL) {
        if (!sfn_jiso_shape(ctx, a[0]->u.s.data, a[0]->u.s.len)) {
            sfn_jthrow_v(ctx, "D3110", a[0]);
        }
        t = sfn_jparse_iso(a[0]->u.s.data, a[0]->u.s.len);
        return sfn_jv_number(ctx, t);
    }

    return sfn_jparse_datetime(ctx, a[0], a[1]);
}


/* $formatNumber: the XPath decimal format */

typedef struct {
    uint32_t              decimal;
    uint32_t              grouping;
    uint32_t              exponent;
    uint32_t              percent;
    uint32_t              permille;
    uint32_t              zero;
    uint32_t              digit;
    uint32_t              pattern;
    sfn_jus_t             minus;
} sfn_jdfmt_t;


typedef struct {
    sfn_jus_t             prefix;
    sfn_jus_t             suffix;
    sfn_jus_t             active;
    sfn_jus_t             mantissa;
    sfn_jus_t             exponent;
    int                   has_exponent;
    sfn_jus_t             integer;
    sfn_jus_t             fraction;
    sfn_jus_t             picture;

    int                  *igroups;
    int                   nigroups;
    int                   regular;
    int                   min_int;
    int                   scaling;
    int                  *fgroups;
    int                   nfgroups;
    int                   min_frac;
    int                   max_frac;
    int                   min_exp;
} sfn_jsubpic_t;


static int
sfn_jdf_is_digit(sfn_jdfmt_t *f, uint32_t c)
{
    return c >= f->zero && c < f->zero + 10;
}


static int
sfn_jdf_active(sfn_jdfmt_t *f, uint32_t c)
{
    return sfn_jdf_is_digit(f, c) || c == f->decimal || c == f->exponent
           || c == f->grouping || c == f->digit || c == f->pattern;
}


static sfn_jus_t
sfn_jus_sub(const sfn_jus_t *s, size_t from, size_t to)
{
    sfn_jus_t  r;

    if (to > s->n) {
        to = s->n;
    }
    if (from > to) {
        from = to;
    }

    r.c = s->c + from;
    r.n = to - from;
    r.cap = r.n;

    return r;
}


static void
sfn_jsplit_parts(sfn_jdfmt_t *f, sfn_jus_t *sp, sfn_jsubpic_t *p)
{
    size_t  i, pre, suf;
    long    epos, dpos;

    p->picture = *sp;

    pre = sp->n;
    for (i = 0; i < sp->n; i++) {
        if (sfn_jdf_active(f, sp->c[i]) && sp->c[i] != f->exponent) {
            pre = i;
            break;
        }
    }

    suf = sp->n;
    for (i = sp->n; i-- > 0; ) {
        if (sfn_jdf_active(f, sp->c[i]) && sp->c[i] != f->exponent) {
            suf = i + 1;
            break;
        }
    }
    if (pre == sp->n) {
        suf = sp->n;
    }

    p->prefix = sfn_jus_sub(sp, 0, pre);
    p->suffix = sfn_jus_sub(sp, suf, sp->n);
    p->active = sfn_jus_sub(sp, pre, suf);

    epos = sfn_jus_index(sp->c, sp->n, f->exponent, pre);
    if (epos < 0 || (size_t) epos > suf) {
        p->mantissa = p->active;
        p->has_exponent = 0;
    } else {
        p->mantissa = sfn_jus_sub(&p->active, 0, epos);
        p->exponent = sfn_jus_sub(&p->active, epos + 1, p->active.n);
        p->has_exponent = 1;
    }

    dpos = sfn_jus_index(p->mantissa.c, p->mantissa.n, f->decimal, 0);
    if (dpos < 0) {
        p->integer = p->mantissa;
        p->fraction = p->suffix;
    } else {
        p->integer = sfn_jus_sub(&p->mantissa, 0, dpos);
        p->fraction = sfn_jus_sub(&p->mantissa, dpos + 1, p->mantissa.n);
    }
}


static int
sfn_jus_count(const sfn_jus_t *s, uint32_t c)
{
    size_t  i;
    int     k;

    for (i = 0, k = 0; i < s->n; i++) {
        k += s->c[i] == c;
    }

    return k;
}


static void
sfn_jvalidate_parts(sfn_jctx_t *ctx, sfn_jdfmt_t *f, sfn_jsubpic_t *p)
{
    size_t       i;
    long         dpos, opos;
    const char  *err;
    sfn_jus_t   *sp;

    err = NULL;
    sp = &p->picture;
    dpos = sfn_jus_index(sp->c, sp->n, f->decimal, 0);

    if (sfn_jus_count(sp, f->decimal) > 1) {
        err = "D3081";
    }
    if (sfn_jus_count(sp, f->percent) > 1) {
        err = "D3082";
    }
    if (sfn_jus_count(sp, f->permille) > 1) {
        err = "D3083";
    }
    if (sfn_jus_count(sp, f->percent) && sfn_jus_count(sp, f->permille)) {
        err = "D3084";
    }

    for (i = 0; i < p->mantissa.n; i++) {
        if (sfn_jdf_is_digit(f, p->mantissa.c[i])
            || p->mantissa.c[i] == f->digit)
        {
            break;
        }
    }
    if (i == p->mantissa.n) {
        err = "D3085";
    }

    for (i = 0; i < p->active.n; i++) {
        if (!sfn_jdf_active(f, p->active.c[i])) {
            err = "D3086";
        }
    }

    if (dpos >= 0) {
        if ((dpos > 0 && sp->c[dpos - 1] == f->grouping)
            || ((size_t) dpos + 1 < sp->n && sp->c[dpos + 1] == f->grouping))
        {
            err = "D3087";
        }
    } else if (p->integer.n > 0
               && p->integer.c[p->integer.n - 1] == f->grouping)
    {
        err = "D3088";
    }

    for (i = 0; i + 1 < sp->n; i++) {
        if (sp->c[i] == f->grouping && sp->c[i + 1] == f->grouping) {
            err = "D3089";
        }
    }

    opos = sfn_jus_index(p->integer.c, p->integer.n, f->digit, 0);
    if (opos >= 0) {
        for (i = 0; i < (size_t) opos; i++) {
            if (sfn_jdf_is_digit(f, p->integer.c[i])) {
                err = "D3090";
            }
        }
    }

    opos = sfn_jus_last(p->fraction.c, p->fraction.n, f->digit);
    if (opos >= 0) {
        for (i = (size_t) opos; i < p->fraction.n; i++) {
            if (sfn_jdf_is_digit(f, p->fraction.c[i])) {
                err = "D3091";
            }
        }
    }

    if (p->has_exponent && p->exponent.n > 0
        && (sfn_jus_count(sp, f->percent) || sfn_jus_count(sp, f->permille)))
    {
        err = "D3092";
    }

    if (p->has_exponent) {
        if (p->exponent.n == 0) {
            err = "D3093";
        }
        for (i = 0; i < p->exponent.n; i++) {
            if (!sfn_jdf_is_digit(f, p->exponent.c[i])) {
                err = "D3093";
            }
        }
    }

    if (err) {
        sfn_jthrow(ctx, err);
    }
}


static int
sfn_jgroup_positions(sfn_jctx_t *ctx, sfn_jdfmt_t *f, sfn_jus_t *part,
    sfn_jus_t *integer, int to_left, int **out)
{
    int     n, *digits;
    long    g;
    size_t  i, at;

    *out = sfn_jalloc(ctx, (part->n + 1) * sizeof(int));
    n = 0;

    /* digits[i]: the part's digits before i */
    digits = sfn_jalloc(ctx, (part->n + 1) * sizeof(int));
    digits[0] = 0;
    for (i = 0; i < part->n; i++) {
        digits[i + 1] = digits[i] + (sfn_jdf_is_digit(f, part->c[i])
                                     || part->c[i] == f->digit);
    }

    g = sfn_jus_index(part->c, part->n, f->grouping, 0);
    while (g >= 0) {
        at = (size_t) g < part->n ? (size_t) g : part->n;
        (*out)[n++] = to_left ? digits[at] : digits[part->n] - digits[at];
        /* jsonata-js looks the next one up in the integer part */
        g = sfn_jus_index(integer->c, integer->n, f->grouping, g + 1);
        if (n > (int) part->n) {
            break;
        }
    }

    return n;
}


static void
sfn_janalyse_parts(sfn_jctx_t *ctx, sfn_jdfmt_t *f, sfn_jsubpic_t *p)
{
    int     factor, k, j;
    char   *seen;
    size_t  i;

    p->nigroups = sfn_jgroup_positions(ctx, f, &p->integer, &p->integer, 0,
                                       &p->igroups);

    factor = 0;
    if (p->nigroups > 0) {
        factor = p->igroups[0];
        for (k = 1; k < p->nigroups; k++) {
            factor = sfn_jgcd(factor, p->igroups[k]);
        }
        seen = sfn_jalloc(ctx, p->nigroups + 1);
        memset(seen, 0, p->nigroups + 1);
        for (j = 0; factor > 0 && j < p->nigroups; j++) {
            if (p->igroups[j] / factor <= p->nigroups) {
                seen[p->igroups[j] / factor] = 1;
            }
        }
        for (k = 1; factor > 0 && k <= p->nigroups; k++) {
            if (!seen[k]) {
                factor = 0;
            }
        }
    }
    p->regular = factor;

    p->nfgroups = sfn_jgroup_positions(ctx, f, &p->fraction, &p->integer, 1,
                                       &p->fgroups);

    p->min_int = 0;
    for (i = 0; i < p->integer.n; i++) {
        p->min_int += sfn_jdf_is_digit(f, p->integer.c[i]);
    }
    p->scaling = p->min_int;

    p->min_frac = 0;
    p->max_frac = 0;
    for (i = 0; i < p->fraction.n; i++) {
        p->min_frac += sfn_jdf_is_digit(f, p->fraction.c[i]);
        p->max_frac += sfn_jdf_is_digit(f, p->fraction.c[i])
                       || p->fraction.c[i] == f->digit;
    }

    if (p->min_int == 0 && p->max_frac == 0) {
        if (p->has_exponent) {
            p->min_frac = 1;
            p->max_frac = 1;
        } else {
            p->min_int = 1;
        }
    }

    if (p->has_exponent && p->min_int == 0
        && sfn_jus_index(p->integer.c, p->integer.n, f->digit, 0) >= 0)
    {
        p->min_int = 1;
    }

    if (p->min_int == 0 && p->min_frac == 0) {
        p->min_frac = 1;
    }

    p->min_exp = 0;
    if (p->has_exponent) {
        for (i = 0; i < p->exponent.n; i++) {
            p->min_exp += sfn_jdf_is_digit(f, p->exponent.c[i]);
        }
    }
}


static uint32_t
sfn_jdf_prop(sfn_jctx_t *ctx, sfn_jv_t *opts, const char *name, uint32_t def)
{
    sfn_jv_t  *v;
    uint32_t   c[8];

    v = sfn_jv_get(opts, name, strlen(name));
    if (v == NULL || v->type != SFN_JV_STRING || v->u.s.len == 0) {
        return def;
    }

    sfn_utf8_decode(v->u.s.data, v->u.s.len > 16 ? 16 : v->u.s.len, c);

    return c[0];
}


SFN_JFN(sfn_jfn_format_number)
{
    int            k, pad;
    char           num[400];
    long           semi, dpos;
    size_t         i, nat, *at;
    double         value, adjusted, mantissa, maxm, minm, rounded;
    int            exponent, has_exp;
    sfn_jv_t      *opts, *mv;
    sfn_jus_t      pic, s, e, out;
    sfn_jdfmt_t    f;
    sfn_jsubpic_t  parts[2], *p;

    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        sfn_jarg_missing(ctx, 2);
    }

    value = a[0]->u.n;
    opts = n > 2 ? a[2] : NULL;

    f.decimal = sfn_jdf_prop(ctx, opts, "decimal-separator", '.');
    f.grouping = sfn_jdf_prop(ctx, opts, "grouping-separator", ',');
    f.exponent = sfn_jdf_prop(ctx, opts, "exponent-separator", 'e');
    f.percent = sfn_jdf_prop(ctx, opts, "percent", '%');
    f.permille = sfn_jdf_prop(ctx, opts, "per-mille", 0x2030);
    f.zero = sfn_jdf_prop(ctx, opts, "zero-digit", '0');
    f.digit = sfn_jdf_prop(ctx, opts, "digit", '#');
    f.pattern = sfn_jdf_prop(ctx, opts, "pattern-separator", ';');

    memset(&f.minus, 0, sizeof(sfn_jus_t));
    mv = sfn_jv_get(opts, "minus-sign", 10);
    if (mv && mv->type == SFN_JV_STRING) {
        f.minus = sfn_jus_of(ctx, mv->u.s.data, mv->u.s.len);
    } else {
        sfn_jus_add(ctx, &f.minus, '-');
    }

    pic = sfn_jus_of(ctx, a[1]->u.s.data, a[1]->u.s.len);

    semi = sfn_jus_index(pic.c, pic.n, f.pattern, 0);
    if (semi >= 0 && sfn_jus_index(pic.c, pic.n, f.pattern, semi + 1) >= 0) {
        sfn_jthrow(ctx, "D3080");
    }

    memset(parts, 0, sizeof(parts));

    if (semi < 0) {
        sfn_jsplit_parts(&f, &pic, &parts[0]);
    } else {
        s = sfn_jus_sub(&pic, 0, semi);
        sfn_jsplit_parts(&f, &s, &parts[0]);
        s = sfn_jus_sub(&pic, semi + 1, pic.n);
        sfn_jsplit_parts(&f, &s, &parts[1]);
    }

    sfn_jvalidate_parts(ctx, &f, &parts[0]);
    sfn_janalyse_parts(ctx, &f, &parts[0]);

    if (semi >= 0) {
        sfn_jvalidate_parts(ctx, &f, &parts[1]);
        sfn_janalyse_parts(ctx, &f, &parts[1]);
    } else {
        parts[1] = parts[0];
        memset(&parts[1].prefix, 0, sizeof(sfn_jus_t));
        for (i = 0; i < f.minus.n; i++) {
            sfn_jus_add(ctx, &parts[1].prefix, f.minus.c[i]);
        }
        for (i = 0; i < parts[0].prefix.n; i++) {
            sfn_jus_add(ctx, &parts[1].prefix, parts[0].prefix.c[i]);
        }
    }

    p = value >= 0 ? &parts[0] : &parts[1];

    if (sfn_jus_count(&p->picture, f.percent)) {
        adjusted = value * 100;
    } else if (sfn_jus_count(&p->picture, f.permille)) {
        adjusted = value * 1000;
    } else {
        adjusted = value;
    }

    exponent = 0;
    has_exp = p->min_exp != 0;
    mantissa = adjusted;

    if (has_exp) {
        maxm = pow(10, p->scaling);
        minm = pow(10, p->scaling - 1);
        for (k = 0; mantissa < minm && k < 400 && mantissa != 0; k++) {
            mantissa *= 10;
            exponent -= 1;
        }
        for (k = 0; mantissa > maxm && k < 400; k++) {
            mantissa /= 10;
            exponent += 1;
        }
    }

    /* round(mantissa, maximumFactionalPartSize), then toFixed */
    {
        char    b1[64], b2[80], *ep;
        int     prec = p->max_frac;
        double  arg = mantissa, r, diff;

        if (prec) {
            sfn_js_number(arg, b1);
            ep = strchr(b1, 'e');
            if (ep) {
                *ep = '\0';
                snprintf(b2, sizeof(b2), "%se%d", b1, atoi(ep + 1) + prec);
            } else {
                snprintf(b2, sizeof(b2), "%se%d", b1, prec);
            }
            arg = strtod(b2, NULL);
        }
        r = floor(arg);
        if (arg - r >= 0.5) {
            r += 1;
        }
        diff = r - arg;
        if (fabs(diff) == 0.5 && fabs(fmod(r, 2)) == 1) {
            r -= 1;
        }
        if (prec) {
            sfn_js_number(r, b1);
            ep = strchr(b1, 'e');
            if (ep) {
                *ep = '\0';
                snprintf(b2, sizeof(b2), "%se%d", b1, atoi(ep + 1) - prec);
            } else {
                snprintf(b2, sizeof(b2), "%se%d", b1, -prec);
            }
            r = strtod(b2, NULL);
        }
        rounded = r == 0 ? 0 : r;
    }

    if (fabs(rounded) >= 1e21 || p->max_frac > 100) {
        sfn_js_number(fabs(rounded), num);
    } else {
        snprintf(num, sizeof(num), "%.*f", p->max_frac, fabs(rounded));
    }

    /* the digits in the zero-digit's family */
    memset(&s, 0, sizeof(sfn_jus_t));
    for (i = 0; num[i]; i++) {
        if (num[i] >= '0' && num[i] <= '9') {
            sfn_jus_add(ctx, &s, f.zero + (uint32_t) (num[i] - '0'));
        } else {
            sfn_jus_add(ctx, &s, (unsigned char) num[i]);
        }
    }

    dpos = sfn_jus_index(s.c, s.n, '.', 0);
    if (dpos < 0) {
        sfn_jus_add(ctx, &s, f.decimal);
    } else {
        s.c[dpos] = f.decimal;
    }

    while (s.n > 0 && s.c[0] == f.zero) {
        s.c++;
        s.n--;
    }
    while (s.n > 0 && s.c[s.n - 1] == f.zero) {
        s.n--;
    }

    dpos = sfn_jus_index(s.c, s.n, f.decimal, 0);
    memset(&out, 0, sizeof(sfn_jus_t));
    for (pad = p->min_int - (int) dpos; pad > 0; pad--) {
        sfn_jus_add(ctx, &out, f.zero);
    }
    for (i = 0; i < s.n; i++) {
        sfn_jus_add(ctx, &out, s.c[i]);
    }
    for (pad = p->min_frac - (int) (s.n - dpos - 1); pad > 0; pad--) {
        sfn_jus_add(ctx, &out, f.zero);
    }
    s = out;

    /* jsonata-js inserts the separators one by one into the growing
       string, each at or right of the one before */
    at = sfn_jalloc(ctx, (s.n + p->nigroups + p->nfgroups + 1)
                         * sizeof(size_t));

    dpos = sfn_jus_index(s.c, s.n, f.decimal, 0);
    nat = 0;
    if (p->regular > 0) {
        for (k = (int) ((dpos - 1) / p->regular); k > 0; k--) {
            at[nat] = dpos - k * p->regular + nat;
            nat++;
        }
    } else {
        for (k = 0; k < p->nigroups; k++) {
            if (dpos + k - p->igroups[k] >= 0) {
                at[nat++] = dpos + k - p->igroups[k];
            }
        }
    }
    sfn_jus_put(ctx, &s, at, nat, f.grouping);

    dpos = sfn_jus_index(s.c, s.n, f.decimal, 0);
    nat = 0;
    for (k = 0; k < p->nfgroups; k++) {
        if ((size_t) (p->fgroups[k] + dpos + 1) <= s.n + nat) {
            at[nat++] = p->fgroups[k] + dpos + 1;
        }
    }
    sfn_jus_put(ctx, &s, at, nat, f.grouping);

    dpos = sfn_jus_index(s.c, s.n, f.decimal, 0);
    if (sfn_jus_index(p->picture.c, p->picture.n, f.decimal, 0) < 0
        || dpos == (long) s.n - 1)
    {
        s.n--;
    }

    if (has_exp) {
        snprintf(num, sizeof(num), "%d", abs(exponent));
        memset(&e, 0, sizeof(sfn_jus_t));
        for (pad = p->min_exp - (int) strlen(num); pad > 0; pad--) {
            sfn_jus_add(ctx, &e, f.zero);
        }
        for (i = 0; num[i]; i++) {
            sfn_jus_add(ctx, &e, f.zero + (uint32_t) (num[i] - '0'));
        }
        sfn_jus_add(ctx, &s, f.exponent);
        if (exponent < 0) {
            for (i = 0; i < f.minus.n; i++) {
                sfn_jus_add(ctx, &s, f.minus.c[i]);
            }
        }
        for (i = 0; i < e.n; i++) {
            sfn_jus_add(ctx, &s, e.c[i]);
        }
    }

    memset(&out, 0, sizeof(sfn_jus_t));
    for (i = 0; i < p->prefix.n; i++) {
        sfn_jus_add(ctx, &out, p->prefix.c[i]);
    }
    for (i = 0; i < s.n; i++) {
        sfn_jus_add(ctx, &out, s.c[i]);
    }
    for (i = 0; i < p->suffix.n; i++) {
        sfn_jus_add(ctx, &out, p->suffix.c[i]);
    }

    return sfn_jus_value(ctx, &out);
}

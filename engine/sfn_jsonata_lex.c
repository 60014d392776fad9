
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata tokenizer, as jsonata-js's: one token per call; "prefix" tells a
 * "/" after an operand (division) from one starting a regex literal.
 */


#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_jsonata_int.h"


static int
sfn_jlex_is_op(char c)
{
    return c != '\0' && strchr(".[]{}(),@#;:?+-*/%|=<>^&!~", c) != NULL;
}


static int
sfn_jlex_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v';
}


static int
sfn_jlex_fail(sfn_jlexer_t *lx, const char *code, size_t pos)
{
    memcpy(lx->code, code, 6);
    lx->err_pos = pos;
    return -1;
}


static int
sfn_jlex_regex(sfn_jlexer_t *lx, sfn_jtoken_t *t)
{
    int          depth;
    char         c;
    size_t       start, pos, bs;
    const char  *p;

    p = lx->src;
    start = lx->pos;
    depth = 0;

    for (pos = start; pos < lx->len; pos++) {
        c = p[pos];

        if (c == '/' && depth == 0) {
            bs = 0;
            while (pos >= start + bs + 1 && p[pos - bs - 1] == '\\') {
                bs++;
            }

            if (bs % 2 == 0) {
                if (pos == start) {
                    return sfn_jlex_fail(lx, "S0301", pos);
                }

                t->type = SFN_JT_REGEX;
                t->str.data = p + start;
                t->str.len = pos - start;
                pos++;
                t->flags.data = p + pos;
                while (pos < lx->len && (p[pos] == 'i' || p[pos] == 'm')) {
                    pos++;
                }
                t->flags.len = p + pos - t->flags.data;
                lx->pos = pos;
                return 0;
            }
        }

        if ((c == '(' || c == '[' || c == '{')
            && (pos == 0 || p[pos - 1] != '\\'))
        {
            depth++;
        }

        if ((c == ')' || c == ']' || c == '}')
            && (pos == 0 || p[pos - 1] != '\\'))
        {
            depth--;
        }
    }

    return sfn_jlex_fail(lx, "S0302", pos);
}


static int
sfn_jlex_hex4(const char *p, size_t avail, unsigned *out)
{
    size_t    i;
    unsigned  v, d;

    if (avail < 4) {
        return -1;
    }

    v = 0;
    for (i = 0; i < 4; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            d = p[i] - '0';
        } else if (p[i] >= 'a' && p[i] <= 'f') {
            d = p[i] - 'a' + 10;
        } else if (p[i] >= 'A' && p[i] <= 'F') {
            d = p[i] - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }

    *out = v;
    return 0;
}


static int
sfn_jlex_string(sfn_jlexer_t *lx, sfn_jtoken_t *t)
{
    char        q, c, *out;
    size_t      n;
    unsigned    cp, lo;
    const char  *p;

    p = lx->src;
    q = p[lx->pos++];
    out = sfn_palloc(lx->pool, lx->len - lx->pos + 1);
    if (out == NULL) {
        return sfn_jlex_fail(lx, "U1000", lx->pos);
    }
    n = 0;

    while (lx->pos < lx->len) {
        c = p[lx->pos];

        if (c == '\\') {
            lx->pos++;
            c = lx->pos < lx->len ? p[lx->pos] : '\0';

            switch (c) {
            case '"': case '\\': case '/':
                out[n++] = c;
                break;
            case 'b': out[n++] = '\b'; break;
            case 'f': out[n++] = '\f'; break;
            case 'n': out[n++] = '\n'; break;
            case 'r': out[n++] = '\r'; break;
            case 't': out[n++] = '\t'; break;

            case 'u':
                if (sfn_jlex_hex4(p + lx->pos + 1, lx->len - lx->pos - 1, &cp)
                    != 0)
                {
                    return sfn_jlex_fail(lx, "S0104", lx->pos);
                }
                lx->pos += 4;

                /* a surrogate pair written as two escapes is one character */
                if (cp >= 0xd800 && cp < 0xdc00
                    && lx->pos + 6 < lx->len + 0
                    && p[lx->pos + 1] == '\\' && p[lx->pos + 2] == 'u'
                    && sfn_jlex_hex4(p + lx->pos + 3, lx->len - lx->pos - 3,
                                     &lo) == 0
                    && lo >= 0xdc00 && lo < 0xe000)
                {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    lx->pos += 6;
                }
                n += sfn_utf8_encode(cp, out + n);
                break;

            default:
                lx->err_token = p + lx->pos;
                lx->err_tlen = lx->pos < lx->len ? 1 : 0;
                return sfn_jlex_fail(lx, "S0103", lx->pos);
            }

        } else if (c == q) {
            lx->pos++;
            out[n] = '\0';
            t->type = SFN_JT_STRING;
            t->str.data = out;
            t->str.len = n;
            return 0;

        } else {
            out[n++] = c;
        }

        lx->pos++;
    }

    return sfn_jlex_fail(lx, "S0101", lx->pos);
}


static int
sfn_jlex_number(sfn_jlexer_t *lx, sfn_jtoken_t *t)
{
    size_t       i, start;
    const char  *p;
    char        *tmp;
    double       d;

    p = lx->src;
    start = lx->pos;
    i = start;

    if (i < lx->len && p[i] == '-') {
        i++;
    }

    if (i >= lx->len || p[i] < '0' || p[i] > '9') {
        return 1;
    }

    if (p[i] == '0') {
        i++;
    } else {
        while (i < lx->len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    }

    if (i + 1 < lx->len && p[i] == '.' && p[i + 1] >= '0' && p[i + 1] <= '9') {
        i++;
        while (i < lx->len && p[i] >= '0' && p[i] <= '9') {
            i++;
        }
    }

    if (i < lx->len && (p[i] == 'e' || p[i] == 'E')) {
        size_t  j = i + 1;

        if (j < lx->len && (p[j] == '+' || p[j] == '-')) {
            j++;
        }
        if (j < lx->len && p[j] >= '0' && p[j] <= '9') {
            while (j < lx->len && p[j] >= '0' && p[j] <= '9') {
                j++;
            }
            i = j;
        }
    }

    tmp = sfn_pstrndup(lx->pool, p + start, i - start);
    if (tmp == NULL) {
        return sfn_jlex_fail(lx, "U1000", start);
    }
    d = strtod(tmp, NULL);

    if (isnan(d) || isinf(d)) {
        lx->err_token = tmp;
        lx->err_tlen = i - start;
        return sfn_jlex_fail(lx, "S0102", start);
    }

    t->type = SFN_JT_NUMBER;
    t->num = d;
    t->str.data = p + start;
    t->str.len = i - start;
    lx->pos = i;
    return 0;
}


/* returns 0 and a token (SFN_JT_END at the end), or -1 with lx->code */

int
sfn_jsonata_lex(sfn_jlexer_t *lx, int prefix, sfn_jtoken_t *t)
{
    int          rc;
    char         c, c1;
    size_t       i, start;
    const char  *p, *end;

    p = lx->src;
    memset(t, 0, sizeof(sfn_jtoken_t));

again:

    while (lx->pos < lx->len && sfn_jlex_is_space(p[lx->pos])) {
        lx->pos++;
    }

    t->position = lx->pos;

    if (lx->pos >= lx->len) {
        t->type = SFN_JT_END;
        return 0;
    }

    c = p[lx->pos];
    c1 = lx->pos + 1 < lx->len ? p[lx->pos + 1] : '\0';

    if (c == '/' && c1 == '*') {
        start = lx->pos;
        lx->pos += 2;
        for ( ;; ) {
            if (lx->pos + 1 >= lx->len) {
                return sfn_jlex_fail(lx, "S0106", start);
            }
            if (p[lx->pos] == '*' && p[lx->pos + 1] == '/') {
                break;
            }
            lx->pos++;
        }
        lx->pos += 2;
        goto again;
    }

    if (!prefix && c == '/') {
        lx->pos++;
        return sfn_jlex_regex(lx, t);
    }

    if ((c == '.' && c1 == '.') || (c == ':' && c1 == '=')
        || (c == '!' && c1 == '=') || (c == '>' && c1 == '=')
        || (c == '<' && c1 == '=') || (c == '*' && c1 == '*')
        || (c == '~' && c1 == '>'))
    {
        t->type = SFN_JT_OPERATOR;
        t->str.data = p + lx->pos;
        t->str.len = 2;
        lx->pos += 2;
        return 0;
    }

    if (sfn_jlex_is_op(c)) {
        t->type = SFN_JT_OPERATOR;
        t->str.data = p + lx->pos;
        t->str.len = 1;
        lx->pos++;
        return 0;
    }

    if (c == '"' || c == '\'') {
        return sfn_jlex_string(lx, t);
    }

    rc = sfn_jlex_number(lx, t);
    if (rc <= 0) {
        return rc;
    }

    if (c == '`') {
        lx->pos++;
        end = memchr(p + lx->pos, '`', lx->len - lx->pos);
        if (end == NULL) {
            lx->pos = lx->len;
            return sfn_jlex_fail(lx, "S0105", lx->len);
        }
        t->type = SFN_JT_NAME;
        t->str.data = p + lx->pos;
        t->str.len = end - (p + lx->pos);
        lx->pos = end - p + 1;
        return 0;
    }

    for (i = lx->pos; ; i++) {
        if (i == lx->len || sfn_jlex_is_space(p[i]) || sfn_jlex_is_op(p[i])) {
            break;
        }
    }

    if (c == '$') {
        t->type = SFN_JT_VARIABLE;
        t->str.data = p + lx->pos + 1;
        t->str.len = i - lx->pos - 1;
        lx->pos = i;
        return 0;
    }

    t->str.data = p + lx->pos;
    t->str.len = i - lx->pos;
    lx->pos = i;

#define sfn_jlex_is(s)                                                        \
    (t->str.len == sizeof(s) - 1 && memcmp(t->str.data, s, t->str.len) == 0)

    if (sfn_jlex_is("or") || sfn_jlex_is("in") || sfn_jlex_is("and")) {
        t->type = SFN_JT_OPERATOR;

    } else if (sfn_jlex_is("true")) {
        t->type = SFN_JT_VALUE;
        t->value = 1;

    } else if (sfn_jlex_is("false")) {
        t->type = SFN_JT_VALUE;
        t->value = 0;

    } else if (sfn_jlex_is("null")) {
        t->type = SFN_JT_VALUE;
        t->value = -1;

    } else if (t->str.len == 0) {
        /* a character no token starts with */
        lx->err_token = p + lx->pos;
        lx->err_tlen = lx->pos < lx->len ? 1 : 0;
        return sfn_jlex_fail(lx, "S0204", lx->pos);

    } else {
        t->type = SFN_JT_NAME;
    }

#undef sfn_jlex_is

    return 0;
}

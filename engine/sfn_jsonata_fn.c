
/*
 * Copyright (C) ngx_sfn authors
 *
 * The JSONata function library as jsonata-js 2.0.6 has it: the table of
 * builtins with their signatures, argument validation against a
 * signature, and the string, numeric, aggregation, boolean, array, object
 * and higher-order functions; regexes run on PCRE2 with JavaScript's
 * options.  Date/time and number pictures are in sfn_jsonata_time.c.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "sfn_jsonata_int.h"


#define SFN_JFN(name)                                                         \
    static sfn_jv_t *name(sfn_jctx_t *ctx, sfn_jv_t **a, int n,               \
        sfn_jv_t *input, sfn_jenv_t *env)


static size_t
sfn_jlen(sfn_jv_t *a)
{
    return a->u.a->n;
}


static sfn_jv_t *
sfn_jat(sfn_jv_t *a, size_t i)
{
    return a->u.a->v[i];
}


static int
sfn_jis_str(sfn_jv_t *v)
{
    return v != NULL && v->type == SFN_JV_STRING;
}


/* regexes */

pcre2_code *
sfn_jregex_compile(const char *pat, size_t len, const char *flags,
    size_t flen, pcre2_general_context *gctx)
{
    int                     err;
    size_t                  i;
    uint32_t                opts;
    PCRE2_SIZE              off;
    pcre2_code             *re;
    pcre2_compile_context  *cctx;

    opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ALT_BSUX
           | PCRE2_DOLLAR_ENDONLY | PCRE2_ALLOW_EMPTY_CLASS
           | PCRE2_MATCH_UNSET_BACKREF;

    for (i = 0; i < flen; i++) {
        if (flags[i] == 'i') {
            opts |= PCRE2_CASELESS;
        } else if (flags[i] == 'm') {
            opts |= PCRE2_MULTILINE;
        }
    }

    cctx = pcre2_compile_context_create(gctx);
    if (cctx == NULL) {
        return NULL;
    }

    pcre2_set_compile_extra_options(cctx, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_parens_nest_limit(cctx, 250);

    re = pcre2_compile((PCRE2_SPTR) pat, len, opts, &err, &off, cctx);
    pcre2_compile_context_free(cctx);

    return re;
}


/* returns the number of pairs in ov (group 0 first), 0 for no match */

int
sfn_jregex_exec(sfn_jctx_t *ctx, pcre2_code *re, const char *s, size_t len,
    size_t from, size_t *ov, int *ngroups)
{
    int                rc, i;
    uint32_t           count;
    PCRE2_SIZE        *v;
    pcre2_match_data  *md;

    if (from > len) {
        return 0;
    }

    md = pcre2_match_data_create_from_pattern(re, sfn_jpcre(ctx));
    if (md == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    rc = pcre2_match(re, (PCRE2_SPTR) s, len, from, 0, md, ctx->mctx);
    if (rc <= 0) {
        return 0;
    }

    pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &count);
    if (count + 1 > 64) {
        count = 63;
    }

    v = pcre2_get_ovector_pointer(md);
    for (i = 0; i < (int) count + 1; i++) {
        if (i < rc) {
            ov[2 * i] = v[2 * i];
            ov[2 * i + 1] = v[2 * i + 1];
        } else {
            ov[2 * i] = PCRE2_UNSET;
            ov[2 * i + 1] = PCRE2_UNSET;
        }
    }

    *ngroups = (int) count + 1;

    return 1;
}


/* signatures */

static char
sfn_jsym(const sfn_jv_t *v)
{
    if (v == NULL) {
        return 'm';
    }

    switch (v->type) {
    case SFN_JV_FUNCTION: return 'f';
    case SFN_JV_STRING: return 's';
    case SFN_JV_NUMBER: return 'n';
    case SFN_JV_BOOL: return 'b';
    case SFN_JV_NULL: return 'l';
    case SFN_JV_ARRAY: return 'a';
    default: return 'o';
    }
}


static int
sfn_jsig_in(const sfn_jparam_t *p, char c)
{
    return c != '\0' && strchr(p->set, c) != NULL;
}


/* ^(p1)(p2)..$ with backtracking; upto < n: the prefix p1..p(upto) */

static int
sfn_jsig_match(const sfn_jsig_t *sig, int pi, int upto, const char *s,
    size_t len, size_t pos, size_t *gs, size_t *gl, size_t *end)
{
    size_t               k, max;
    const sfn_jparam_t  *p;

    if (pi == upto) {
        if (upto == sig->n && pos != len) {
            return 0;
        }
        *end = pos;
        return 1;
    }

    p = &sig->params[pi];

    max = 0;
    while (pos + max < len && sfn_jsig_in(p, s[pos + max])) {
        max++;
        if (p->quant != '+') {
            break;
        }
    }

    for (k = max + 1; k-- > 0; ) {
        if (k == 0 && p->quant == 0) {
            break;
        }
        if (k == 0 && p->quant == '+') {
            break;
        }
        gs[pi] = pos;
        gl[pi] = k;
        if (sfn_jsig_match(sig, pi + 1, upto, s, len, pos + k, gs, gl, end)) {
            return 1;
        }
    }

    return 0;
}


static void __attribute__((noreturn))
sfn_jsig_fail(sfn_jctx_t *ctx, const sfn_jsig_t *sig, sfn_jv_t **args,
    int nargs, const char *s, size_t len, size_t *gs, size_t *gl)
{
    int     i;
    size_t  good, end;

    good = 0;

    for (i = 0; i < sig->n; i++) {
        if (!sfn_jsig_match(sig, 0, i + 1, s, len, 0, gs, gl, &end)) {
            break;
        }
        good = end;
    }

    ctx->value = (int) good < nargs ? args[good] : NULL;
    ctx->index = (int) good + 1;
    sfn_jthrow(ctx, "T0410");
}


sfn_jv_t *
sfn_jsonata_validate(sfn_jctx_t *ctx, sfn_jsig_t *sig, sfn_jv_t **args,
    int nargs, sfn_jv_t *context, sfn_jv_t ***out, int *nout)
{
    int                  i, idx, ok;
    char                *s, ctype, single;
    size_t               k, end, *gs, *gl, j;
    sfn_jv_t            *arg, **v, *wrap;
    const sfn_jparam_t  *p;

    /*
     * an argument a parameter, each of its type: the match the regex would
     * find, the arguments as they are
     */
    if (nargs == sig->n) {
        for (i = 0; i < nargs; i++) {
            p = &sig->params[i];
            ctype = sfn_jsym(args[i]);

            if (p->quant == '+' || !sfn_jsig_in(p, ctype)
                || (p->type == 'a' && (ctype != 'a' || p->subtype.len)))
            {
                break;
            }
        }

        if (i == nargs) {
            *out = args;
            *nout = nargs;
            return NULL;
        }
    }

    s = sfn_jalloc(ctx, nargs + 1);
    for (i = 0; i < nargs; i++) {
        s[i] = sfn_jsym(args[i]);
    }
    s[nargs] = '\0';

    gs = sfn_jalloc(ctx, (sig->n + 1) * sizeof(size_t));
    gl = sfn_jalloc(ctx, (sig->n + 1) * sizeof(size_t));

    if (!sfn_jsig_match(sig, 0, sig->n, s, nargs, 0, gs, gl, &end)) {
        sfn_jsig_fail(ctx, sig, args, nargs, s, nargs, gs, gl);
    }

    v = sfn_jalloc(ctx, (nargs + sig->n + 1) * sizeof(sfn_jv_t *));
    *nout = 0;
    idx = 0;

    for (i = 0; i < sig->n; i++) {
        p = &sig->params[i];
        arg = idx < nargs ? args[idx] : NULL;

        if (gl[i] == 0) {
            if (p->context) {
                ctype = sfn_jsym(context);
                if (!sfn_jsig_in(p, ctype)) {
                    ctx->value = context;
                    ctx->index = idx + 1;
                    sfn_jthrow(ctx, "T0411");
                }
                v[(*nout)++] = context;
            } else {
                v[(*nout)++] = arg;
                idx++;
            }
            continue;
        }

        for (k = 0; k < gl[i]; k++) {
            single = s[gs[i] + k];
            arg = idx < nargs ? args[idx] : NULL;

            if (p->type != 'a') {
                v[(*nout)++] = arg;
                idx++;
                continue;
            }

            if (single == 'm') {
                arg = NULL;

            } else {
                ok = 1;
                if (p->subtype.len) {
                    if (single != 'a') {
                        if (gl[i] != p->subtype.len
                            || memcmp(s + gs[i], p->subtype.data, gl[i]) != 0)
                        {
                            ok = 0;
                        }
                    } else if (sfn_jlen(arg) > 0) {
                        char  it = sfn_jsym(sfn_jat(arg, 0));

                        if (it != p->subtype.data[0]) {
                            ok = 0;
                        } else {
                            for (j = 0; j < sfn_jlen(arg); j++) {
                                if (sfn_jsym(sfn_jat(arg, j)) != it) {
                                    ok = 0;
                                    break;
                                }
                            }
                        }
                    }
                }

                if (!ok) {
                    ctx->value = arg;
                    ctx->index = idx + 1;
                    switch (p->subtype.data[0]) {
                    case 'a': ctx->type = "arrays"; break;
                    case 'b': ctx->type = "booleans"; break;
                    case 'f': ctx->type = "functions"; break;
                    case 'n': ctx->type = "numbers"; break;
                    case 'o': ctx->type = "objects"; break;
                    case 's': ctx->type = "strings"; break;
                    default: ctx->type = NULL;
                    }
                    sfn_jthrow(ctx, "T0412");
                }

                if (single != 'a') {
                    wrap = sfn_jv_array(ctx, 0);
                    sfn_jv_push(ctx, wrap, arg);
                    arg = wrap;
                }
            }

            v[(*nout)++] = arg;
            idx++;
        }
    }

    *out = v;

    return NULL;
}


/*
 * A required argument that is undefined where jsonata-js would fail with a
 * JavaScript TypeError: a signature mismatch instead.
 */

void
sfn_jarg_missing(sfn_jctx_t *ctx, int index)
{
    ctx->index = index;
    ctx->value = NULL;
    sfn_jthrow(ctx, "T0410");
}


/* strings */

sfn_jv_t *
sfn_jfn_string(sfn_jctx_t *ctx, sfn_jv_t *v)
{
    if (v == NULL) {
        return NULL;
    }

    if (v->type == SFN_JV_STRING) {
        return v;
    }

    if (v->type == SFN_JV_FUNCTION) {
        return sfn_jv_string(ctx, "", 0);
    }

    if (v->type == SFN_JV_NUMBER && (isinf(v->u.n) || isnan(v->u.n))) {
        sfn_jthrow_v(ctx, "D3001", v);
    }

    return sfn_jv_to_string(ctx, v, 0);
}


SFN_JFN(sfn_jfn_string_)
{
    if (a[0] == NULL) {
        return NULL;
    }

    if (a[0]->type == SFN_JV_STRING || a[0]->type == SFN_JV_FUNCTION
        || a[0]->type == SFN_JV_NUMBER)
    {
        return sfn_jfn_string(ctx, a[0]);
    }

    return sfn_jv_to_string(ctx, a[0], n > 1 && a[1] && a[1]->u.b);
}


static uint32_t *
sfn_jchars(sfn_jctx_t *ctx, sfn_jv_t *s, size_t *n)
{
    uint32_t  *c;

    c = sfn_jalloc(ctx, (s->u.s.len + 1) * sizeof(uint32_t));
    *n = sfn_utf8_decode(s->u.s.data, s->u.s.len, c);

    return c;
}


static sfn_jv_t *
sfn_jfrom_chars(sfn_jctx_t *ctx, const uint32_t *c, size_t n)
{
    size_t     i, len;
    char      *p;
    sfn_jv_t  *v;

    p = sfn_jalloc(ctx, n * 4 + 1);
    len = 0;
    for (i = 0; i < n; i++) {
        len += sfn_utf8_encode(c[i], p + len);
    }

    v = sfn_jalloc(ctx, sizeof(sfn_jv_t));
    p[len] = '\0';
    v->type = SFN_JV_STRING;
    v->flags = 0;
    v->u.s.data = p;
    v->u.s.len = len;

    return v;
}


/* Array.prototype.slice's index */

static size_t
sfn_jslice_index(double i, size_t len)
{
    if (isnan(i)) {
        return 0;
    }

    i = trunc(i);

    if (i < 0) {
        i += (double) len;
        return i < 0 ? 0 : (size_t) i;
    }

    return i > (double) len ? len : (size_t) i;
}


SFN_JFN(sfn_jfn_substring)
{
    size_t     len, s, e;
    double     start, length, end;
    uint32_t  *c;

    if (a[0] == NULL) {
        return NULL;
    }

    c = sfn_jchars(ctx, a[0], &len);
    start = a[1] ? a[1]->u.n : 0;

    if ((double) len + start < 0) {
        start = 0;
    }

    if (n > 2 && a[2] != NULL) {
        length = a[2]->u.n;
        if (length <= 0) {
            return sfn_jv_string(ctx, "", 0);
        }
        end = start >= 0 ? start + length : (double) len + start + length;
        s = sfn_jslice_index(start, len);
        e = sfn_jslice_index(end, len);
    } else {
        s = sfn_jslice_index(start, len);
        e = len;
    }

    if (e <= s) {
        return sfn_jv_string(ctx, "", 0);
    }

    return sfn_jfrom_chars(ctx, c + s, e - s);
}


static const char *
sfn_jmemmem(const char *h, size_t hl, const char *n, size_t nl)
{
    size_t  i;

    if (nl == 0) {
        return h;
    }

    for (i = 0; i + nl <= hl; i++) {
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) {
            return h + i;
        }
    }

    return NULL;
}


SFN_JFN(sfn_jfn_substring_before)
{
    const char  *p;

    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        return a[0];
    }

    p = sfn_jmemmem(a[0]->u.s.data, a[0]->u.s.len, a[1]->u.s.data,
                    a[1]->u.s.len);
    if (p == NULL) {
        return a[0];
    }

    return sfn_jv_string(ctx, a[0]->u.s.data, p - a[0]->u.s.data);
}


SFN_JFN(sfn_jfn_substring_after)
{
    const char  *p;

    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        return a[0];
    }

    p = sfn_jmemmem(a[0]->u.s.data, a[0]->u.s.len, a[1]->u.s.data,
                    a[1]->u.s.len);
    if (p == NULL) {
        return a[0];
    }

    p += a[1]->u.s.len;

    return sfn_jv_string(ctx, p, a[0]->u.s.data + a[0]->u.s.len - p);
}


static uint32_t
sfn_jcase(uint32_t c, int upper)
{
    if (upper) {
        if ((c >= 'a' && c <= 'z') || (c >= 0xe0 && c <= 0xfe && c != 0xf7)
            || (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2)
            || (c >= 0x430 && c <= 0x44f))
        {
            return c - 32;
        }
        if (c >= 0x450 && c <= 0x45f) {
            return c - 80;
        }
        return c;
    }

    if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7)
        || (c >= 0x391 && c <= 0x3a9) || (c >= 0x410 && c <= 0x42f))
    {
        return c + 32;
    }

    if (c >= 0x400 && c <= 0x40f) {
        return c + 80;
    }

    return c;
}


static sfn_jv_t *
sfn_jconvert_case(sfn_jctx_t *ctx, sfn_jv_t *s, int upper)
{
    size_t     i, n;
    uint32_t  *c;

    if (s == NULL) {
        return NULL;
    }

    c = sfn_jchars(ctx, s, &n);
    for (i = 0; i < n; i++) {
        c[i] = sfn_jcase(c[i], upper);
    }

    return sfn_jfrom_chars(ctx, c, n);
}


SFN_JFN(sfn_jfn_lowercase)
{
    return sfn_jconvert_case(ctx, a[0], 0);
}


SFN_JFN(sfn_jfn_uppercase)
{
    return sfn_jconvert_case(ctx, a[0], 1);
}


SFN_JFN(sfn_jfn_length)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jv_number(ctx, (double) sfn_utf8_count(a[0]->u.s.data,
                                                      a[0]->u.s.len));
}


SFN_JFN(sfn_jfn_trim)
{
    char        *p;
    size_t       i, k, len;
    const char  *s;

    if (a[0] == NULL) {
        return NULL;
    }

    s = a[0]->u.s.data;
    len = a[0]->u.s.len;
    p = sfn_jalloc(ctx, len + 1);
    k = 0;

    for (i = 0; i < len; ) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
            while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n'
                               || s[i] == '\r'))
            {
                i++;
            }
            p[k++] = ' ';
        } else {
            p[k++] = s[i++];
        }
    }

    i = 0;
    if (k > 0 && p[0] == ' ') {
        i = 1;
    }
    if (k > i && p[k - 1] == ' ') {
        k--;
    }

    return sfn_jv_string(ctx, p + i, k - i);
}


SFN_JFN(sfn_jfn_pad)
{
    size_t     len, clen, plen, i;
    double     width;
    uint32_t  *s, *c, *out;
    sfn_jv_t  *chr;

    if (a[0] == NULL) {
        return NULL;
    }

    chr = n > 2 ? a[2] : NULL;
    if (chr == NULL || chr->u.s.len == 0) {
        chr = sfn_jv_string(ctx, " ", 1);
    }

    if (a[1] == NULL) {
        return a[0];
    }

    s = sfn_jchars(ctx, a[0], &len);
    c = sfn_jchars(ctx, chr, &clen);
    width = trunc(fabs(a[1]->u.n));

    if (!(width > (double) len)) {
        return a[0];
    }

    if (width > 1e8) {
        sfn_jthrow(ctx, "U1000");
    }

    plen = (size_t) width - len;
    out = sfn_jalloc(ctx, (plen + len) * sizeof(uint32_t));

    if (a[1]->u.n > 0) {
        memcpy(out, s, len * sizeof(uint32_t));
        for (i = 0; i < plen; i++) {
            out[len + i] = c[i % clen];
        }
    } else {
        for (i = 0; i < plen; i++) {
            out[i] = c[i % clen];
        }
        memcpy(out + plen, s, len * sizeof(uint32_t));
    }

    return sfn_jfrom_chars(ctx, out, plen + len);
}


/* matchers: a regex, or any function returning jsonata's match object */

static sfn_jv_t *
sfn_jmatcher(sfn_jctx_t *ctx, sfn_jv_t *fn, sfn_jv_t *str, sfn_jenv_t *env)
{
    sfn_jv_t  *r, *start, *groups, *next;

    r = sfn_jcall(ctx, fn, &str, str ? 1 : 0, env);

    if (r != NULL) {
        start = sfn_jv_get(r, "start", 5);
        groups = sfn_jv_get(r, "groups", 6);
        next = sfn_jv_get(r, "next", 4);
        if (!(start && start->type == SFN_JV_NUMBER)
            && !sfn_jv_is_array(groups) && !sfn_jv_is_func(next))
        {
            sfn_jthrow(ctx, "T1010");
        }
    }

    return r;
}


static sfn_jv_t *
sfn_jmatch_next(sfn_jctx_t *ctx, sfn_jv_t *m, sfn_jenv_t *env)
{
    sfn_jv_t  *next;

    next = sfn_jv_get(m, "next", 4);
    if (next == NULL) {
        sfn_jthrow(ctx, "T1006");
    }

    return sfn_jmatcher(ctx, next, NULL, env);
}


static double
sfn_jmatch_num(sfn_jv_t *m, const char *k)
{
    sfn_jv_t  *v;

    v = sfn_jv_get(m, k, strlen(k));

    /* a matcher function may answer anything: an index in range */
    if (v == NULL || v->type != SFN_JV_NUMBER || !(v->u.n >= 0)) {
        return 0;
    }

    return v->u.n < 1e15 ? floor(v->u.n) : 1e15;
}


static sfn_jv_t *
sfn_jmatch_str(sfn_jctx_t *ctx, sfn_jv_t *m, const char *k)
{
    sfn_jv_t  *v;

    v = sfn_jv_get(m, k, strlen(k));

    return v && v->type == SFN_JV_STRING ? v : sfn_jv_string(ctx, "", 0);
}


SFN_JFN(sfn_jfn_contains)
{
    if (a[0] == NULL) {
        return NULL;
    }

    if (a[1] == NULL) {
        sfn_jarg_missing(ctx, 2);
    }

    if (sfn_jis_str(a[1])) {
        return sfn_jv_bool(sfn_jmemmem(a[0]->u.s.data, a[0]->u.s.len,
                                       a[1]->u.s.data, a[1]->u.s.len)
                           != NULL);
    }

    return sfn_jv_bool(sfn_jmatcher(ctx, a[1], a[0], env) != NULL);
}


SFN_JFN(sfn_jfn_match)
{
    double     limit, count;
    sfn_jv_t  *result, *m, *o, *groups;

    if (a[0] == NULL) {
        return NULL;
    }

    limit = n > 2 && a[2] ? a[2]->u.n : -1;
    if (n > 2 && a[2] && limit < 0) {
        ctx->value = a[2];
        sfn_jthrow(ctx, "D3040");
    }

    result = sfn_jv_array(ctx, SFN_JV_SEQ);

    if (limit != 0) {
        count = 0;
        m = sfn_jmatcher(ctx, a[1], a[0], env);
        while (m != NULL && (limit < 0 || count < limit)) {
            o = sfn_jv_object(ctx);
            sfn_jv_set(ctx, o, "match", 5, sfn_jmatch_str(ctx, m, "match"));
            sfn_jv_set(ctx, o, "index", 5,
                       sfn_jv_number(ctx, sfn_jmatch_num(m, "start")));
            groups = sfn_jv_get(m, "groups", 6);
            sfn_jv_set(ctx, o, "groups", 6,
                       groups ? groups : sfn_jv_array(ctx, 0));
            sfn_jv_push(ctx, result, o);
            m = sfn_jmatch_next(ctx, m, env);
            count++;
        }
    }

    return result;
}


static void
sfn_jbuf_chars(sfn_jsb_t *b, const char *s, size_t len, size_t from,
    size_t to)
{
    size_t  f, t;

    if (to <= from) {
        return;
    }

    f = sfn_utf8_offset(s, len, from);
    t = sfn_utf8_offset(s, len, to);
    sfn_jsb_add(b, s + f, t - f);
}


/* the string form of a replacement: $0, $1.., $$ */

static sfn_jv_t *
sfn_jsubstitute(sfn_jctx_t *ctx, sfn_jv_t *repl, sfn_jv_t *m)
{
    size_t       pos, len, digits, ng, idx, used;
    sfn_jsb_t    b;
    sfn_jv_t    *groups, *sub;
    const char  *r, *d;

    r = repl->u.s.data;
    len = repl->u.s.len;
    groups = sfn_jv_get(m, "groups", 6);
    ng = sfn_jv_is_array(groups) ? sfn_jlen(groups) : 0;
    sfn_jsb_init(ctx, &b);

    pos = 0;
    while (pos < len) {
        d = memchr(r + pos, '$', len - pos);
        if (d == NULL) {
            break;
        }

        sfn_jsb_add(&b, r + pos, d - (r + pos));
        pos = d - r + 1;

        if (pos < len && r[pos] == '$') {
            sfn_jsb_addc(&b, '$');
            pos++;
            continue;
        }

        if (pos < len && r[pos] == '0') {
            sub = sfn_jmatch_str(ctx, m, "match");
            sfn_jsb_add(&b, sub->u.s.data, sub->u.s.len);
            pos++;
            continue;
        }

        digits = ng == 0 ? 1 : (size_t) floor(log10((double) ng)) + 1;

        idx = 0;
        used = 0;
        while (used < digits && pos + used < len
               && r[pos + used] >= '0' && r[pos + used] <= '9')
        {
            idx = idx * 10 + (r[pos + used] - '0');
            used++;
        }

        if (digits > 1 && idx > ng && used > 1) {
            idx /= 10;
            used--;
        }

        if (used == 0) {
            sfn_jsb_addc(&b, '$');
            continue;
        }

        if (ng > 0 && idx >= 1 && idx <= ng) {
            sub = sfn_jat(groups, idx - 1);
            if (sfn_jis_str(sub)) {
                sfn_jsb_add(&b, sub->u.s.data, sub->u.s.len);
            }
        }

        /* parseInt's number, printed again */
        {
            char  num[24];

            pos += (size_t) snprintf(num, sizeof(num), "%zu", idx);
        }
    }

    if (pos < len) {
        sfn_jsb_add(&b, r + pos, len - pos);
    }

    return sfn_jsb_value(&b);
}


SFN_JFN(sfn_jfn_replace)
{
    double       limit, count;
    size_t       position, start, slen;
    sfn_jsb_t    b;
    sfn_jv_t    *str, *pattern, *repl, *m, *with, *match;
    const char  *s, *p;

    str = a[0];
    if (str == NULL) {
        return NULL;
    }

    pattern = a[1];
    repl = a[2];

    if (sfn_jis_str(pattern) && pattern->u.s.len == 0) {
        ctx->value = pattern;
        sfn_jthrow(ctx, "D3010");
    }

    limit = n > 3 && a[3] ? a[3]->u.n : -1;
    if (n > 3 && a[3] && limit < 0) {
        ctx->value = a[3];
        sfn_jthrow(ctx, "D3011");
    }

    if (limit == 0) {
        return str;
    }

    s = str->u.s.data;
    slen = str->u.s.len;
    sfn_jsb_init(ctx, &b);
    count = 0;

    if (sfn_jis_str(pattern)) {
        position = 0;
        while ((limit < 0 || count < limit)
               && (p = sfn_jmemmem(s + position, slen - position,
                                   pattern->u.s.data, pattern->u.s.len)))
        {
            sfn_jsb_add(&b, s + position, p - (s + position));
            if (sfn_jis_str(repl)) {
                sfn_jsb_add(&b, repl->u.s.data, repl->u.s.len);
            }
            position = p - s + pattern->u.s.len;
            count++;
        }
        sfn_jsb_add(&b, s + position, slen - position);
        return sfn_jsb_value(&b);
    }

    m = sfn_jmatcher(ctx, pattern, str, env);
    if (m == NULL) {
        return str;
    }

    position = 0;
    while (m != NULL && (limit < 0 || count < limit)) {
        start = (size_t) sfn_jmatch_num(m, "start");
        sfn_jbuf_chars(&b, s, slen, position, start);

        if (sfn_jis_str(repl)) {
            with = sfn_jsubstitute(ctx, repl, m);
        } else {
            with = sfn_jcall(ctx, repl, &m, 1, env);
        }

        if (!sfn_jis_str(with)) {
            sfn_jthrow_v(ctx, "D3012", with);
        }

        sfn_jsb_add(&b, with->u.s.data, with->u.s.len);
        match = sfn_jmatch_str(ctx, m, "match");
        position = start + sfn_utf8_count(match->u.s.data, match->u.s.len);
        count++;
        m = sfn_jmatch_next(ctx, m, env);
    }

    sfn_jbuf_chars(&b, s, slen, position, sfn_utf8_count(s, slen));

    return sfn_jsb_value(&b);
}


SFN_JFN(sfn_jfn_split)
{
    double       limit, count;
    size_t       i, nc, start, mstart, slen;
    uint32_t    *c;
    sfn_jsb_t    b;
    sfn_jv_t    *result, *str, *sep, *m;
    const char  *s, *p;

    str = a[0];
    if (str == NULL) {
        return NULL;
    }

    sep = a[1];
    limit = n > 2 && a[2] ? a[2]->u.n : -1;
    if (limit > 0 && sfn_jis_str(sep)) {
        /* String.prototype.split's ToUint32 */
        limit = trunc(limit);
    }
    if (n > 2 && a[2] && limit < 0) {
        ctx->value = a[2];
        sfn_jthrow(ctx, "D3020");
    }

    result = sfn_jv_array(ctx, 0);
    if (limit == 0) {
        return result;
    }

    s = str->u.s.data;
    slen = str->u.s.len;
    count = 0;

    if (sfn_jis_str(sep)) {
        if (sep->u.s.len == 0) {
            c = sfn_jchars(ctx, str, &nc);
            for (i = 0; i < nc && (limit < 0 || (double) i < limit); i++) {
                sfn_jv_push(ctx, result, sfn_jfrom_chars(ctx, c + i, 1));
            }
            return result;
        }

        start = 0;
        for ( ;; ) {
            if (limit >= 0 && count >= limit) {
                break;
            }
            p = sfn_jmemmem(s + start, slen - start, sep->u.s.data,
                            sep->u.s.len);
            if (p == NULL) {
                sfn_jv_push(ctx, result,
                            sfn_jv_string(ctx, s + start, slen - start));
                break;
            }
            sfn_jv_push(ctx, result,
                        sfn_jv_string(ctx, s + start, p - (s + start)));
            count++;
            start = p - s + sep->u.s.len;
        }
        return result;
    }

    m = sfn_jmatcher(ctx, sep, str, env);
    if (m == NULL) {
        sfn_jv_push(ctx, result, str);
        return result;
    }

    start = 0;
    while (m != NULL && (limit < 0 || count < limit)) {
        mstart = (size_t) sfn_jmatch_num(m, "start");
        sfn_jsb_init(ctx, &b);
        sfn_jbuf_chars(&b, s, slen, start, mstart);
        sfn_jv_push(ctx, result, sfn_jsb_value(&b));
        start = (size_t) sfn_jmatch_num(m, "end");
        m = sfn_jmatch_next(ctx, m, env);
        count++;
    }

    if (limit < 0 || count < limit) {
        sfn_jsb_init(ctx, &b);
        sfn_jbuf_chars(&b, s, slen, start, sfn_utf8_count(s, slen));
        sfn_jv_push(ctx, result, sfn_jsb_value(&b));
    }

    return result;
}


SFN_JFN(sfn_jfn_join)
{
    size_t     i;
    sfn_jsb_t  b;
    sfn_jv_t  *sep, *s;

    if (a[0] == NULL) {
        return NULL;
    }

    sep = n > 1 ? a[1] : NULL;
    sfn_jsb_init(ctx, &b);

    for (i = 0; i < sfn_jlen(a[0]); i++) {
        if (i && sep) {
            sfn_jsb_add(&b, sep->u.s.data, sep->u.s.len);
        }
        s = sfn_jat(a[0], i);
        if (sfn_jis_str(s)) {
            sfn_jsb_add(&b, s->u.s.data, s->u.s.len);
        }
    }

    return sfn_jsb_value(&b);
}


/* numbers */

static double
sfn_jmath_round(double x)
{
    double  r;

    r = floor(x);
    if (x - r >= 0.5) {
        r += 1;
    }

    return r;
}


/* fn.round: half to even, at a precision through the exponent */

static double
sfn_jround(double arg, double precision)
{
    int     prec;
    char    num[48], buf[64], *e;
    double  result, diff;

    if (!isfinite(arg)) {
        return arg;
    }

    prec = isnan(precision) ? 0 : precision > 400 ? 400
           : precision < -400 ? -400 : (int) precision;

    if (prec) {
        sfn_js_number(arg, num);
        e = strchr(num, 'e');
        if (e) {
            *e = '\0';
            snprintf(buf, sizeof(buf), "%se%d", num, atoi(e + 1) + prec);
        } else {
            snprintf(buf, sizeof(buf), "%se%d", num, prec);
        }
        arg = strtod(buf, NULL);
    }

    result = sfn_jmath_round(arg);
    diff = result - arg;

    if (fabs(diff) == 0.5 && fabs(fmod(result, 2)) == 1) {
        result -= 1;
    }

    if (prec) {
        sfn_js_number(result, num);
        e = strchr(num, 'e');
        if (e) {
            *e = '\0';
            snprintf(buf, sizeof(buf), "%se%d", num, atoi(e + 1) - prec);
        } else {
            snprintf(buf, sizeof(buf), "%se%d", num, -prec);
        }
        result = strtod(buf, NULL);
    }

    if (result == 0) {
        result = 0;
    }

    return result;
}


SFN_JFN(sfn_jfn_round)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jv_number(ctx, sfn_jround(a[0]->u.n,
                                         n > 1 && a[1] ? a[1]->u.n : 0));
}


SFN_JFN(sfn_jfn_format_base)
{
    int       neg, k;
    char      buf[80], *p;
    double    v, radix;
    uint64_t  u;

    if (a[0] == NULL) {
        return NULL;
    }

    v = sfn_jround(a[0]->u.n, 0);
    radix = n > 1 && a[1] ? sfn_jround(a[1]->u.n, 0) : 10;

    if (radix < 2 || radix > 36) {
        sfn_jthrow_v(ctx, "D3100", sfn_jv_number(ctx, radix));
    }

    neg = v < 0;
    v = fabs(v);
    if (!(v < 1.8e19)) {
        sfn_js_number(neg ? -v : v, buf);
        return sfn_jv_strz(ctx, buf);
    }

    u = (uint64_t) v;
    p = buf + sizeof(buf) - 1;
    *p = '\0';
    do {
        k = (int) (u % (uint64_t) radix);
        *--p = (char) (k < 10 ? '0' + k : 'a' + k - 10);
        u /= (uint64_t) radix;
    } while (u);

    if (neg) {
        *--p = '-';
    }

    return sfn_jv_strz(ctx, p);
}


static int
sfn_jnumber_text(const char *s, size_t len, double *out)
{
    size_t  i;
    char   *end, *tmp;
    int     base;

    i = 0;
    if (i < len && s[i] == '-') {
        i++;
    }

    /* ^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$ */
    if (i < len && s[i] >= '0' && s[i] <= '9'
        && !(len > 2 && s[0] == '0' && strchr("xXoObB", s[1])))
    {
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }
        if (i < len && s[i] == '.') {
            i++;
            if (i >= len || s[i] < '0' || s[i] > '9') {
                return -1;
            }
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                i++;
            }
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < len && (s[i] == '+' || s[i] == '-')) {
                i++;
            }
            if (i >= len || s[i] < '0' || s[i] > '9') {
                return -1;
            }
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                i++;
            }
        }
        if (i != len) {
            return -1;
        }
        *out = strtod(s, NULL);
        return isinf(*out) ? -1 : 0;
    }

    /* 0x.., 0o.., 0b.. */
    if (len > 2 && s[0] == '0') {
        base = (s[1] == 'x' || s[1] == 'X') ? 16
               : (s[1] == 'o' || s[1] == 'O') ? 8
               : (s[1] == 'b' || s[1] == 'B') ? 2 : 0;
        if (base) {
            tmp = strndup(s + 2, len - 2);
            if (tmp == NULL) {
                return -1;
            }
            *out = (double) strtoull(tmp, &end, base);
            i = *end == '\0';
            free(tmp);
            return i ? 0 : -1;
        }
    }

    return -1;
}


SFN_JFN(sfn_jfn_number)
{
    double  d;

    if (a[0] == NULL) {
        return NULL;
    }

    switch (a[0]->type) {
    case SFN_JV_NUMBER:
        return a[0];
    case SFN_JV_BOOL:
        return sfn_jv_number(ctx, a[0]->u.b ? 1 : 0);
    case SFN_JV_STRING:
        if (sfn_jnumber_text(a[0]->u.s.data, a[0]->u.s.len, &d) == 0) {
            return sfn_jv_number(ctx, d);
        }
        /* fall through */
    default:
        ctx->index = 1;
        sfn_jthrow_v(ctx, "D3030", a[0]);
    }
}


SFN_JFN(sfn_jfn_abs)
{
    return a[0] ? sfn_jv_number(ctx, fabs(a[0]->u.n)) : NULL;
}


SFN_JFN(sfn_jfn_floor)
{
    return a[0] ? sfn_jv_number(ctx, floor(a[0]->u.n)) : NULL;
}


SFN_JFN(sfn_jfn_ceil)
{
    return a[0] ? sfn_jv_number(ctx, ceil(a[0]->u.n)) : NULL;
}


SFN_JFN(sfn_jfn_sqrt)
{
    if (a[0] == NULL) {
        return NULL;
    }

    if (a[0]->u.n < 0) {
        ctx->index = 1;
        sfn_jthrow_v(ctx, "D3060", a[0]);
    }

    return sfn_jv_number(ctx, sqrt(a[0]->u.n));
}


SFN_JFN(sfn_jfn_power)
{
    double  r;

    if (a[0] == NULL) {
        return NULL;
    }

    r = pow(a[0]->u.n, a[1] ? a[1]->u.n : NAN);

    if (isinf(r) || isnan(r)) {
        ctx->value2 = a[1];
        sfn_jthrow_v(ctx, "D3061", a[0]);
    }

    return sfn_jv_number(ctx, r);
}


static double
sfn_jrandom(sfn_jctx_t *ctx)
{
    uint64_t  x;

    /* xorshift64*, seeded per evaluation */
    x = ctx->seed;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ctx->seed = x;

    return (double) ((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}


SFN_JFN(sfn_jfn_random)
{
    return sfn_jv_number(ctx, sfn_jrandom(ctx));
}


/* aggregation */

SFN_JFN(sfn_jfn_sum)
{
    size_t  i;
    double  t;

    if (a[0] == NULL) {
        return NULL;
    }

    t = 0;
    for (i = 0; i < sfn_jlen(a[0]); i++) {
        t += sfn_jat(a[0], i)->u.n;
    }

    return sfn_jv_number(ctx, t);
}


SFN_JFN(sfn_jfn_count)
{
    return sfn_jv_number(ctx, a[0] ? (double) sfn_jlen(a[0]) : 0);
}


static sfn_jv_t *
sfn_jextreme(sfn_jctx_t *ctx, sfn_jv_t *arr, int max)
{
    size_t  i;
    double  r, v;

    if (arr == NULL || sfn_jlen(arr) == 0) {
        return NULL;
    }

    r = max ? -INFINITY : INFINITY;
    for (i = 0; i < sfn_jlen(arr); i++) {
        v = sfn_jat(arr, i)->u.n;
        if (isnan(v)) {
            return sfn_jv_number(ctx, NAN);
        }
        if (max ? v > r : v < r) {
            r = v;
        }
    }

    return sfn_jv_number(ctx, r);
}


SFN_JFN(sfn_jfn_max)
{
    return sfn_jextreme(ctx, a[0], 1);
}


SFN_JFN(sfn_jfn_min)
{
    return sfn_jextreme(ctx, a[0], 0);
}


SFN_JFN(sfn_jfn_average)
{
    size_t  i;
    double  t;

    if (a[0] == NULL || sfn_jlen(a[0]) == 0) {
        return NULL;
    }

    t = 0;
    for (i = 0; i < sfn_jlen(a[0]); i++) {
        t += sfn_jat(a[0], i)->u.n;
    }

    return sfn_jv_number(ctx, t / (double) sfn_jlen(a[0]));
}


/* boolean */

SFN_JFN(sfn_jfn_boolean)
{
    int  b;

    /* jsonata-js passes a function argument as a JavaScript closure */
    if (sfn_jv_is_func(a[0])) {
        return &sfn_jv_false;
    }

    b = sfn_jv_boolean(ctx, a[0]);

    return b < 0 ? NULL : sfn_jv_bool(b);
}


SFN_JFN(sfn_jfn_not)
{
    int  b;

    if (sfn_jv_is_func(a[0])) {
        return &sfn_jv_true;
    }

    b = sfn_jv_boolean(ctx, a[0]);

    return b < 0 ? NULL : sfn_jv_bool(!b);
}


SFN_JFN(sfn_jfn_exists)
{
    return sfn_jv_bool(a[0] != NULL);
}


/* higher order */

SFN_JFN(sfn_jfn_map)
{
    size_t     i;
    sfn_jv_t  *result, *r;

    if (a[0] == NULL) {
        return NULL;
    }

    result = sfn_jv_array(ctx, SFN_JV_SEQ);

    for (i = 0; i < sfn_jlen(a[0]); i++) {
        r = sfn_jhof_call(ctx, a[1], sfn_jat(a[0], i),
                          sfn_jv_number(ctx, (double) i), a[0], env);
        if (r != NULL) {
            sfn_jv_push(ctx, result, r);
        }
    }

    return result;
}


SFN_JFN(sfn_jfn_filter)
{
    size_t     i;
    sfn_jv_t  *result, *r;

    if (a[0] == NULL) {
        return NULL;
    }

    result = sfn_jv_array(ctx, SFN_JV_SEQ);

    for (i = 0; i < sfn_jlen(a[0]); i++) {
        r = sfn_jhof_call(ctx, a[1], sfn_jat(a[0], i),
                          sfn_jv_number(ctx, (double) i), a[0], env);
        if (sfn_jv_boolean(ctx, r) == 1) {
            sfn_jv_push(ctx, result, sfn_jat(a[0], i));
        }
    }

    return result;
}


SFN_JFN(sfn_jfn_single)
{
    int        found, ok;
    size_t     i;
    sfn_jv_t  *result, *r;

    if (a[0] == NULL) {
        return NULL;
    }

    found = 0;
    result = NULL;

    for (i = 0; i < sfn_jlen(a[0]); i++) {
        ok = 1;
        if (n > 1 && a[1] != NULL) {
            r = sfn_jhof_call(ctx, a[1], sfn_jat(a[0], i),
                              sfn_jv_number(ctx, (double) i), a[0], env);
            ok = sfn_jv_boolean(ctx, r) == 1;
        }
        if (ok) {
            if (found) {
                ctx->index = (int) i;
                sfn_jthrow(ctx, "D3138");
            }
            result = sfn_jat(a[0], i);
            found = 1;
        }
    }

    if (!found) {
        sfn_jthrow(ctx, "D3139");
    }

    return result;
}


SFN_JFN(sfn_jfn_zip)
{
    int        k;
    size_t     i, len;
    sfn_jv_t  *result, *tuple;

    result = sfn_jv_array(ctx, 0);
    if (n == 0) {
        return result;
    }

    len = (size_t) -1;
    for (k = 0; k < n; k++) {
        if (a[k] == NULL || a[k]->type != SFN_JV_ARRAY) {
            len = 0;
        } else if (sfn_jlen(a[k]) < len) {
            len = sfn_jlen(a[k]);
        }
    }

    for (i = 0; i < len; i++) {
        tuple = sfn_jv_array(ctx, 0);
        for (k = 0; k < n; k++) {
            sfn_jv_push(ctx, tuple, sfn_jat(a[k], i));
        }
        sfn_jv_push(ctx, result, tuple);
    }

    return result;
}


SFN_JFN(sfn_jfn_reduce)
{
    int        arity, k;
    size_t     i;
    sfn_jv_t  *result, *args[4];

    if (a[0] == NULL) {
        return NULL;
    }

    arity = sfn_jfn_arity(a[1]);
    if (arity < 2) {
        ctx->index = 1;
        sfn_jthrow(ctx, "D3050");
    }

    if ((n < 3 || a[2] == NULL) && sfn_jlen(a[0]) > 0) {
        result = sfn_jat(a[0], 0);
        i = 1;
    } else {
        result = n > 2 ? a[2] : NULL;
        i = 0;
    }

    for ( ; i < sfn_jlen(a[0]); i++) {
        k = 0;
        args[k++] = result;
        args[k++] = sfn_jat(a[0], i);
        if (arity >= 3) {
            args[k++] = sfn_jv_number(ctx, (double) i);
        }
        if (arity >= 4) {
            args[k++] = a[0];
        }
        result = sfn_jcall(ctx, a[1], args, k, env);
    }

    return result;
}


SFN_JFN(sfn_jfn_sift)
{
    size_t     i;
    sfn_jv_t  *result, *r, *o;

    o = a[0];
    if (o == NULL || o->type != SFN_JV_OBJECT) {
        return NULL;
    }

    if (a[1] == NULL) {
        sfn_jarg_missing(ctx, 2);
    }

    result = sfn_jv_object(ctx);

    for (i = 0; i < o->u.o->n; i++) {
        r = sfn_jhof_call(ctx, a[1], o->u.o->v[i],
                          sfn_jv_string(ctx, o->u.o->k[i].data,
                                        o->u.o->k[i].len),
                          o, env);
        if (sfn_jv_boolean(ctx, r) == 1) {
            sfn_jv_set(ctx, result, o->u.o->k[i].data, o->u.o->k[i].len,
                       o->u.o->v[i]);
        }
    }

    return result->u.o->n ? result : NULL;
}


SFN_JFN(sfn_jfn_each)
{
    size_t     i;
    sfn_jv_t  *result, *r, *o;

    result = sfn_jv_array(ctx, SFN_JV_SEQ);
    o = a[0];
    if (o == NULL || o->type != SFN_JV_OBJECT) {
        return result;
    }

    for (i = 0; i < o->u.o->n; i++) {
        r = sfn_jhof_call(ctx, a[1], o->u.o->v[i],
                          sfn_jv_string(ctx, o->u.o->k[i].data,
                                        o->u.o->k[i].len),
                          o, env);
        if (r != NULL) {
            sfn_jv_push(ctx, result, r);
        }
    }

    return result;
}


/* objects and arrays */

static void
sfn_jkeys_into(sfn_jctx_t *ctx, sfn_jv_t *v, sfn_jv_t *merge)
{
    size_t  i;

    if (v == NULL) {
        return;
    }

    if (v->type == SFN_JV_ARRAY) {
        for (i = 0; i < sfn_jlen(v); i++) {
            sfn_jkeys_into(ctx, sfn_jat(v, i), merge);
        }

    } else if (v->type == SFN_JV_OBJECT) {
        for (i = 0; i < v->u.o->n; i++) {
            sfn_jv_set(ctx, merge, v->u.o->k[i].data, v->u.o->k[i].len,
                       &sfn_jv_true);
        }
    }
}


SFN_JFN(sfn_jfn_keys)
{
    size_t     i;
    sfn_jv_t  *merge, *result;

    merge = sfn_jv_object(ctx);
    sfn_jkeys_into(ctx, a[0], merge);

    result = sfn_jv_array(ctx, SFN_JV_SEQ);
    for (i = 0; i < merge->u.o->n; i++) {
        sfn_jv_push(ctx, result, sfn_jv_string(ctx, merge->u.o->k[i].data,
                                               merge->u.o->k[i].len));
    }

    return result;
}


SFN_JFN(sfn_jfn_lookup)
{
    if (a[1] == NULL) {
        return NULL;
    }

    return sfn_jlookup(ctx, a[0], a[1]->u.s.data, a[1]->u.s.len);
}


SFN_JFN(sfn_jfn_append)
{
    return sfn_jv_append(ctx, a[0], a[1]);
}


static sfn_jv_t *
sfn_jspread(sfn_jctx_t *ctx, sfn_jv_t *arg)
{
    size_t     i;
    sfn_jv_t  *result, *o;

    if (arg && arg->type == SFN_JV_ARRAY) {
        result = sfn_jv_array(ctx, SFN_JV_SEQ);
        for (i = 0; i < sfn_jlen(arg); i++) {
            result = sfn_jv_append(ctx, result, sfn_jspread(ctx,
                                                            sfn_jat(arg, i)));
        }
        return result;
    }

    if (arg && arg->type == SFN_JV_OBJECT) {
        result = sfn_jv_array(ctx, SFN_JV_SEQ);
        for (i = 0; i < arg->u.o->n; i++) {
            o = sfn_jv_object(ctx);
            sfn_jv_set(ctx, o, arg->u.o->k[i].data, arg->u.o->k[i].len,
                       arg->u.o->v[i]);
            sfn_jv_push(ctx, result, o);
        }
        return result;
    }

    return arg;
}


SFN_JFN(sfn_jfn_spread)
{
    return sfn_jspread(ctx, a[0]);
}


SFN_JFN(sfn_jfn_merge)
{
    size_t     i, k;
    sfn_jv_t  *result, *o;

    if (a[0] == NULL) {
        return NULL;
    }

    result = sfn_jv_object(ctx);

    for (i = 0; i < sfn_jlen(a[0]); i++) {
        o = sfn_jat(a[0], i);
        if (o == NULL || o->type != SFN_JV_OBJECT) {
            continue;
        }
        for (k = 0; k < o->u.o->n; k++) {
            sfn_jv_set(ctx, result, o->u.o->k[k].data, o->u.o->k[k].len,
                       o->u.o->v[k]);
        }
    }

    return result;
}


SFN_JFN(sfn_jfn_reverse)
{
    size_t     i, len;
    sfn_jv_t  *result;

    if (a[0] == NULL) {
        return NULL;
    }

    len = sfn_jlen(a[0]);
    if (len <= 1) {
        return a[0];
    }

    result = sfn_jv_array(ctx, 0);
    for (i = len; i-- > 0; ) {
        sfn_jv_push(ctx, result, sfn_jat(a[0], i));
    }

    return result;
}


SFN_JFN(sfn_jfn_error)
{
    ctx->message = (a[0] && a[0]->type == SFN_JV_STRING && a[0]->u.s.len)
                   ? sfn_pstrndup(ctx->pool, a[0]->u.s.data, a[0]->u.s.len)
                   : "$error() function evaluated";
    sfn_jthrow(ctx, "D3137");
}


SFN_JFN(sfn_jfn_assert)
{
    if (a[0] == NULL || !a[0]->u.b) {
        ctx->message = (n > 1 && a[1] && a[1]->u.s.len)
                       ? sfn_pstrndup(ctx->pool, a[1]->u.s.data,
                                      a[1]->u.s.len)
                       : "$assert() statement failed";
        sfn_jthrow(ctx, "D3141");
    }

    return NULL;
}


SFN_JFN(sfn_jfn_type)
{
    if (a[0] == NULL) {
        return NULL;
    }

    switch (a[0]->type) {
    case SFN_JV_NULL: return sfn_jv_strz(ctx, "null");
    case SFN_JV_NUMBER: return sfn_jv_strz(ctx, "number");
    case SFN_JV_STRING: return sfn_jv_strz(ctx, "string");
    case SFN_JV_BOOL: return sfn_jv_strz(ctx, "boolean");
    case SFN_JV_ARRAY: return sfn_jv_strz(ctx, "array");
    case SFN_JV_FUNCTION: return sfn_jv_strz(ctx, "function");
    default: return sfn_jv_strz(ctx, "object");
    }
}


SFN_JFN(sfn_jfn_sort)
{
    size_t     i;
    int        nums, strs;
    sfn_jv_t  *arr, *v;

    arr = a[0];
    if (arr == NULL) {
        return NULL;
    }

    if (sfn_jlen(arr) <= 1) {
        return arr;
    }

    if (n < 2 || a[1] == NULL) {
        nums = 1;
        strs = 1;
        for (i = 0; i < sfn_jlen(arr); i++) {
            v = sfn_jat(arr, i);
            if (!sfn_jv_is_numeric(ctx, v)) {
                nums = 0;
            }
            if (!sfn_jis_str(v)) {
                strs = 0;
            }
        }
        if (!nums && !strs) {
            ctx->index = 1;
            sfn_jthrow(ctx, "D3070");
        }
        return sfn_jsort(ctx, arr, NULL, NULL, env);
    }

    return sfn_jsort(ctx, arr, a[1], NULL, env);
}


SFN_JFN(sfn_jfn_shuffle)
{
    size_t     i, j, len;
    sfn_jv_t  *result;

    if (a[0] == NULL) {
        return NULL;
    }

    len = sfn_jlen(a[0]);
    if (len <= 1) {
        return a[0];
    }

    result = sfn_jv_array(ctx, 0);
    for (i = 0; i < len; i++) {
        sfn_jv_push(ctx, result, NULL);
    }

    for (i = 0; i < len; i++) {
        j = (size_t) floor(sfn_jrandom(ctx) * (double) (i + 1));
        if (i != j) {
            result->u.a->v[i] = result->u.a->v[j];
        }
        result->u.a->v[j] = sfn_jat(a[0], i);
    }

    return result;
}


SFN_JFN(sfn_jfn_distinct)
{
    size_t     i, j;
    int        seen;
    sfn_jv_t  *arr, *result;

    arr = a[0];
    if (arr == NULL) {
        return NULL;
    }

    if (arr->type != SFN_JV_ARRAY || sfn_jlen(arr) <= 1) {
        return arr;
    }

    result = sfn_jv_array(ctx, arr->flags & SFN_JV_SEQ);

    for (i = 0; i < sfn_jlen(arr); i++) {
        seen = 0;
        for (j = 0; j < sfn_jlen(result); j++) {
            if (sfn_jv_deep_equal(sfn_jat(arr, i), sfn_jat(result, j))) {
                seen = 1;
                break;
            }
        }
        if (!seen) {
            sfn_jv_push(ctx, result, sfn_jat(arr, i));
        }
    }

    return result;
}


/* encodings */

SFN_JFN(sfn_jfn_base64encode)
{
    char           *out;
    size_t          i, nc;
    uint32_t       *c;
    unsigned char  *bytes;

    if (a[0] == NULL) {
        return NULL;
    }

    c = sfn_jchars(ctx, a[0], &nc);
    bytes = sfn_jalloc(ctx, nc + 1);
    for (i = 0; i < nc; i++) {
        bytes[i] = (unsigned char) (c[i] & 0xff);
    }

    out = sfn_jalloc(ctx, (nc + 2) / 3 * 4 + 1);
    nc = sfn_base64_encode(bytes, nc, out);

    return sfn_jv_string(ctx, out, nc);
}


SFN_JFN(sfn_jfn_base64decode)
{
    size_t          i, k, len;
    uint32_t       *c;
    unsigned char  *bytes;
    char           *clean;
    const char     *s;

    if (a[0] == NULL) {
        return NULL;
    }

    /* Buffer.from(s, 'base64') skips what is not base64 */
    s = a[0]->u.s.data;
    clean = sfn_jalloc(ctx, a[0]->u.s.len + 4);
    for (i = 0, k = 0; i < a[0]->u.s.len; i++) {
        if ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')
            || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/')
        {
            clean[k++] = s[i];
        }
    }
    while (k % 4) {
        clean[k++] = '=';
    }

    bytes = sfn_jalloc(ctx, k / 4 * 3 + 1);
    if (sfn_base64_decode(clean, k, bytes, &len) != 0) {
        len = 0;
    }

    c = sfn_jalloc(ctx, (len + 1) * sizeof(uint32_t));
    for (i = 0; i < len; i++) {
        c[i] = bytes[i];
    }

    return sfn_jfrom_chars(ctx, c, len);
}


static sfn_jv_t *
sfn_jurl_encode(sfn_jctx_t *ctx, sfn_jv_t *s, const char *keep,
    const char *fname)
{
    size_t      i, nc, k, n;
    uint32_t   *c;
    char        u[4];
    sfn_jsb_t   b;

    c = sfn_jchars(ctx, s, &nc);
    sfn_jsb_init(ctx, &b);

    for (i = 0; i < nc; i++) {
        if (c[i] < 0x80
            && ((c[i] >= 'A' && c[i] <= 'Z') || (c[i] >= 'a' && c[i] <= 'z')
                || (c[i] >= '0' && c[i] <= '9') || strchr(keep, (int) c[i])))
        {
            sfn_jsb_addc(&b, (char) c[i]);
            continue;
        }

        if (c[i] >= 0xd800 && c[i] < 0xe000) {
            ctx->token = fname;
            sfn_jthrow_v(ctx, "D3140", s);
        }

        n = sfn_utf8_encode(c[i], u);
        for (k = 0; k < n; k++) {
            sfn_jsb_printf(&b, "%%%02X", (unsigned char) u[k]);
        }
    }

    return sfn_jsb_value(&b);
}


SFN_JFN(sfn_jfn_encode_url_component)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jurl_encode(ctx, a[0], "-_.!~*'()", "encodeUrlComponent");
}


SFN_JFN(sfn_jfn_encode_url)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jurl_encode(ctx, a[0], "-_.!~*'();/?:@&=+$,#",
                           "encodeUrl");
}


static int
sfn_jhex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


static sfn_jv_t *
sfn_jurl_decode(sfn_jctx_t *ctx, sfn_jv_t *sv, const char *reserved,
    const char *fname)
{
    int            h, l;
    size_t         i, k, need, len;
    uint32_t       cp;
    sfn_jsb_t      b;
    const char    *s;
    unsigned char  bytes[4];

    s = sv->u.s.data;
    len = sv->u.s.len;
    sfn_jsb_init(ctx, &b);

    for (i = 0; i < len; ) {
        if (s[i] != '%') {
            sfn_jsb_addc(&b, s[i++]);
            continue;
        }

        if (i + 2 >= len + 0 || (h = sfn_jhex(s[i + 1])) < 0
            || (l = sfn_jhex(s[i + 2])) < 0)
        {
            goto malformed;
        }

        bytes[0] = (unsigned char) (h * 16 + l);

        if (bytes[0] < 0x80) {
            if (strchr(reserved, bytes[0]) && bytes[0]) {
                sfn_jsb_add(&b, s + i, 3);
            } else {
                sfn_jsb_addc(&b, (char) bytes[0]);
            }
            i += 3;
            continue;
        }

        need = (bytes[0] & 0xe0) == 0xc0 ? 1 : (bytes[0] & 0xf0) == 0xe0 ? 2
               : (bytes[0] & 0xf8) == 0xf0 ? 3 : 0;
        if (need == 0) {
            goto malformed;
        }

        cp = bytes[0] & (0x3f >> need);
        for (k = 1; k <= need; k++) {
            size_t  j = i + 3 * k;

            if (j + 2 >= len + 0 || s[j] != '%' || (h = sfn_jhex(s[j + 1])) < 0
                || (l = sfn_jhex(s[j + 2])) < 0)
            {
                goto malformed;
            }
            bytes[k] = (unsigned char) (h * 16 + l);
            if ((bytes[k] & 0xc0) != 0x80) {
                goto malformed;
            }
            cp = (cp << 6) | (bytes[k] & 0x3f);
        }

        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800)
            || (need == 3 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp < 0xe000))
        {
            goto malformed;
        }

        sfn_jsb_add(&b, (char *) bytes, need + 1);
        i += 3 * (need + 1);
    }

    return sfn_jsb_value(&b);

malformed:

    ctx->token = fname;
    sfn_jthrow_v(ctx, "D3140", sv);
}


SFN_JFN(sfn_jfn_decode_url_component)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jurl_decode(ctx, a[0], "", "decodeUrlComponent");
}


SFN_JFN(sfn_jfn_decode_url)
{
    if (a[0] == NULL) {
        return NULL;
    }

    return sfn_jurl_decode(ctx, a[0], ";/?:@&=+$,#", "decodeUrl");
}


SFN_JFN(sfn_jfn_millis)
{
    return sfn_jv_number(ctx, (double) ctx->now);
}


/* the table, by name */

static sfn_jbuiltin_t  sfn_jbuiltins[] = {
    { "abs", "<n-:n>", sfn_jfn_abs, 1, NULL },
    { "append", "<xx:a>", sfn_jfn_append, 2, NULL },
    { "assert", "<bs?:x>", sfn_jfn_assert, 2, NULL },
    { "average", "<a<n>:n>", sfn_jfn_average, 1, NULL },
    { "base64decode", "<s-:s>", sfn_jfn_base64decode, 1, NULL },
    { "base64encode", "<s-:s>", sfn_jfn_base64encode, 1, NULL },
    { "boolean", "<x-:b>", sfn_jfn_boolean, 1, NULL },
    { "ceil", "<n-:n>", sfn_jfn_ceil, 1, NULL },
    { "clone", "<(oa)-:o>", sfn_jfn_clone, 1, NULL },
    { "contains", "<s-(sf):b>", sfn_jfn_contains, 2, NULL },
    { "count", "<a:n>", sfn_jfn_count, 1, NULL },
    { "decodeUrl", "<s-:s>", sfn_jfn_decode_url, 1, NULL },
    { "decodeUrlComponent", "<s-:s>", sfn_jfn_decode_url_component, 1, NULL },
    { "distinct", "<x:x>", sfn_jfn_distinct, 1, NULL },
    { "each", "<o-f:a>", sfn_jfn_each, 2, NULL },
    { "encodeUrl", "<s-:s>", sfn_jfn_encode_url, 1, NULL },
    { "encodeUrlComponent", "<s-:s>", sfn_jfn_encode_url_component, 1, NULL },
    { "error", "<s?:x>", sfn_jfn_error, 1, NULL },
    { "exists", "<x:b>", sfn_jfn_exists, 1, NULL },
    { "filter", "<af>", sfn_jfn_filter, 2, NULL },
    { "floor", "<n-:n>", sfn_jfn_floor, 1, NULL },
    { "formatBase", "<n-n?:s>", sfn_jfn_format_base, 2, NULL },
    { "formatInteger", "<n-s:s>", sfn_jfn_format_integer, 2, NULL },
    { "formatNumber", "<n-so?:s>", sfn_jfn_format_number, 3, NULL },
    { "fromMillis", "<n-s?s?:s>", sfn_jfn_from_millis, 3, NULL },
    { "join", "<a<s>s?:s>", sfn_jfn_join, 2, NULL },
    { "keys", "<x-:a<s>>", sfn_jfn_keys, 1, NULL },
    { "length", "<s-:n>", sfn_jfn_length, 1, NULL },
    { "lookup", "<x-s:x>", sfn_jfn_lookup, 2, NULL },
    { "lowercase", "<s-:s>", sfn_jfn_lowercase, 1, NULL },
    { "map", "<af>", sfn_jfn_map, 2, NULL },
    { "match", "<s-f<s:o>n?:a<o>>", sfn_jfn_match, 3, NULL },
    { "max", "<a<n>:n>", sfn_jfn_max, 1, NULL },
    { "merge", "<a<o>:o>", sfn_jfn_merge, 1, NULL },
    { "millis", "<:n>", sfn_jfn_millis, 0, NULL },
    { "min", "<a<n>:n>", sfn_jfn_min, 1, NULL },
    { "not", "<x-:b>", sfn_jfn_not, 1, NULL },
    { "now", "<s?s?:s>", sfn_jfn_now, 2, NULL },
    { "number", "<(nsb)-:n>", sfn_jfn_number, 1, NULL },
    { "pad", "<s-ns?:s>", sfn_jfn_pad, 3, NULL },
    { "parseInteger", "<s-s:n>", sfn_jfn_parse_integer, 2, NULL },
    { "power", "<n-n:n>", sfn_jfn_power, 2, NULL },
    { "random", "<:n>", sfn_jfn_random, 0, NULL },
    { "reduce", "<afj?:j>", sfn_jfn_reduce, 3, NULL },
    { "replace", "<s-(sf)(sf)n?:s>", sfn_jfn_replace, 4, NULL },
    { "reverse", "<a:a>", sfn_jfn_reverse, 1, NULL },
    { "round", "<n-n?:n>", sfn_jfn_round, 2, NULL },
    { "shuffle", "<a:a>", sfn_jfn_shuffle, 1, NULL },
    { "sift", "<o-f?:o>", sfn_jfn_sift, 2, NULL },
    { "single", "<af?>", sfn_jfn_single, 2, NULL },
    { "sort", "<af?:a>", sfn_jfn_sort, 2, NULL },
    { "split", "<s-(sf)n?:a<s>>", sfn_jfn_split, 3, NULL },
    { "spread", "<x-:a<o>>", sfn_jfn_spread, 1, NULL },
    { "sqrt", "<n-:n>", sfn_jfn_sqrt, 1, NULL },
    { "string", "<x-b?:s>", sfn_jfn_string_, 1, NULL },
    { "substring", "<s-nn?:s>", sfn_jfn_substring, 3, NULL },
    { "substringAfter", "<s-s:s>", sfn_jfn_substring_after, 2, NULL },
    { "substringBefore", "<s-s:s>", sfn_jfn_substring_before, 2, NULL },
    { "sum", "<a<n>:n>", sfn_jfn_sum, 1, NULL },
    { "toMillis", "<s-s?:n>", sfn_jfn_to_millis, 2, NULL },
    { "trim", "<s-:s>", sfn_jfn_trim, 1, NULL },
    { "type", "<x:s>", sfn_jfn_type, 1, NULL },
    { "uppercase", "<s-:s>", sfn_jfn_uppercase, 1, NULL },
    { "zip", "<a+>", sfn_jfn_zip, 0, NULL }
};


static sfn_pool_t  sfn_jbuiltin_pool;


/* the signatures are parsed once, on the first compile */

int
sfn_jsonata_builtins_init(void)
{
    char     code[8];
    size_t   i, off;

    if (sfn_jbuiltins[0].sig != NULL) {
        return 0;
    }

    for (i = 0; i < sfn_nelems(sfn_jbuiltins); i++) {
        sfn_jbuiltins[i].sig = sfn_jsonata_signature(&sfn_jbuiltin_pool,
                                   sfn_jbuiltins[i].signature,
                                   strlen(sfn_jbuiltins[i].signature),
                                   code, &off);
        if (sfn_jbuiltins[i].sig == NULL) {
            return -1;
        }
    }

    return 0;
}


sfn_jbuiltin_t *
sfn_jsonata_builtin(const char *name, size_t len)
{
    int     lo, hi, mid, c;
    size_t  n;

    lo = 0;
    hi = (int) sfn_nelems(sfn_jbuiltins) - 1;

    while (lo <= hi) {
        mid = (lo + hi) / 2;
        n = strlen(sfn_jbuiltins[mid].name);
        c = strncmp(sfn_jbuiltins[mid].name, name, len < n ? len : n);
        if (c == 0) {
            c = n < len ? -1 : n > len;
        }
        if (c == 0) {
            return &sfn_jbuiltins[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }

    return NULL;
}

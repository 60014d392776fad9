
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONPath as Step Functions evaluates it (Jayway semantics): "$" or "$$"
 * roots, .name, ['name'], [n] with negative n, [*], .*, [a:b:c] slices,
 * unions, ..deep scans, [?(filter)] and .length().  A path made only of
 * names and indexes is definite: it yields one value or fails; any other
 * path yields a list, possibly empty.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"


typedef enum {
    SFN_SEG_FIELD = 0,
    SFN_SEG_INDEX,
    SFN_SEG_WILD,
    SFN_SEG_SLICE,
    SFN_SEG_FIELDS,
    SFN_SEG_INDEXES,
    SFN_SEG_DEEP,
    SFN_SEG_FILTER,
    SFN_SEG_LENGTH
} sfn_seg_type_e;


typedef struct sfn_seg_s     sfn_seg_t;
typedef struct sfn_filter_s  sfn_filter_t;


struct sfn_seg_s {
    sfn_seg_type_e        type;
    const char           *name;
    int64_t               index;
    int64_t               start;
    int64_t               end;
    int64_t               step;
    unsigned              has_start:1;
    unsigned              has_end:1;
    const char          **names;
    int64_t              *indexes;
    size_t                n;
    sfn_seg_t            *inner;
    sfn_filter_t         *filter;
};


struct sfn_path_s {
    const char           *text;
    const char           *var;        /* "$name": the variable's name */
    sfn_seg_t            *segs;
    size_t                nsegs;
    unsigned              context:1;
    unsigned              definite:1;
};


typedef enum {
    SFN_F_OR = 0,
    SFN_F_AND,
    SFN_F_NOT,
    SFN_F_EXISTS,
    SFN_F_CMP
} sfn_filter_type_e;


typedef enum {
    SFN_CMP_EQ = 0,
    SFN_CMP_NE,
    SFN_CMP_LT,
    SFN_CMP_LE,
    SFN_CMP_GT,
    SFN_CMP_GE
} sfn_cmp_e;


typedef struct {
    sfn_path_t           *path;       /* relative (@) or absolute ($) */
    unsigned              relative:1;
    cJSON                *literal;
} sfn_operand_t;


struct sfn_filter_s {
    sfn_filter_type_e     type;
    sfn_cmp_e             cmp;
    sfn_filter_t         *a;
    sfn_filter_t         *b;
    sfn_operand_t         l;
    sfn_operand_t         r;
};


typedef struct {
    sfn_pool_t           *pool;
    const char           *p;
    const char           *last;
    char                 *err;
    size_t                errlen;
    int                   failed;
    int                   depth;
} sfn_pparse_t;


typedef struct {
    const cJSON         **v;
    size_t                n;
    size_t                cap;
    int                   failed;
} sfn_nodes_t;


static sfn_path_t *sfn_path_parse(sfn_pparse_t *pp, int relative);
static sfn_filter_t *sfn_filter_parse_or(sfn_pparse_t *pp);


static void
sfn_pp_fail(sfn_pparse_t *pp, const char *msg)
{
    if (!pp->failed) {
        snprintf(pp->err, pp->errlen, "%s", msg);
    }

    pp->failed = 1;
}


static void
sfn_pp_ws(sfn_pparse_t *pp)
{
    while (pp->p < pp->last && (*pp->p == ' ' || *pp->p == '\t')) {
        pp->p++;
    }
}


static int
sfn_pp_int(sfn_pparse_t *pp, int64_t *out)
{
    int      neg, any;
    int64_t  v;

    sfn_pp_ws(pp);

    neg = 0;
    if (pp->p < pp->last && *pp->p == '-') {
        neg = 1;
        pp->p++;
    }

    v = 0;
    any = 0;

    while (pp->p < pp->last && *pp->p >= '0' && *pp->p <= '9') {
        if (v > 100000000000LL) {
            sfn_pp_fail(pp, "index too large");
            return -1;
        }
        v = v * 10 + (*pp->p - '0');
        pp->p++;
        any = 1;
    }

    sfn_pp_ws(pp);

    if (!any) {
        return -1;
    }

    *out = neg ? -v : v;

    return 0;
}


static const char *
sfn_pp_quoted(sfn_pparse_t *pp)
{
    char        q, *out, *d;
    const char  *s;

    q = *pp->p++;
    s = pp->p;

    out = sfn_palloc(pp->pool, pp->last - s + 1);
    if (out == NULL) {
        sfn_pp_fail(pp, "out of memory");
        return NULL;
    }

    d = out;

    /*
     * A backslash escapes only the quote and itself: AWS reads
     * $['a\"b'] as the name a\"b, backslash and all.
     */

    while (pp->p < pp->last && *pp->p != q) {
        if (*pp->p == '\\' && pp->p + 1 < pp->last
            && (pp->p[1] == q || pp->p[1] == '\\'))
        {
            pp->p++;
        }
        *d++ = *pp->p++;
    }

    if (pp->p >= pp->last) {
        sfn_pp_fail(pp, "unterminated quoted name");
        return NULL;
    }

    pp->p++;
    *d = '\0';

    return out;
}


static int
sfn_pp_bracket(sfn_pparse_t *pp, sfn_seg_t *seg)
{
    int64_t       v, list[64];
    const char   *names[64], *name;
    size_t        n;

    pp->p++;                      /* '[' */
    sfn_pp_ws(pp);

    if (pp->p >= pp->last) {
        sfn_pp_fail(pp, "unterminated bracket");
        return -1;
    }

    if (*pp->p == '*') {
        pp->p++;
        seg->type = SFN_SEG_WILD;
        goto close;
    }

    if (*pp->p == '?') {
        pp->p++;
        sfn_pp_ws(pp);

        if (pp->p >= pp->last || *pp->p != '(') {
            sfn_pp_fail(pp, "expected '(' after '?'");
            return -1;
        }

        pp->p++;
        seg->type = SFN_SEG_FILTER;
        seg->filter = sfn_filter_parse_or(pp);
        if (seg->filter == NULL) {
            return -1;
        }

        sfn_pp_ws(pp);
        if (pp->p >= pp->last || *pp->p != ')') {
            sfn_pp_fail(pp, "expected ')' closing the filter");
            return -1;
        }

        pp->p++;
        goto close;
    }

    if (*pp->p == '\'' || *pp->p == '"') {
        n = 0;

        for ( ;; ) {
            sfn_pp_ws(pp);
            if (pp->p >= pp->last || (*pp->p != '\'' && *pp->p != '"')) {
                sfn_pp_fail(pp, "expected a quoted name");
                return -1;
            }

            name = sfn_pp_quoted(pp);
            if (name == NULL) {
                return -1;
            }

            if (n == sfn_nelems(names)) {
                sfn_pp_fail(pp, "too many names");
                return -1;
            }

            names[n++] = name;
            sfn_pp_ws(pp);

            if (pp->p < pp->last && *pp->p == ',') {
                pp->p++;
                continue;
            }

            break;
        }

        if (n == 1) {
            seg->type = SFN_SEG_FIELD;
            seg->name = names[0];

        } else {
            seg->type = SFN_SEG_FIELDS;
            seg->names = sfn_palloc(pp->pool, n * sizeof(char *));
            if (seg->names == NULL) {
                sfn_pp_fail(pp, "out of memory");
                return -1;
            }
            memcpy(seg->names, names, n * sizeof(char *));
            seg->n = n;
        }

        goto close;
    }

    /* index, union of indexes, or slice */

    if (*pp->p == ':') {
        seg->type = SFN_SEG_SLICE;
        goto slice;
    }

    if (sfn_pp_int(pp, &v) != 0) {
        sfn_pp_fail(pp, "bad bracket expression");
        return -1;
    }

    if (pp->p < pp->last && *pp->p == ':') {
        seg->type = SFN_SEG_SLICE;
        seg->start = v;
        seg->has_start = 1;
        goto slice;
    }

    if (pp->p < pp->last && *pp->p == ',') {
        list[0] = v;
        n = 1;

        while (pp->p < pp->last && *pp->p == ',') {
            pp->p++;
            if (sfn_pp_int(pp, &v) != 0 || n == sfn_nelems(list)) {
                sfn_pp_fail(pp, "bad index list");
                return -1;
            }
            list[n++] = v;
        }

        seg->type = SFN_SEG_INDEXES;
        seg->indexes = sfn_palloc(pp->pool, n * sizeof(int64_t));
        if (seg->indexes == NULL) {
            sfn_pp_fail(pp, "out of memory");
            return -1;
        }
        memcpy(seg->indexes, list, n * sizeof(int64_t));
        seg->n = n;
        goto close;
    }

    seg->type = SFN_SEG_INDEX;
    seg->index = v;
    goto close;

slice:

    pp->p++;                      /* ':' */
    seg->step = 1;

    if (sfn_pp_int(pp, &v) == 0) {
        seg->end = v;
        seg->has_end = 1;
    }

    if (pp->p < pp->last && *pp->p == ':') {
        pp->p++;
        if (sfn_pp_int(pp, &v) == 0) {
            if (v <= 0) {
                sfn_pp_fail(pp, "slice step must be positive");
                return -1;
            }
            seg->step = v;
        }
    }

close:

    sfn_pp_ws(pp);

    if (pp->p >= pp->last || *pp->p != ']') {
        sfn_pp_fail(pp, "expected ']'");
        return -1;
    }

    pp->p++;

    return 0;
}


static int
sfn_pp_var_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_' || (unsigned char) c >= 0x80;
}


static int
sfn_pp_name_char(char c, int relative)
{
    if (c == '.' || c == '[') {
        return 0;
    }

    if (relative) {
        /* inside a filter a name ends at an operator or a parenthesis */
        return strchr(" \t()=!<>&|,]", c) == NULL;
    }

    return 1;
}


static int
sfn_pp_segment(sfn_pparse_t *pp, sfn_seg_t *seg, int relative)
{
    const char  *s;
    sfn_seg_t   *inner;

    if (*pp->p == '[') {
        return sfn_pp_bracket(pp, seg);
    }

    /* '.' */
    pp->p++;

    if (pp->p < pp->last && *pp->p == '.') {
        pp->p++;

        inner = sfn_pcalloc(pp->pool, sizeof(sfn_seg_t));
        if (inner == NULL) {
            sfn_pp_fail(pp, "out of memory");
            return -1;
        }

        seg->type = SFN_SEG_DEEP;
        seg->inner = inner;

        if (pp->p < pp->last && *pp->p == '[') {
            return sfn_pp_bracket(pp, inner);
        }

        if (pp->p < pp->last && *pp->p == '*') {
            pp->p++;
            inner->type = SFN_SEG_WILD;
            return 0;
        }

        seg = inner;

    } else if (pp->p < pp->last && *pp->p == '*') {
        pp->p++;
        seg->type = SFN_SEG_WILD;
        return 0;
    }

    s = pp->p;

    while (pp->p < pp->last && sfn_pp_name_char(*pp->p, relative)) {
        pp->p++;
    }

    if (pp->p == s) {
        sfn_pp_fail(pp, "empty name");
        return -1;
    }

    if (pp->p - s == 8 && memcmp(s, "length()", 8) == 0) {
        seg->type = SFN_SEG_LENGTH;
        return 0;
    }

    if (pp->p - s == 6 && memcmp(s, "length", 6) == 0 && pp->p + 1 < pp->last
        && pp->p[0] == '(' && pp->p[1] == ')')
    {
        pp->p += 2;
        seg->type = SFN_SEG_LENGTH;
        return 0;
    }

    seg->type = SFN_SEG_FIELD;
    seg->name = sfn_pstrndup(pp->pool, s, pp->p - s);
    if (seg->name == NULL) {
        sfn_pp_fail(pp, "out of memory");
        return -1;
    }

    return 0;
}


static sfn_path_t *
sfn_path_parse(sfn_pparse_t *pp, int relative)
{
    size_t       i, cap;
    sfn_seg_t   *segs, *nsegs;
    sfn_path_t  *path;
    const char  *start, *name;

    start = pp->p;

    if (++pp->depth > 32) {
        sfn_pp_fail(pp, "path nested too deeply");
        return NULL;
    }

    path = sfn_pcalloc(pp->pool, sizeof(sfn_path_t));
    if (path == NULL) {
        sfn_pp_fail(pp, "out of memory");
        return NULL;
    }

    if (pp->p >= pp->last) {
        sfn_pp_fail(pp, "empty path");
        return NULL;
    }

    if (relative) {
        if (*pp->p != '@' && *pp->p != '$') {
            sfn_pp_fail(pp, "a path must start with '$'");
            return NULL;
        }

        if (*pp->p == '$') {
            relative = 0;
        }

    } else if (*pp->p != '$') {
        sfn_pp_fail(pp, "a path must start with '$'");
        return NULL;
    }

    pp->p++;

    if (!relative && pp->p < pp->last && *pp->p == '$') {
        path->context = 1;
        pp->p++;

    } else if (!relative && pp->p < pp->last && sfn_pp_var_char(*pp->p)
               && !(*pp->p >= '0' && *pp->p <= '9'))
    {
        /* a variable: "$name", "$name.field" */
        name = pp->p;

        while (pp->p < pp->last && sfn_pp_var_char(*pp->p)) {
            pp->p++;
        }

        path->var = sfn_pstrndup(pp->pool, name, pp->p - name);
        if (path->var == NULL) {
            sfn_pp_fail(pp, "out of memory");
            return NULL;
        }
    }

    segs = NULL;
    cap = 0;
    path->definite = 1;

    while (pp->p < pp->last && (*pp->p == '.' || *pp->p == '[')) {
        if (path->nsegs == cap) {
            cap = cap ? cap * 2 : 4;
            nsegs = sfn_palloc(pp->pool, cap * sizeof(sfn_seg_t));
            if (nsegs == NULL) {
                sfn_pp_fail(pp, "out of memory");
                return NULL;
            }
            if (path->nsegs) {
                memcpy(nsegs, segs, path->nsegs * sizeof(sfn_seg_t));
            }
            segs = nsegs;
        }

        memset(&segs[path->nsegs], 0, sizeof(sfn_seg_t));

        if (sfn_pp_segment(pp, &segs[path->nsegs], relative) != 0) {
            return NULL;
        }

        if (segs[path->nsegs].type != SFN_SEG_FIELD
            && segs[path->nsegs].type != SFN_SEG_INDEX)
        {
            path->definite = 0;
        }

        path->nsegs++;
    }

    for (i = 0; i < path->nsegs; i++) {
        if (segs[i].type == SFN_SEG_LENGTH && i + 1 != path->nsegs) {
            sfn_pp_fail(pp, "length() must end the path");
            return NULL;
        }
    }

    if (path->nsegs && segs[path->nsegs - 1].type == SFN_SEG_LENGTH) {
        /* length() of a definite path is a definite value */
        path->definite = 1;
        for (i = 0; i + 1 < path->nsegs; i++) {
            if (segs[i].type != SFN_SEG_FIELD
                && segs[i].type != SFN_SEG_INDEX)
            {
                path->definite = 0;
            }
        }
    }

    path->segs = segs;
    path->text = sfn_pstrndup(pp->pool, start, pp->p - start);
    pp->depth--;

    return path;
}


static cJSON *
sfn_pp_literal(sfn_pparse_t *pp, int type, double d, const char *str)
{
    cJSON  *v;

    v = sfn_pcalloc(pp->pool, sizeof(cJSON));
    if (v == NULL) {
        return NULL;
    }

    v->type = type;
    v->valuedouble = d;
    v->valueint = (int) (d > 2147483647.0 ? 2147483647
                         : (d < -2147483648.0 ? -2147483648.0 : d));
    v->valuestring = (char *) str;

    return v;
}


static int
sfn_filter_operand(sfn_pparse_t *pp, sfn_operand_t *op)
{
    int          neg;
    char        *end, num[64];
    double       d;
    size_t       n;
    const char  *s, *str;

    sfn_pp_ws(pp);

    if (pp->p >= pp->last) {
        sfn_pp_fail(pp, "filter operand expected");
        return -1;
    }

    if (*pp->p == '@' || *pp->p == '$') {
        op->relative = (*pp->p == '@');
        op->path = sfn_path_parse(pp, 1);
        return op->path ? 0 : -1;
    }

    if (*pp->p == '\'' || *pp->p == '"') {
        str = sfn_pp_quoted(pp);
        if (str == NULL) {
            return -1;
        }
        op->literal = sfn_pp_literal(pp, cJSON_String, 0, str);
        goto check;
    }

    s = pp->p;

    if ((size_t) (pp->last - s) >= 4 && memcmp(s, "true", 4) == 0) {
        pp->p += 4;
        op->literal = sfn_pp_literal(pp, cJSON_True, 0, NULL);
        goto check;
    }

    if ((size_t) (pp->last - s) >= 5 && memcmp(s, "false", 5) == 0) {
        pp->p += 5;
        op->literal = sfn_pp_literal(pp, cJSON_False, 0, NULL);
        goto check;
    }

    if ((size_t) (pp->last - s) >= 4 && memcmp(s, "null", 4) == 0) {
        pp->p += 4;
        op->literal = sfn_pp_literal(pp, cJSON_NULL, 0, NULL);
        goto check;
    }

    neg = 0;
    while (pp->p < pp->last
           && (strchr("0123456789.eE+", *pp->p) || (*pp->p == '-')))
    {
        pp->p++;
        neg = 1;
    }

    n = pp->p - s;
    if (!neg || n >= sizeof(num)) {
        sfn_pp_fail(pp, "bad filter operand");
        return -1;
    }

    memcpy(num, s, n);
    num[n] = '\0';

    d = strtod(num, &end);
    if (*end != '\0') {
        sfn_pp_fail(pp, "bad number in filter");
        return -1;
    }

    op->literal = sfn_pp_literal(pp, cJSON_Number, d, NULL);

check:

    if (op->literal == NULL) {
        sfn_pp_fail(pp, "out of memory");
        return -1;
    }

    return 0;
}


static sfn_filter_t *
sfn_filter_parse_unary(sfn_pparse_t *pp)
{
    size_t         i;
    sfn_filter_t  *f;

    static const struct {
        const char  *s;
        size_t       len;
        sfn_cmp_e    cmp;
    } ops[] = {
        { "==", 2, SFN_CMP_EQ }, { "!=", 2, SFN_CMP_NE },
        { "<=", 2, SFN_CMP_LE }, { ">=", 2, SFN_CMP_GE },
        { "<", 1, SFN_CMP_LT }, { ">", 1, SFN_CMP_GT }
    };

    if (++pp->depth > 32) {
        sfn_pp_fail(pp, "filter nested too deeply");
        return NULL;
    }

    sfn_pp_ws(pp);

    f = sfn_pcalloc(pp->pool, sizeof(sfn_filter_t));
    if (f == NULL || pp->p >= pp->last) {
        sfn_pp_fail(pp, "bad filter");
        return NULL;
    }

    if (*pp->p == '!') {
        pp->p++;
        f->type = SFN_F_NOT;
        f->a = sfn_filter_parse_unary(pp);
        pp->depth--;
        return f->a ? f : NULL;
    }

    if (*pp->p == '(') {
        pp->p++;
        f = sfn_filter_parse_or(pp);
        sfn_pp_ws(pp);
        if (f == NULL || pp->p >= pp->last || *pp->p != ')') {
            sfn_pp_fail(pp, "expected ')'");
            return NULL;
        }
        pp->p++;
        pp->depth--;
        return f;
    }

    if (sfn_filter_operand(pp, &f->l) != 0) {
        return NULL;
    }

    sfn_pp_ws(pp);

    for (i = 0; i < sfn_nelems(ops); i++) {
        if ((size_t) (pp->last - pp->p) >= ops[i].len
            && memcmp(pp->p, ops[i].s, ops[i].len) == 0)
        {
            pp->p += ops[i].len;
            f->type = SFN_F_CMP;
            f->cmp = ops[i].cmp;

            if (sfn_filter_operand(pp, &f->r) != 0) {
                return NULL;
            }

            pp->depth--;
            return f;
        }
    }

    if (f->l.path == NULL) {
        sfn_pp_fail(pp, "a filter literal needs a comparison");
        return NULL;
    }

    f->type = SFN_F_EXISTS;
    pp->depth--;

    return f;
}


static sfn_filter_t *
sfn_filter_parse_and(sfn_pparse_t *pp)
{
    sfn_filter_t  *f, *a;

    f = sfn_filter_parse_unary(pp);

    for ( ;; ) {
        sfn_pp_ws(pp);

        if (f == NULL || pp->last - pp->p < 2 || memcmp(pp->p, "&&", 2)) {
            return f;
        }

        pp->p += 2;

        a = sfn_pcalloc(pp->pool, sizeof(sfn_filter_t));
        if (a == NULL) {
            return NULL;
        }

        a->type = SFN_F_AND;
        a->a = f;
        a->b = sfn_filter_parse_unary(pp);
        if (a->b == NULL) {
            return NULL;
        }

        f = a;
    }
}


static sfn_filter_t *
sfn_filter_parse_or(sfn_pparse_t *pp)
{
    sfn_filter_t  *f, *o;

    f = sfn_filter_parse_and(pp);

    for ( ;; ) {
        sfn_pp_ws(pp);

        if (f == NULL || pp->last - pp->p < 2 || memcmp(pp->p, "||", 2)) {
            return f;
        }

        pp->p += 2;

        o = sfn_pcalloc(pp->pool, sizeof(sfn_filter_t));
        if (o == NULL) {
            return NULL;
        }

        o->type = SFN_F_OR;
        o->a = f;
        o->b = sfn_filter_parse_and(pp);
        if (o->b == NULL) {
            return NULL;
        }

        f = o;
    }
}


sfn_path_t *
sfn_path_compile(sfn_pool_t *pool, const char *text, size_t len,
    char *errbuf, size_t errlen)
{
    sfn_path_t    *p;
    sfn_pparse_t   pp;

    memset(&pp, 0, sizeof(sfn_pparse_t));
    pp.pool = pool;
    pp.p = text;
    pp.last = text + len;
    pp.err = errbuf;
    pp.errlen = errlen;

    p = sfn_path_parse(&pp, 0);

    if (p && pp.p != pp.last) {
        sfn_pp_fail(&pp, "unexpected characters in path");
    }

    if (pp.failed) {
        return NULL;
    }

    return p;
}


int
sfn_path_definite(const sfn_path_t *p)
{
    return p->definite;
}


int
sfn_path_context(const sfn_path_t *p)
{
    return p->context;
}


int
sfn_path_is_root(const sfn_path_t *p)
{
    return p->nsegs == 0 && !p->context && p->var == NULL;
}


const char *
sfn_path_var(const sfn_path_t *p)
{
    return p->var;
}


const char *
sfn_path_text(const sfn_path_t *p)
{
    return p->text;
}


void
sfn_path_normalized(const sfn_path_t *p, sfn_buf_t *b)
{
    size_t  i;

    sfn_buf_adds(b, p->context ? "$$" : "$");

    if (p->var) {
        sfn_buf_adds(b, p->var);
    }

    for (i = 0; i < p->nsegs; i++) {
        switch (p->segs[i].type) {
        case SFN_SEG_FIELD:
            sfn_buf_printf(b, "['%s']", p->segs[i].name);
            break;
        case SFN_SEG_INDEX:
            sfn_buf_printf(b, "[%lld]", (long long) p->segs[i].index);
            break;
        case SFN_SEG_WILD:
            sfn_buf_adds(b, "[*]");
            break;
        default:
            sfn_buf_adds(b, "[?]");
        }
    }
}


static void
sfn_nodes_push(sfn_nodes_t *ns, const cJSON *v)
{
    size_t         cap;
    const cJSON  **nv;

    if (ns->failed) {
        return;
    }

    if (ns->n == ns->cap) {
        cap = ns->cap ? ns->cap * 2 : 16;
        nv = realloc(ns->v, cap * sizeof(cJSON *));
        if (nv == NULL) {
            ns->failed = 1;
            return;
        }
        ns->v = nv;
        ns->cap = cap;
    }

    ns->v[ns->n++] = v;
}


static const cJSON *
sfn_array_at(const cJSON *a, int64_t i)
{
    int64_t       n;
    const cJSON  *c;

    if (i < 0) {
        n = cJSON_GetArraySize(a);
        i += n;
        if (i < 0) {
            return NULL;
        }
    }

    for (c = a->child; c && i > 0; c = c->next, i--) {
        /* void */
    }

    return c;
}


static const cJSON *
sfn_definite_step(const cJSON *v, const sfn_seg_t *s)
{
    if (s->type == SFN_SEG_FIELD) {
        if (!cJSON_IsObject(v)) {
            return NULL;
        }
        return cJSON_GetObjectItemCaseSensitive(v, s->name);
    }

    if (!cJSON_IsArray(v)) {
        return NULL;
    }

    return sfn_array_at(v, s->index);
}


static int sfn_filter_match(const sfn_filter_t *f, const cJSON *at,
    sfn_env_t *env);


static void
sfn_seg_apply(const sfn_seg_t *s, const cJSON *v, sfn_nodes_t *out,
    sfn_env_t *env)
{
    size_t        i;
    int64_t       n, start, end, k;
    const cJSON  *c;

    switch (s->type) {

    case SFN_SEG_FIELD:
    case SFN_SEG_INDEX:
        c = sfn_definite_step(v, s);
        if (c) {
            sfn_nodes_push(out, c);
        }
        return;

    case SFN_SEG_WILD:
        if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
            for (c = v->child; c; c = c->next) {
                sfn_nodes_push(out, c);
            }
        }
        return;

    case SFN_SEG_FIELDS:
        if (cJSON_IsObject(v)) {
            for (i = 0; i < s->n; i++) {
                c = cJSON_GetObjectItemCaseSensitive(v, s->names[i]);
                if (c) {
                    sfn_nodes_push(out, c);
                }
            }
        }
        return;

    case SFN_SEG_INDEXES:
        if (cJSON_IsArray(v)) {
            for (i = 0; i < s->n; i++) {
                c = sfn_array_at(v, s->indexes[i]);
                if (c) {
                    sfn_nodes_push(out, c);
                }
            }
        }
        return;

    case SFN_SEG_SLICE:
        if (!cJSON_IsArray(v)) {
            return;
        }

        n = cJSON_GetArraySize(v);
        start = s->has_start ? s->start : 0;
        end = s->has_end ? s->end : n;

        if (start < 0) {
            start = start + n < 0 ? 0 : start + n;
        }
        if (end < 0) {
            end = end + n < 0 ? 0 : end + n;
        }
        if (end > n) {
            end = n;
        }

        for (k = 0, c = v->child; c && k < end; c = c->next, k++) {
            if (k >= start && (k - start) % s->step == 0) {
                sfn_nodes_push(out, c);
            }
        }
        return;

    case SFN_SEG_DEEP:
        sfn_seg_apply(s->inner, v, out, env);
        if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
            for (c = v->child; c; c = c->next) {
                if (s->inner->type == SFN_SEG_WILD) {
                    /* [*] of v already listed c; descend only */
                    if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
                        sfn_seg_apply(s, c, out, env);
                    }
                    continue;
                }
                sfn_seg_apply(s, c, out, env);
            }
        }
        return;

    case SFN_SEG_FILTER:
        if (cJSON_IsArray(v)) {
            for (c = v->child; c; c = c->next) {
                if (sfn_filter_match(s->filter, c, env)) {
                    sfn_nodes_push(out, c);
                }
            }

        } else if (cJSON_IsObject(v)) {
            if (sfn_filter_match(s->filter, v, env)) {
                sfn_nodes_push(out, v);
            }
        }
        return;

    case SFN_SEG_LENGTH:
        return;
    }
}


static const cJSON *
sfn_path_root(const sfn_path_t *p, sfn_env_t *env)
{
    if (p->var) {
        return env->var ? env->var(env, p->var, strlen(p->var)) : NULL;
    }

    if (!p->context) {
        return env->input;
    }

    if (env->ctx == NULL && env->build_ctx) {
        env->build_ctx(env);
    }

    return env->ctx;
}


/* a definite relative path from "at"; NULL when absent */
static const cJSON *
sfn_path_definite_from(const sfn_path_t *p, const cJSON *at)
{
    size_t  i;

    for (i = 0; at && i < p->nsegs; i++) {
        if (p->segs[i].type == SFN_SEG_LENGTH) {
            return NULL;
        }
        at = sfn_definite_step(at, &p->segs[i]);
    }

    return at;
}


static int
sfn_filter_value(const sfn_operand_t *op, const cJSON *at, sfn_env_t *env,
    const cJSON **out, double *len, int *is_len)
{
    size_t        i, n;
    const cJSON  *v;

    *is_len = 0;

    if (op->literal) {
        *out = op->literal;
        return 0;
    }

    v = op->relative ? at : sfn_path_root(op->path, env);

    n = op->path->nsegs;
    if (n && op->path->segs[n - 1].type == SFN_SEG_LENGTH) {
        n--;
        for (i = 0; v && i < n; i++) {
            v = sfn_definite_step(v, &op->path->segs[i]);
        }

        if (v == NULL || !(cJSON_IsArray(v) || cJSON_IsObject(v)
                           || cJSON_IsString(v)))
        {
            return -1;
        }

        *len = cJSON_IsString(v) ? (double) strlen(v->valuestring)
                                 : (double) cJSON_GetArraySize(v);
        *is_len = 1;
        return 0;
    }

    v = sfn_path_definite_from(op->path, v);
    if (v == NULL) {
        return -1;
    }

    *out = v;

    return 0;
}


static int
sfn_filter_match(const sfn_filter_t *f, const cJSON *at, sfn_env_t *env)
{
    int           c, la, lb;
    double        x, y, lx, ly;
    const cJSON  *a, *b;

    switch (f->type) {

    case SFN_F_OR:
        return sfn_filter_match(f->a, at, env)
               || sfn_filter_match(f->b, at, env);

    case SFN_F_AND:
        return sfn_filter_match(f->a, at, env)
               && sfn_filter_match(f->b, at, env);

    case SFN_F_NOT:
        return !sfn_filter_match(f->a, at, env);

    case SFN_F_EXISTS:
        return sfn_filter_value(&f->l, at, env, &a, &lx, &la) == 0;

    case SFN_F_CMP:
        break;
    }

    a = b = NULL;

    if (sfn_filter_value(&f->l, at, env, &a, &lx, &la) != 0
        || sfn_filter_value(&f->r, at, env, &b, &ly, &lb) != 0)
    {
        return f->cmp == SFN_CMP_NE;
    }

    if (la || lb || (cJSON_IsNumber(a) && cJSON_IsNumber(b))) {
        if ((!la && !cJSON_IsNumber(a)) || (!lb && !cJSON_IsNumber(b))) {
            return f->cmp == SFN_CMP_NE;
        }

        x = la ? lx : a->valuedouble;
        y = lb ? ly : b->valuedouble;
        c = x < y ? -1 : (x > y ? 1 : 0);

    } else if (cJSON_IsString(a) && cJSON_IsString(b)) {
        c = strcmp(a->valuestring, b->valuestring);

    } else {
        if (f->cmp == SFN_CMP_EQ) {
            return sfn_json_equal(a, b);
        }

        if (f->cmp == SFN_CMP_NE) {
            return !sfn_json_equal(a, b);
        }

        return 0;
    }

    switch (f->cmp) {
    case SFN_CMP_EQ: return c == 0;
    case SFN_CMP_NE: return c != 0;
    case SFN_CMP_LT: return c < 0;
    case SFN_CMP_LE: return c <= 0;
    case SFN_CMP_GT: return c > 0;
    default:         return c >= 0;
    }
}


int
sfn_path_eval(const sfn_path_t *p, sfn_env_t *env, cJSON **out, int *owned)
{
    size_t        i, k;
    cJSON        *arr, *d;
    sfn_nodes_t   cur, next, tmp;
    const cJSON  *v;
    int           last_len;

    v = sfn_path_root(p, env);
    if (v == NULL) {
        return -1;
    }

    last_len = p->nsegs && p->segs[p->nsegs - 1].type == SFN_SEG_LENGTH;

    if (p->definite) {
        for (i = 0; v && i < p->nsegs; i++) {
            if (p->segs[i].type == SFN_SEG_LENGTH) {
                break;
            }
            v = sfn_definite_step(v, &p->segs[i]);
        }

        if (v == NULL) {
            return -1;
        }

        if (last_len) {
            if (!cJSON_IsArray(v) && !cJSON_IsObject(v)
                && !cJSON_IsString(v))
            {
                return -1;
            }

            *out = cJSON_CreateNumber(cJSON_IsString(v)
                                      ? (double) strlen(v->valuestring)
                                      : (double) cJSON_GetArraySize(v));
            *owned = 1;
            return *out ? 0 : -1;
        }

        *out = (cJSON *) v;
        *owned = 0;
        return 0;
    }

    memset(&cur, 0, sizeof(sfn_nodes_t));
    memset(&next, 0, sizeof(sfn_nodes_t));

    sfn_nodes_push(&cur, v);

    for (i = 0; i < p->nsegs - (last_len ? 1 : 0); i++) {
        next.n = 0;

        for (k = 0; k < cur.n; k++) {
            sfn_seg_apply(&p->segs[i], cur.v[k], &next, env);
        }

        tmp = cur;
        cur = next;
        next = tmp;
    }

    free(next.v);

    if (cur.failed) {
        free(cur.v);
        return -1;
    }

    if (last_len) {
        /* the length of the result list */
        *out = cJSON_CreateNumber((double) cur.n);
        *owned = 1;
        free(cur.v);
        return *out ? 0 : -1;
    }

    arr = cJSON_CreateArray();
    if (arr == NULL) {
        free(cur.v);
        return -1;
    }

    for (k = 0; k < cur.n; k++) {
        d = cJSON_Duplicate(cur.v[k], 1);
        if (d == NULL) {
            cJSON_Delete(arr);
            free(cur.v);
            return -1;
        }
        cJSON_AddItemToArray(arr, d);
    }

    free(cur.v);

    *out = arr;
    *owned = 1;

    return 0;
}


int
sfn_path_set(const sfn_path_t *p, cJSON **root, cJSON *value)
{
    size_t      i;
    cJSON      *v, *c, *o;
    sfn_seg_t  *s;

    if (p->nsegs == 0) {
        cJSON_Delete(*root);
        *root = value;
        return 0;
    }

    v = *root;

    for (i = 0; i < p->nsegs; i++) {
        s = &p->segs[i];

        if (s->type == SFN_SEG_FIELD) {
            if (!cJSON_IsObject(v)) {
                return -1;
            }

            c = cJSON_GetObjectItemCaseSensitive(v, s->name);

            if (i + 1 == p->nsegs) {
                if (c) {
                    cJSON_ReplaceItemInObjectCaseSensitive(v, s->name,
                                                           value);
                } else {
                    cJSON_AddItemToObject(v, s->name, value);
                }
                return 0;
            }

            if (c == NULL) {
                o = cJSON_CreateObject();
                if (o == NULL) {
                    return -1;
                }

                cJSON_AddItemToObject(v, s->name, o);
                c = o;

            } else if (!cJSON_IsObject(c) && !cJSON_IsArray(c)) {
                return -1;
            }

            v = c;
            continue;
        }

        if (s->type != SFN_SEG_INDEX || !cJSON_IsArray(v)) {
            return -1;
        }

        c = (cJSON *) sfn_array_at(v, s->index);
        if (c == NULL) {
            return -1;
        }

        if (i + 1 == p->nsegs) {
            cJSON_ReplaceItemViaPointer(v, c, value);
            return 0;
        }

        v = c;
    }

    return -1;
}

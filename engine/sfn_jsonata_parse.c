
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata parser: jsonata-js's top-down operator precedence (Pratt)
 * parser, then its post-parse pass, which flattens location paths into
 * steps with predicates and stages, attaches grouping, sorting and the
 * focus (@) and index (#) bindings, resolves the parent operator (%) to
 * ancestor slots and marks tail calls in lambda bodies.  Also parses the
 * function signatures ("<s-nn?:s>").
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfn_jsonata_int.h"


#define SFN_JPARSE_DEPTH  800


typedef struct {
    sfn_jlexer_t          lx;
    sfn_jtoken_t          tok;        /* the current token */
    sfn_jnode_t          *node;       /* ... as a node */
    sfn_pool_t           *pool;
    sfn_jperr_t          *err;
    jmp_buf               jmp;
    int                   depth;
    int                   label;
    int                   index;
    sfn_jlist_t           ancestry;
    sfn_jlist_t          *regexes;
} sfn_jparser_t;


static sfn_jnode_t *sfn_jp_expression(sfn_jparser_t *p, int rbp);
static sfn_jnode_t *sfn_jp_process(sfn_jparser_t *p, sfn_jnode_t *expr);


static void __attribute__((noreturn))
sfn_jp_fail(sfn_jparser_t *p, const char *code, size_t pos, const char *token,
    size_t tlen, const char *value)
{
    memcpy(p->err->code, code, 6);
    p->err->position = pos;
    p->err->token[0] = '\0';
    p->err->value[0] = '\0';

    if (token) {
        if (tlen > sizeof(p->err->token) - 1) {
            tlen = sizeof(p->err->token) - 1;
        }
        memcpy(p->err->token, token, tlen);
        p->err->token[tlen] = '\0';
    }

    if (value) {
        snprintf(p->err->value, sizeof(p->err->value), "%s", value);
    }

    longjmp(p->jmp, 1);
}


static void *
sfn_jp_alloc(sfn_jparser_t *p, size_t size)
{
    void  *v;

    v = sfn_pcalloc(p->pool, size);
    if (v == NULL) {
        sfn_jp_fail(p, "U1000", 0, NULL, 0, NULL);
    }

    return v;
}


static sfn_jnode_t *
sfn_jp_node(sfn_jparser_t *p, int type, size_t position)
{
    sfn_jnode_t  *n;

    n = sfn_jp_alloc(p, sizeof(sfn_jnode_t));
    n->type = type;
    n->position = position;

    return n;
}


/*
 * A string or number literal's value, made once with the program: values
 * are never changed, so every evaluation shares it.
 */
static void
sfn_jp_literal(sfn_jparser_t *p, sfn_jnode_t *n)
{
    char      *s;
    sfn_jv_t  *v;

    if (n->type == SFN_JN_NUMBER) {
        v = sfn_jp_alloc(p, sizeof(sfn_jv_t));
        v->type = SFN_JV_NUMBER;
        v->flags = 0;
        v->u.n = n->num;

    } else {
        v = sfn_jp_alloc(p, sizeof(sfn_jv_t) + n->str.len + 1);
        s = (char *) (v + 1);
        if (n->str.len) {
            memcpy(s, n->str.data, n->str.len);
        }
        s[n->str.len] = '\0';
        v->type = SFN_JV_STRING;
        v->flags = 0;
        v->u.s.data = s;
        v->u.s.len = n->str.len;
    }

    n->value = v;
}


static void
sfn_jp_push(sfn_jparser_t *p, sfn_jlist_t *l, void *v)
{
    sfn_jlist_push(p->pool, l, v);
    if (l->n == 0) {
        sfn_jp_fail(p, "U1000", 0, NULL, 0, NULL);
    }
}


static int
sfn_jp_is(sfn_jparser_t *p, const char *op)
{
    size_t  len;

    len = strlen(op);

    return p->tok.type == SFN_JT_OPERATOR && p->tok.str.len == len
           && memcmp(p->tok.str.data, op, len) == 0;
}


static int
sfn_jop_is(sfn_jnode_t *n, const char *op)
{
    size_t  len;

    len = strlen(op);

    return n->str.len == len && memcmp(n->str.data, op, len) == 0;
}


/* the left binding power of the current token */

static int
sfn_jp_lbp(sfn_jparser_t *p)
{
    static const struct {
        const char  *op;
        int          bp;
    } ops[] = {
        { ".", 75 }, { "[", 80 }, { "{", 70 }, { "(", 80 }, { "@", 80 },
        { "#", 80 }, { "?", 20 }, { "+", 50 }, { "-", 50 }, { "*", 60 },
        { "/", 60 }, { "%", 60 }, { "=", 40 }, { "<", 40 }, { ">", 40 },
        { "^", 40 }, { ":=", 10 }, { "!=", 40 }, { "<=", 40 },
        { ">=", 40 }, { "~>", 40 }, { "and", 30 }, { "or", 25 },
        { "in", 40 }, { "&", 50 }
    };

    size_t  i;

    if (p->tok.type != SFN_JT_OPERATOR) {
        return 0;
    }

    for (i = 0; i < sfn_nelems(ops); i++) {
        if (sfn_jp_is(p, ops[i].op)) {
            return ops[i].bp;
        }
    }

    return 0;
}


static int
sfn_jp_known_op(const sfn_jtoken_t *t)
{
    static const char  *known[] = {
        ".", "[", "]", "{", "}", "(", ")", ",", "@", "#", ";", ":", "?",
        "+", "-", "*", "/", "%", "|", "=", "<", ">", "^", "**", "..", ":=",
        "!=", "<=", ">=", "~>", "and", "or", "in", "&"
    };

    size_t  i;

    for (i = 0; i < sfn_nelems(known); i++) {
        if (strlen(known[i]) == t->str.len
            && memcmp(known[i], t->str.data, t->str.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static void
sfn_jp_advance(sfn_jparser_t *p, const char *id, int infix)
{
    int           type;
    sfn_jnode_t  *n;

    if (id != NULL && !sfn_jp_is(p, id)) {
        if (p->tok.type == SFN_JT_END) {
            sfn_jp_fail(p, "S0203", p->tok.position, NULL, 0, id);
        }
        sfn_jp_fail(p, "S0202", p->tok.position, p->tok.str.data,
                    p->tok.str.len, id);
    }

    if (sfn_jsonata_lex(&p->lx, infix, &p->tok) != 0) {
        sfn_jp_fail(p, p->lx.code, p->lx.err_pos, p->lx.err_token,
                    p->lx.err_tlen, NULL);
    }

    switch (p->tok.type) {
    case SFN_JT_END: type = SFN_JN_END; break;
    case SFN_JT_NAME: type = SFN_JN_NAME; break;
    case SFN_JT_VARIABLE: type = SFN_JN_VARIABLE; break;
    case SFN_JT_STRING: type = SFN_JN_STRING; break;
    case SFN_JT_NUMBER: type = SFN_JN_NUMBER; break;
    case SFN_JT_VALUE: type = SFN_JN_VALUE; break;
    case SFN_JT_REGEX: type = SFN_JN_REGEX; break;
    default:
        if (!sfn_jp_known_op(&p->tok)) {
            sfn_jp_fail(p, "S0204", p->tok.position, p->tok.str.data,
                        p->tok.str.len, NULL);
        }
        type = SFN_JN_OPERATOR;
        break;
    }

    n = sfn_jp_node(p, type, p->tok.position);
    n->str = p->tok.str;
    n->num = p->tok.num;

    if (type == SFN_JN_VALUE) {
        n->value = p->tok.value < 0 ? &sfn_jv_null
                                    : sfn_jv_bool(p->tok.value);
    }

    if (type == SFN_JN_REGEX) {
        n->re = sfn_jregex_compile(p->tok.str.data, p->tok.str.len,
                                   p->tok.flags.data, p->tok.flags.len, NULL);
        if (n->re == NULL) {
            sfn_jp_fail(p, "S0303", p->tok.position, p->tok.str.data,
                        p->tok.str.len, NULL);
        }
        sfn_jp_push(p, p->regexes, n->re);
    }

    p->node = n;
}


static sfn_jnode_t *
sfn_jp_object(sfn_jparser_t *p, sfn_jnode_t *self, sfn_jnode_t *left)
{
    sfn_jpair_t  *pair;

    if (!sfn_jp_is(p, "}")) {
        for ( ;; ) {
            pair = sfn_jp_alloc(p, sizeof(sfn_jpair_t));
            pair->key = sfn_jp_expression(p, 0);
            sfn_jp_advance(p, ":", 0);
            pair->value = sfn_jp_expression(p, 0);
            sfn_jp_push(p, &self->pairs, pair);
            if (!sfn_jp_is(p, ",")) {
                break;
            }
            sfn_jp_advance(p, ",", 0);
        }
    }

    sfn_jp_advance(p, "}", 1);

    if (left == NULL) {
        self->type = SFN_JN_OBJECT;
    } else {
        self->type = SFN_JN_BINARY;
        self->lhs = left;
    }

    return self;
}


static sfn_jnode_t *
sfn_jp_nud(sfn_jparser_t *p, sfn_jnode_t *t)
{
    sfn_jnode_t  *item, *range;

    switch (t->type) {
    case SFN_JN_END:
    case SFN_JN_NAME:
    case SFN_JN_VARIABLE:
    case SFN_JN_STRING:
    case SFN_JN_NUMBER:
    case SFN_JN_VALUE:
    case SFN_JN_REGEX:
        return t;
    }

    /* operators */

    if (sfn_jop_is(t, "and") || sfn_jop_is(t, "or") || sfn_jop_is(t, "in")) {
        return t;
    }

    if (sfn_jop_is(t, "-")) {
        t->expr = sfn_jp_expression(p, 70);
        t->type = SFN_JN_UNARY;
        return t;
    }

    if (sfn_jop_is(t, "*")) {
        t->type = SFN_JN_WILDCARD;
        return t;
    }

    if (sfn_jop_is(t, "**")) {
        t->type = SFN_JN_DESCENDANT;
        return t;
    }

    if (sfn_jop_is(t, "%")) {
        t->type = SFN_JN_PARENT;
        return t;
    }

    if (sfn_jop_is(t, "(")) {
        while (!sfn_jp_is(p, ")")) {
            sfn_jp_push(p, &t->items, sfn_jp_expression(p, 0));
            if (!sfn_jp_is(p, ";")) {
                break;
            }
            sfn_jp_advance(p, ";", 0);
        }
        sfn_jp_advance(p, ")", 1);
        t->type = SFN_JN_BLOCK;
        return t;
    }

    if (sfn_jop_is(t, "[")) {
        if (!sfn_jp_is(p, "]")) {
            for ( ;; ) {
                item = sfn_jp_expression(p, 0);
                if (sfn_jp_is(p, "..")) {
                    range = sfn_jp_node(p, SFN_JN_BINARY, p->tok.position);
                    range->str.data = "..";
                    range->str.len = 2;
                    range->lhs = item;
                    sfn_jp_advance(p, "..", 0);
                    range->rhs = sfn_jp_expression(p, 0);
                    item = range;
                }
                sfn_jp_push(p, &t->items, item);
                if (!sfn_jp_is(p, ",")) {
                    break;
                }
                sfn_jp_advance(p, ",", 0);
            }
        }
        sfn_jp_advance(p, "]", 1);
        t->type = SFN_JN_ARRAY;
        return t;
    }

    if (sfn_jop_is(t, "{")) {
        return sfn_jp_object(p, t, NULL);
    }

    if (sfn_jop_is(t, "|")) {
        t->type = SFN_JN_TRANSFORM;
        t->pattern = sfn_jp_expression(p, 0);
        sfn_jp_advance(p, "|", 0);
        t->update = sfn_jp_expression(p, 0);
        if (sfn_jp_is(p, ",")) {
            sfn_jp_advance(p, ",", 0);
            t->del = sfn_jp_expression(p, 0);
        }
        sfn_jp_advance(p, "|", 0);
        return t;
    }

    sfn_jp_fail(p, "S0211", t->position, t->str.data, t->str.len, NULL);
}


static sfn_jnode_t *
sfn_jp_lambda(sfn_jparser_t *p, sfn_jnode_t *t)
{
    int           depth;
    char          code[8], *sig;
    size_t        i, pos, off, slen;
    sfn_jnode_t  *arg;
    char          num[24];

    for (i = 0; i < t->items.n; i++) {
        arg = t->items.v[i];
        if (arg->type != SFN_JN_VARIABLE) {
            snprintf(num, sizeof(num), "%zu", i + 1);
            sfn_jp_fail(p, "S0208", arg->position, arg->str.data,
                        arg->str.len, num);
        }
    }

    t->type = SFN_JN_LAMBDA;

    if (sfn_jp_is(p, "<")) {
        /* the tokens without their spaces: never longer than the text */
        pos = p->tok.position;
        depth = 1;
        sig = sfn_jp_alloc(p, p->lx.len + 2);
        sig[0] = '<';
        slen = 1;

        while (depth > 0 && !sfn_jp_is(p, "{") && p->tok.type != SFN_JT_END) {
            sfn_jp_advance(p, NULL, 0);
            if (sfn_jp_is(p, ">")) {
                depth--;
            } else if (sfn_jp_is(p, "<")) {
                depth++;
            }
            if (p->tok.str.len && slen + p->tok.str.len <= p->lx.len + 1) {
                memcpy(sig + slen, p->tok.str.data, p->tok.str.len);
                slen += p->tok.str.len;
            }
        }

        t->signature = sfn_jsonata_signature(p->pool, sig, slen, code, &off);

        sfn_jp_advance(p, ">", 0);

        if (t->signature == NULL) {
            sfn_jp_fail(p, code, pos + off, NULL, 0, NULL);
        }
    }

    sfn_jp_advance(p, "{", 0);
    t->body = sfn_jp_expression(p, 0);
    sfn_jp_advance(p, "}", 0);

    return t;
}


static sfn_jnode_t *
sfn_jp_led(sfn_jparser_t *p, sfn_jnode_t *t, sfn_jnode_t *left)
{
    int           bp;
    sfn_jnode_t  *step, *ph;
    sfn_jterm_t  *term;

    if (sfn_jop_is(t, "(")) {
        t->procedure = left;
        t->type = SFN_JN_FUNCTION;

        if (!sfn_jp_is(p, ")")) {
            for ( ;; ) {
                if (sfn_jp_is(p, "?")) {
                    t->type = SFN_JN_PARTIAL;
                    ph = p->node;
                    ph->type = SFN_JN_PLACEHOLDER;
                    sfn_jp_push(p, &t->items, ph);
                    sfn_jp_advance(p, "?", 0);
                } else {
                    sfn_jp_push(p, &t->items, sfn_jp_expression(p, 0));
                }
                if (!sfn_jp_is(p, ",")) {
                    break;
                }
                sfn_jp_advance(p, ",", 0);
            }
        }

        sfn_jp_advance(p, ")", 1);

        if (left->type == SFN_JN_NAME
            && (sfn_jop_is(left, "function") || sfn_jop_is(left, "\xce\xbb")))
        {
            return sfn_jp_lambda(p, t);
        }

        return t;
    }

    if (sfn_jop_is(t, "[")) {
        if (sfn_jp_is(p, "]")) {
            step = left;
            while (step && step->type == SFN_JN_BINARY
                   && sfn_jop_is(step, "["))
            {
                step = step->lhs;
            }
            step->keep_array = 1;
            sfn_jp_advance(p, "]", 0);
            return left;
        }

        t->lhs = left;
        t->rhs = sfn_jp_expression(p, 0);
        t->type = SFN_JN_BINARY;
        sfn_jp_advance(p, "]", 1);
        return t;
    }

    if (sfn_jop_is(t, "^")) {
        sfn_jp_advance(p, "(", 0);
        for ( ;; ) {
            term = sfn_jp_alloc(p, sizeof(sfn_jterm_t));
            if (sfn_jp_is(p, "<")) {
                sfn_jp_advance(p, "<", 0);
            } else if (sfn_jp_is(p, ">")) {
                term->descending = 1;
                sfn_jp_advance(p, ">", 0);
            }
            term->expr = sfn_jp_expression(p, 0);
            sfn_jp_push(p, &t->terms, term);
            if (!sfn_jp_is(p, ",")) {
                break;
            }
            sfn_jp_advance(p, ",", 0);
        }
        sfn_jp_advance(p, ")", 0);
        t->lhs = left;
        t->type = SFN_JN_BINARY;
        return t;
    }

    if (sfn_jop_is(t, "{")) {
        return sfn_jp_object(p, t, left);
    }

    if (sfn_jop_is(t, ":=")) {
        if (left->type != SFN_JN_VARIABLE) {
            sfn_jp_fail(p, "S0212", left->position, left->str.data,
                        left->str.len, NULL);
        }
        t->lhs = left;
        t->rhs = sfn_jp_expression(p, 10 - 1);
        t->type = SFN_JN_BINARY;
        return t;
    }

    if (sfn_jop_is(t, "@") || sfn_jop_is(t, "#")) {
        t->lhs = left;
        t->rhs = sfn_jp_expression(p, 80);
        if (t->rhs->type != SFN_JN_VARIABLE) {
            sfn_jp_fail(p, "S0214", t->rhs->position, t->str.data,
                        t->str.len, NULL);
        }
        t->type = SFN_JN_BINARY;
        return t;
    }

    if (sfn_jop_is(t, "?")) {
        t->type = SFN_JN_CONDITION;
        t->cond = left;
        t->then = sfn_jp_expression(p, 0);
        if (sfn_jp_is(p, ":")) {
            sfn_jp_advance(p, ":", 0);
            t->els = sfn_jp_expression(p, 0);
            t->has_else = 1;
        }
        return t;
    }

    /* the plain infix operators */

    if (sfn_jop_is(t, ".")) {
        bp = 75;
    } else if (sfn_jop_is(t, "+") || sfn_jop_is(t, "-")
               || sfn_jop_is(t, "&"))
    {
        bp = 50;
    } else if (sfn_jop_is(t, "*") || sfn_jop_is(t, "/")
               || sfn_jop_is(t, "%"))
    {
        bp = 60;
    } else if (sfn_jop_is(t, "and")) {
        bp = 30;
    } else if (sfn_jop_is(t, "or")) {
        bp = 25;
    } else {
        bp = 40;
    }

    t->lhs = left;
    t->rhs = sfn_jp_expression(p, bp);
    t->type = SFN_JN_BINARY;

    return t;
}


static sfn_jnode_t *
sfn_jp_expression(sfn_jparser_t *p, int rbp)
{
    sfn_jnode_t  *t, *left;

    if (++p->depth > SFN_JPARSE_DEPTH) {
        sfn_jp_fail(p, "U1001", p->tok.position, NULL, 0, NULL);
    }

    t = p->node;
    sfn_jp_advance(p, NULL, 1);
    left = sfn_jp_nud(p, t);

    while (rbp < sfn_jp_lbp(p)) {
        t = p->node;
        sfn_jp_advance(p, NULL, 0);
        left = sfn_jp_led(p, t, left);
    }

    p->depth--;

    return left;
}


/* post-parse */

static sfn_jnode_t *
sfn_jp_tail_call(sfn_jparser_t *p, sfn_jnode_t *expr)
{
    sfn_jnode_t  *thunk;

    if (expr->type == SFN_JN_FUNCTION && expr->predicate.n == 0) {
        thunk = sfn_jp_node(p, SFN_JN_LAMBDA, expr->position);
        thunk->thunk = 1;
        thunk->body = expr;
        return thunk;
    }

    if (expr->type == SFN_JN_CONDITION) {
        expr->then = sfn_jp_tail_call(p, expr->then);
        if (expr->has_else) {
            expr->els = sfn_jp_tail_call(p, expr->els);
        }
        return expr;
    }

    if (expr->type == SFN_JN_BLOCK && expr->items.n > 0) {
        expr->items.v[expr->items.n - 1] =
            sfn_jp_tail_call(p, expr->items.v[expr->items.n - 1]);
    }

    return expr;
}


static sfn_jslot_t *
sfn_jp_seek_parent(sfn_jparser_t *p, sfn_jnode_t *node, sfn_jslot_t *slot)
{
    long          i;
    sfn_jnode_t  *anc;

    switch (node->type) {
    case SFN_JN_NAME:
    case SFN_JN_WILDCARD:
        slot->level--;
        if (slot->level == 0) {
            if (node->ancestor != NULL) {
                anc = p->ancestry.v[slot->index];
                anc->slot->label = node->ancestor->label;
            }
            node->ancestor = slot;
            node->tuple = 1;
        }
        break;

    case SFN_JN_PARENT:
        slot->level++;
        break;

    case SFN_JN_BLOCK:
        if (node->items.n > 0) {
            node->tuple = 1;
            slot = sfn_jp_seek_parent(p, node->items.v[node->items.n - 1],
                                      slot);
        }
        break;

    case SFN_JN_PATH:
        node->tuple = 1;
        i = (long) node->items.n - 1;
        slot = sfn_jp_seek_parent(p, node->items.v[i--], slot);
        while (slot->level > 0 && i >= 0) {
            slot = sfn_jp_seek_parent(p, node->items.v[i--], slot);
        }
        break;

    default:
        sfn_jp_fail(p, "S0217", node->position, NULL, 0, NULL);
    }

    return slot;
}


static void
sfn_jp_push_ancestry(sfn_jparser_t *p, sfn_jnode_t *result, sfn_jnode_t *value)
{
    size_t        i;
    sfn_jlist_t  *slots;

    if (value->seeking == NULL && value->type != SFN_JN_PARENT) {
        return;
    }

    slots = value->seeking;
    if (slots == NULL) {
        slots = sfn_jp_alloc(p, sizeof(sfn_jlist_t));
    }

    if (value->type == SFN_JN_PARENT) {
        sfn_jp_push(p, slots, value->slot);
    }

    if (result->seeking == NULL) {
        result->seeking = slots;

    } else {
        for (i = 0; i < slots->n; i++) {
            sfn_jp_push(p, result->seeking, slots->v[i]);
        }
    }
}


static void
sfn_jp_resolve_ancestry(sfn_jparser_t *p, sfn_jnode_t *path)
{
    long          index;
    size_t        is;
    sfn_jnode_t  *last, *step;
    sfn_jslot_t  *slot;
    sfn_jlist_t  *slots;

    index = (long) path->items.n - 1;
    last = path->items.v[index];

    slots = last->seeking;
    if (slots == NULL) {
        slots = sfn_jp_alloc(p, sizeof(sfn_jlist_t));
    }

    if (last->type == SFN_JN_PARENT) {
        sfn_jp_push(p, slots, last->slot);
    }

    for (is = 0; is < slots->n; is++) {
        slot = slots->v[is];
        index = (long) path->items.n - 2;

        while (slot->level > 0) {
            if (index < 0) {
                if (path->seeking == NULL) {
                    path->seeking = sfn_jp_alloc(p, sizeof(sfn_jlist_t));
                }
                sfn_jp_push(p, path->seeking, slot);
                break;
            }

            step = path->items.v[index--];
            while (index >= 0 && step->has_focus
                   && ((sfn_jnode_t *) path->items.v[index])->has_focus)
            {
                step = path->items.v[index--];
            }
            slot = sfn_jp_seek_parent(p, step, slot);
        }
    }
}


static sfn_jnode_t *
sfn_jp_path_of(sfn_jparser_t *p, sfn_jnode_t *step)
{
    sfn_jnode_t  *path;

    path = sfn_jp_node(p, SFN_JN_PATH, step->position);
    sfn_jp_push(p, &path->items, step);

    return path;
}


static sfn_jstage_t *
sfn_jp_stage(sfn_jparser_t *p, int type, size_t position)
{
    sfn_jstage_t  *s;

    s = sfn_jp_alloc(p, sizeof(sfn_jstage_t));
    s->type = type;
    s->position = position;

    return s;
}


static sfn_jnode_t *
sfn_jp_binary(sfn_jparser_t *p, sfn_jnode_t *expr)
{
    size_t         i;
    sfn_jnode_t   *result, *lstep, *rest, *step, *first, *last, *pred;
    sfn_jnode_t   *sort;
    sfn_jlist_t   *list;
    sfn_jpair_t   *pair, *np;
    sfn_jterm_t   *term, *nt;
    sfn_jslot_t   *slot;
    sfn_jstage_t  *stage;

    if (sfn_jop_is(expr, ".")) {
        lstep = sfn_jp_process(p, expr->lhs);

        if (lstep->type == SFN_JN_PATH) {
            result = lstep;
        } else {
            result = sfn_jp_path_of(p, lstep);
        }

        if (lstep->type == SFN_JN_PARENT) {
            result->seeking = sfn_jp_alloc(p, sizeof(sfn_jlist_t));
            sfn_jp_push(p, result->seeking, lstep->slot);
        }

        rest = sfn_jp_process(p, expr->rhs);

        if (rest->type == SFN_JN_PATH) {
            for (i = 0; i < rest->items.n; i++) {
                sfn_jp_push(p, &result->items, rest->items.v[i]);
            }

        } else {
            if (rest->predicate.n > 0) {
                rest->stages = rest->predicate;
                memset(&rest->predicate, 0, sizeof(sfn_jlist_t));
            }
            sfn_jp_push(p, &result->items, rest);
        }

        for (i = 0; i < result->items.n; i++) {
            step = result->items.v[i];
            if (step->type == SFN_JN_NUMBER || step->type == SFN_JN_VALUE) {
                sfn_jp_fail(p, "S0213", step->position, step->str.data,
                            step->str.len, NULL);
            }
            if (step->type == SFN_JN_STRING) {
                step->type = SFN_JN_NAME;
                step->value = NULL;
            }
        }

        for (i = 0; i < result->items.n; i++) {
            step = result->items.v[i];
            if (step->keep_array) {
                result->keep_singleton = 1;
            }
        }

        first = result->items.v[0];
        if (first->type == SFN_JN_ARRAY) {
            first->cons_array = 1;
        }

        last = result->items.v[result->items.n - 1];
        if (last->type == SFN_JN_ARRAY) {
            last->cons_array = 1;
        }

        sfn_jp_resolve_ancestry(p, result);
        return result;
    }

    if (sfn_jop_is(expr, "[")) {
        result = sfn_jp_process(p, expr->lhs);
        step = result;
        list = &result->predicate;

        if (result->type == SFN_JN_PATH) {
            step = result->items.v[result->items.n - 1];
            list = &step->stages;
        } else {
            list = &step->predicate;
        }

        if (step->group != NULL) {
            sfn_jp_fail(p, "S0209", expr->position, NULL, 0, NULL);
        }

        pred = sfn_jp_process(p, expr->rhs);

        if (pred->seeking != NULL) {
            for (i = 0; i < pred->seeking->n; i++) {
                slot = pred->seeking->v[i];
                if (slot->level == 1) {
                    sfn_jp_seek_parent(p, step, slot);
                } else {
                    slot->level--;
                }
            }
            sfn_jp_push_ancestry(p, step, pred);
        }

        stage = sfn_jp_stage(p, SFN_JS_FILTER, expr->position);
        stage->expr = pred;
        sfn_jp_push(p, list, stage);
        return result;
    }

    if (sfn_jop_is(expr, "{")) {
        result = sfn_jp_process(p, expr->lhs);

        if (result->group != NULL) {
            sfn_jp_fail(p, "S0210", expr->position, NULL, 0, NULL);
        }

        result->group = sfn_jp_alloc(p, sizeof(sfn_jlist_t));
        result->group_pos = expr->position;

        for (i = 0; i < expr->pairs.n; i++) {
            pair = expr->pairs.v[i];
            np = sfn_jp_alloc(p, sizeof(sfn_jpair_t));
            np->key = sfn_jp_process(p, pair->key);
            np->value = sfn_jp_process(p, pair->value);
            sfn_jp_push(p, result->group, np);
        }

        return result;
    }

    if (sfn_jop_is(expr, "^")) {
        result = sfn_jp_process(p, expr->lhs);
        if (result->type != SFN_JN_PATH) {
            result = sfn_jp_path_of(p, result);
        }

        sort = sfn_jp_node(p, SFN_JN_SORT, expr->position);

        for (i = 0; i < expr->terms.n; i++) {
            term = expr->terms.v[i];
            nt = sfn_jp_alloc(p, sizeof(sfn_jterm_t));
            nt->expr = sfn_jp_process(p, term->expr);
            nt->descending = term->descending;
            sfn_jp_push_ancestry(p, sort, nt->expr);
            sfn_jp_push(p, &sort->terms, nt);
        }

        sfn_jp_push(p, &result->items, sort);
        sfn_jp_resolve_ancestry(p, result);
        return result;
    }

    if (sfn_jop_is(expr, ":=")) {
        result = sfn_jp_node(p, SFN_JN_BIND, expr->position);
        result->lhs = sfn_jp_process(p, expr->lhs);
        result->rhs = sfn_jp_process(p, expr->rhs);
        sfn_jp_push_ancestry(p, result, result->rhs);
        return result;
    }

    if (sfn_jop_is(expr, "@")) {
        result = sfn_jp_process(p, expr->lhs);
        step = result;
        if (result->type == SFN_JN_PATH) {
            step = result->items.v[result->items.n - 1];
        }

        if (step->stages.n > 0 || step->predicate.n > 0) {
            sfn_jp_fail(p, "S0215", expr->position, NULL, 0, NULL);
        }

        if (step->type == SFN_JN_SORT) {
            sfn_jp_fail(p, "S0216", expr->position, NULL, 0, NULL);
        }

        if (expr->keep_array) {
            step->keep_array = 1;
        }

        step->focus = expr->rhs->str;
        step->has_focus = 1;
        step->tuple = 1;
        return result;
    }

    if (sfn_jop_is(expr, "#")) {
        result = sfn_jp_process(p, expr->lhs);
        step = result;

        if (result->type == SFN_JN_PATH) {
            step = result->items.v[result->items.n - 1];

        } else {
            result = sfn_jp_path_of(p, result);
            if (step->predicate.n > 0) {
                step->stages = step->predicate;
                memset(&step->predicate, 0, sizeof(sfn_jlist_t));
            }
        }

        if (step->stages.n == 0) {
            step->index = expr->rhs->str;
            step->has_index = 1;

        } else {
            stage = sfn_jp_stage(p, SFN_JS_INDEX, expr->position);
            stage->name = expr->rhs->str;
            sfn_jp_push(p, &step->stages, stage);
        }

        step->tuple = 1;
        return result;
    }

    if (sfn_jop_is(expr, "~>")) {
        result = sfn_jp_node(p, SFN_JN_APPLY, expr->position);
        result->str = expr->str;
        result->lhs = sfn_jp_process(p, expr->lhs);
        result->rhs = sfn_jp_process(p, expr->rhs);
        result->keep_array = result->lhs->keep_array
                             || result->rhs->keep_array;
        return result;
    }

    result = sfn_jp_node(p, SFN_JN_BINARY, expr->position);
    result->str = expr->str;
    result->name = sfn_pstrndup(p->pool, expr->str.data, expr->str.len);
    if (result->name == NULL) {
        sfn_jp_fail(p, "U1000", 0, NULL, 0, NULL);
    }
    result->lhs = sfn_jp_process(p, expr->lhs);
    result->rhs = sfn_jp_process(p, expr->rhs);
    sfn_jp_push_ancestry(p, result, result->lhs);
    sfn_jp_push_ancestry(p, result, result->rhs);

    return result;
}


static sfn_jnode_t *
sfn_jp_process(sfn_jparser_t *p, sfn_jnode_t *expr)
{
    size_t        i;
    sfn_jnode_t  *result, *v, *part;
    sfn_jpair_t  *pair, *np;

    if (++p->depth > SFN_JPARSE_DEPTH * 4) {
        sfn_jp_fail(p, "U1001", expr->position, NULL, 0, NULL);
    }

    switch (expr->type) {
    case SFN_JN_BINARY:
        result = sfn_jp_binary(p, expr);
        break;

    case SFN_JN_UNARY:
        result = sfn_jp_node(p, SFN_JN_UNARY, expr->position);
        result->str = expr->str;
        result->expr = sfn_jp_process(p, expr->expr);
        if (result->expr->type == SFN_JN_NUMBER) {
            result = result->expr;
            result->num = -result->num;
            sfn_jp_literal(p, result);
        } else {
            sfn_jp_push_ancestry(p, result, result->expr);
        }
        break;

    case SFN_JN_ARRAY:
        result = sfn_jp_node(p, SFN_JN_ARRAY, expr->position);
        for (i = 0; i < expr->items.n; i++) {
            v = sfn_jp_process(p, expr->items.v[i]);
            sfn_jp_push_ancestry(p, result, v);
            sfn_jp_push(p, &result->items, v);
        }
        break;

    case SFN_JN_OBJECT:
        result = sfn_jp_node(p, SFN_JN_OBJECT, expr->position);
        for (i = 0; i < expr->pairs.n; i++) {
            pair = expr->pairs.v[i];
            np = sfn_jp_alloc(p, sizeof(sfn_jpair_t));
            np->key = sfn_jp_process(p, pair->key);
            sfn_jp_push_ancestry(p, result, np->key);
            np->value = sfn_jp_process(p, pair->value);
            sfn_jp_push_ancestry(p, result, np->value);
            sfn_jp_push(p, &result->pairs, np);
        }
        break;

    case SFN_JN_FUNCTION:
    case SFN_JN_PARTIAL:
        result = sfn_jp_node(p, expr->type, expr->position);
        result->str = expr->str;
        for (i = 0; i < expr->items.n; i++) {
            v = sfn_jp_process(p, expr->items.v[i]);
            sfn_jp_push_ancestry(p, result, v);
            sfn_jp_push(p, &result->items, v);
        }
        result->procedure = sfn_jp_process(p, expr->procedure);

        /* the name errors give a call, NUL-terminated once */
        if (result->procedure->type == SFN_JN_PATH) {
            v = result->procedure->items.v[0];
            result->name = sfn_pstrndup(p->pool, v->str.data, v->str.len);

        } else if (result->procedure->type == SFN_JN_VARIABLE) {
            v = result->procedure;
            result->name = sfn_pstrndup(p->pool, v->str.data, v->str.len);
        }
        break;

    case SFN_JN_LAMBDA:
        result = sfn_jp_node(p, SFN_JN_LAMBDA, expr->position);
        result->items = expr->items;
        result->signature = expr->signature;
        result->body = sfn_jp_tail_call(p, sfn_jp_process(p, expr->body));
        break;

    case SFN_JN_CONDITION:
        result = sfn_jp_node(p, SFN_JN_CONDITION, expr->position);
        result->cond = sfn_jp_process(p, expr->cond);
        sfn_jp_push_ancestry(p, result, result->cond);
        result->then = sfn_jp_process(p, expr->then);
        sfn_jp_push_ancestry(p, result, result->then);
        if (expr->has_else) {
            result->els = sfn_jp_process(p, expr->els);
            result->has_else = 1;
            sfn_jp_push_ancestry(p, result, result->els);
        }
        break;

    case SFN_JN_TRANSFORM:
        result = sfn_jp_node(p, SFN_JN_TRANSFORM, expr->position);
        result->pattern = sfn_jp_process(p, expr->pattern);
        result->update = sfn_jp_process(p, expr->update);
        if (expr->del != NULL) {
            result->del = sfn_jp_process(p, expr->del);
        }
        break;

    case SFN_JN_BLOCK:
        result = sfn_jp_node(p, SFN_JN_BLOCK, expr->position);
        for (i = 0; i < expr->items.n; i++) {
            part = sfn_jp_process(p, expr->items.v[i]);
            sfn_jp_push_ancestry(p, result, part);
            if (part->cons_array
                || (part->type == SFN_JN_PATH
                    && ((sfn_jnode_t *) part->items.v[0])->cons_array))
            {
                result->cons_array = 1;
            }
            sfn_jp_push(p, &result->items, part);
        }
        break;

    case SFN_JN_NAME:
        result = sfn_jp_path_of(p, expr);
        if (expr->keep_array) {
            result->keep_singleton = 1;
        }
        break;

    case SFN_JN_PARENT:
        result = sfn_jp_node(p, SFN_JN_PARENT, expr->position);
        result->slot = sfn_jp_alloc(p, sizeof(sfn_jslot_t));
        result->slot->label.data = sfn_jp_alloc(p, 16);
        result->slot->label.len = snprintf((char *) result->slot->label.data,
                                           16, "!%d", p->label++);
        result->slot->level = 1;
        result->slot->index = p->index++;
        sfn_jp_push(p, &p->ancestry, result);
        break;

    case SFN_JN_STRING:
    case SFN_JN_NUMBER:
        sfn_jp_literal(p, expr);
        result = expr;
        break;

    case SFN_JN_VALUE:
    case SFN_JN_WILDCARD:
    case SFN_JN_DESCENDANT:
    case SFN_JN_VARIABLE:
    case SFN_JN_REGEX:
    case SFN_JN_PLACEHOLDER:
        result = expr;
        break;

    case SFN_JN_OPERATOR:
        if (sfn_jop_is(expr, "and") || sfn_jop_is(expr, "or")
            || sfn_jop_is(expr, "in"))
        {
            expr->type = SFN_JN_NAME;
            result = sfn_jp_process(p, expr);
            break;
        }
        sfn_jp_fail(p, "S0201", expr->position, expr->str.data, expr->str.len,
                    NULL);

    case SFN_JN_END:
        sfn_jp_fail(p, "S0207", expr->position, NULL, 0, NULL);

    default:
        sfn_jp_fail(p, "S0206", expr->position, NULL, 0, NULL);
    }

    if (expr->keep_array) {
        result->keep_array = 1;
    }

    p->depth--;

    return result;
}


sfn_jnode_t *
sfn_jsonata_parse(sfn_pool_t *pool, const char *text, size_t len,
    sfn_jlist_t *regexes, sfn_jperr_t *err)
{
    sfn_jnode_t     *expr;
    sfn_jparser_t    p;

    memset(&p, 0, sizeof(sfn_jparser_t));
    p.pool = pool;
    p.err = err;
    p.regexes = regexes;
    p.lx.src = text;
    p.lx.len = len;
    p.lx.pool = pool;

    if (setjmp(p.jmp) != 0) {
        return NULL;
    }

    sfn_jp_advance(&p, NULL, 0);
    expr = sfn_jp_expression(&p, 0);

    if (p.tok.type != SFN_JT_END) {
        sfn_jp_fail(&p, "S0201", p.tok.position, p.tok.str.data,
                    p.tok.str.len, NULL);
    }

    p.depth = 0;
    expr = sfn_jp_process(&p, expr);

    if (expr->type == SFN_JN_PARENT || expr->seeking != NULL) {
        sfn_jp_fail(&p, "S0217", expr->position, NULL, 0, NULL);
    }

    return expr;
}


/* signatures */

sfn_jsig_t *
sfn_jsonata_signature(sfn_pool_t *pool, const char *s, size_t len,
    char *code, size_t *offset)
{
    int            depth;
    char           c;
    size_t         pos, end, k;
    sfn_jsig_t    *sig;
    sfn_jparam_t  *prm, *prev;

    sig = sfn_pcalloc(pool, sizeof(sfn_jsig_t));
    if (sig == NULL) {
        return NULL;
    }

    sig->params = sfn_pcalloc(pool, (len + 1) * sizeof(sfn_jparam_t));
    sig->text = sfn_pstrndup(pool, s, len);
    if (sig->params == NULL || sig->text == NULL) {
        return NULL;
    }

    prev = NULL;

    for (pos = 1; pos < len; pos++) {
        c = s[pos];
        if (c == ':') {
            break;
        }

        prm = &sig->params[sig->n];

        switch (c) {
        case 's': case 'n': case 'b': case 'l': case 'o':
            prm->set[0] = c;
            prm->set[1] = 'm';
            prm->type = c;
            prev = prm;
            sig->n++;
            break;

        case 'a':
            strcpy(prm->set, "asnblfom");
            prm->type = c;
            prev = prm;
            sig->n++;
            break;

        case 'f':
            strcpy(prm->set, "f");
            prm->type = c;
            prev = prm;
            sig->n++;
            break;

        case 'j':
            strcpy(prm->set, "asnblom");
            prm->type = c;
            prev = prm;
            sig->n++;
            break;

        case 'x':
            strcpy(prm->set, "asnblfom");
            prm->type = c;
            prev = prm;
            sig->n++;
            break;

        case '-':
            if (prev) {
                prev->context = 1;
                prev->quant = '?';
            }
            break;

        case '?':
        case '+':
            if (prev) {
                prev->quant = c;
            }
            break;

        case '(':
            depth = 1;
            for (end = pos + 1; end < len; end++) {
                if (s[end] == ')' && --depth == 0) {
                    break;
                }
                if (s[end] == '(') {
                    depth++;
                }
            }
            if (memchr(s + pos + 1, '<', end - pos - 1) != NULL) {
                memcpy(code, "S0402", 6);
                *offset = pos;
                return NULL;
            }
            for (k = 0; k < end - pos - 1 && k < sizeof(prm->set) - 2; k++) {
                prm->set[k] = s[pos + 1 + k];
            }
            prm->set[k] = 'm';
            prm->type = '(';
            prev = prm;
            sig->n++;
            pos = end;
            break;

        case '<':
            if (prev == NULL || (prev->type != 'a' && prev->type != 'f')) {
                memcpy(code, "S0401", 6);
                *offset = pos;
                return NULL;
            }
            depth = 1;
            for (end = pos + 1; end < len; end++) {
                if (s[end] == '>' && --depth == 0) {
                    break;
                }
                if (s[end] == '<') {
                    depth++;
                }
            }
            prev->subtype.data = sig->text + pos + 1;
            prev->subtype.len = (end < len ? end : len) - pos - 1;
            pos = end;
            break;
        }
    }

    return sig;
}

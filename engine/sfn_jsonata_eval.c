
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata evaluator, jsonata-js's evaluate() and its helpers over the
 * values of sfn_jsonata_value.c: sequences and their singleton flattening,
 * tuple streams for the focus, index and parent bindings, predicates,
 * grouping, order-by, transforms, closures, partial application, function
 * chaining and tail calls through a trampoline.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "sfn_jsonata_int.h"


static sfn_jv_t *sfn_jev_path(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_filter(sfn_jctx_t *ctx, sfn_jnode_t *pred,
    sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_group(sfn_jctx_t *ctx, sfn_jlist_t *pairs,
    size_t position, sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_function(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env, sfn_jv_t **applyto);
static sfn_jv_t *sfn_jev_sort(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_binary(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_wildcard(sfn_jctx_t *ctx, sfn_jv_t *input);
static sfn_jv_t *sfn_jev_descendants(sfn_jctx_t *ctx, sfn_jv_t *input);
static sfn_jv_t *sfn_jev_partial(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env);
static sfn_jv_t *sfn_jev_apply(sfn_jctx_t *ctx, sfn_jnode_t *expr,
    sfn_jv_t *input, sfn_jenv_t *env);


/* a new function value of a kind */

static sfn_jv_t *
sfn_jnew_fn(sfn_jctx_t *ctx, int kind, sfn_jfn_t **out)
{
    sfn_jfn_t  *f;

    f = sfn_jalloc(ctx, sizeof(sfn_jfn_t));
    memset(f, 0, sizeof(sfn_jfn_t));
    f->kind = kind;
    *out = f;

    return sfn_jv_func(ctx, f);
}


/* environments */

sfn_jenv_t *
sfn_jenv_new(sfn_jctx_t *ctx, sfn_jenv_t *parent)
{
    sfn_jenv_t  *e;

    e = sfn_jalloc(ctx, sizeof(sfn_jenv_t));
    memset(e, 0, sizeof(sfn_jenv_t));
    e->parent = parent;

    return e;
}


void
sfn_jenv_bind(sfn_jctx_t *ctx, sfn_jenv_t *env, const char *name, size_t len,
    sfn_jv_t *v)
{
    size_t       i, cap;
    sfn_str_t   *nn;
    sfn_jv_t   **nv;

    for (i = 0; i < env->n; i++) {
        if (env->names[i].len == len
            && memcmp(env->names[i].data, name, len) == 0)
        {
            env->values[i] = v;
            return;
        }
    }

    if (env->n == env->cap) {
        cap = env->cap ? env->cap * 2 : 4;
        nn = sfn_jalloc(ctx, cap * sizeof(sfn_str_t));
        nv = sfn_jalloc(ctx, cap * sizeof(sfn_jv_t *));
        if (env->n) {
            memcpy(nn, env->names, env->n * sizeof(sfn_str_t));
            memcpy(nv, env->values, env->n * sizeof(sfn_jv_t *));
        }
        env->names = nn;
        env->values = nv;
        env->cap = cap;
    }

    env->names[env->n].data = name;
    env->names[env->n].len = len;
    env->values[env->n] = v;
    env->n++;
}


static int
sfn_jenv_find(sfn_jenv_t *env, const char *name, size_t len, sfn_jv_t **out)
{
    size_t  i;

    for ( ; env; env = env->parent) {
        for (i = 0; i < env->n; i++) {
            if (env->names[i].len == len
                && (len == 0 || env->names[i].data[0] == name[0])
                && memcmp(env->names[i].data, name, len) == 0)
            {
                *out = env->values[i];
                return 1;
            }
        }
    }

    return 0;
}


sfn_jv_t *
sfn_jenv_lookup(sfn_jctx_t *ctx, sfn_jenv_t *env, const char *name,
    size_t len)
{
    sfn_jv_t        *v;
    sfn_jfn_t       *f;
    const cJSON     *j;
    sfn_jbuiltin_t  *b;

    if (len == 0) {
        name = "";          /* a step with no name has no text either */
    }

    if (sfn_jenv_find(env, name, len, &v)) {
        return v;
    }

    /* the host's variables come before the builtins, as bindings do */
    if (ctx->host && ctx->host->variable
        && (j = ctx->host->variable(ctx->host->data, name, len)) != NULL)
    {
        v = sfn_jv_from_json_ref(ctx, j);
        sfn_jenv_bind(ctx, ctx->root, name, len, v);
        return v;
    }

    /* Step Functions' $random takes a seed: its own before JSONata's */
    b = ctx->host && ctx->host->aws ? sfn_jsonata_aws_builtin(name, len)
                                    : NULL;
    if (b == NULL) {
        b = sfn_jsonata_builtin(name, len);
    }

    if (b == NULL) {
        return NULL;
    }

    /* one value per builtin and evaluation: $f = $f holds */
    v = sfn_jnew_fn(ctx, SFN_JF_NATIVE, &f);
    f->builtin = b;
    f->sig = b->sig;
    f->arity = b->arity;
    sfn_jenv_bind(ctx, ctx->root, b->name, strlen(b->name), v);

    return v;
}


static sfn_jenv_t *
sfn_jenv_tuple(sfn_jctx_t *ctx, sfn_jenv_t *env, sfn_jv_t *tuple)
{
    size_t       i;
    sfn_jenv_t  *e;

    e = sfn_jenv_new(ctx, env);

    if (tuple == NULL || tuple->type != SFN_JV_OBJECT) {
        return e;
    }

    for (i = 0; i < tuple->u.o->n; i++) {
        sfn_jenv_bind(ctx, e, tuple->u.o->k[i].data, tuple->u.o->k[i].len,
                      tuple->u.o->v[i]);
    }

    return e;
}


static sfn_jv_t *
sfn_jtuple_at(sfn_jv_t *tuple)
{
    return sfn_jv_get(tuple, "@", 1);
}


static sfn_jv_t *
sfn_jtuple_copy(sfn_jctx_t *ctx, sfn_jv_t *tuple)
{
    size_t     i;
    sfn_jv_t  *t;

    t = sfn_jv_object(ctx);

    if (tuple) {
        for (i = 0; i < tuple->u.o->n; i++) {
            sfn_jv_set(ctx, t, tuple->u.o->k[i].data, tuple->u.o->k[i].len,
                       tuple->u.o->v[i]);
        }
    }

    return t;
}


/* limits */

static int64_t
sfn_jnow_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/*
 * The work budget: steps, and the bytes allocated since the evaluation
 * began, 64 to a step (copying them is the work).  Deterministic, unlike
 * the clock: the same expression fails the same way on a loaded machine.
 */
void
sfn_jbudget(sfn_jctx_t *ctx)
{
    if (ctx->max_steps
        && ctx->steps + (int64_t) ((ctx->memory - ctx->memory0) >> 6)
           > ctx->max_steps)
    {
        ctx->message = "Expression evaluation exceeds its budget of work: "
                       "Check for infinite loop";
        sfn_jthrow(ctx, "U1001");
    }
}


/* every SFN_JTICKS steps: the budget and the clock */
void
sfn_jtick(sfn_jctx_t *ctx)
{
    ctx->ticks = SFN_JTICKS;
    ctx->steps += SFN_JTICKS;

    sfn_jbudget(ctx);

    if (ctx->deadline && sfn_jnow_ms() > ctx->deadline) {
        ctx->message = "Expression evaluation timeout: Check for infinite "
                       "loop";
        sfn_jthrow(ctx, "U1001");
    }
}


static void
sfn_jcheck(sfn_jctx_t *ctx)
{
    if (ctx->depth > ctx->max_depth) {
        ctx->message = "Stack overflow error: Check for non-terminating "
                       "recursive function.  Consider rewriting as "
                       "tail-recursive.";
        sfn_jthrow(ctx, "U1001");
    }

    if (--ctx->ticks == 0) {
        sfn_jtick(ctx);
    }
}


/* sequences */

static sfn_jv_t *
sfn_jseq(sfn_jctx_t *ctx)
{
    return sfn_jv_array(ctx, SFN_JV_SEQ);
}


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


/* fn.lookup */

sfn_jv_t *
sfn_jlookup(sfn_jctx_t *ctx, sfn_jv_t *input, const char *k, size_t len)
{
    size_t     i, j;
    sfn_jv_t  *r, *res;

    if (input == NULL) {
        return NULL;
    }

    if (input->type == SFN_JV_ARRAY) {
        r = sfn_jseq(ctx);
        for (i = 0; i < sfn_jlen(input); i++) {
            res = sfn_jlookup(ctx, sfn_jat(input, i), k, len);
            if (res == NULL) {
                continue;
            }
            if (res->type == SFN_JV_ARRAY) {
                for (j = 0; j < sfn_jlen(res); j++) {
                    sfn_jv_push(ctx, r, sfn_jat(res, j));
                }
            } else {
                sfn_jv_push(ctx, r, res);
            }
        }
        return r;
    }

    if (input->type == SFN_JV_OBJECT) {
        return sfn_jv_get(input, k, len);
    }

    return NULL;
}


/*
 * evaluate() of a literal, or of a name looked up in an object, where the
 * general walk would add nothing: no call, no sequence.
 */
static sfn_jv_t *
sfn_jeval_leaf(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    sfn_jv_t     *v;
    sfn_jnode_t  *step;

    if (expr->predicate.n == 0 && expr->group == NULL) {

        if (expr->type == SFN_JN_NUMBER || expr->type == SFN_JN_STRING
            || expr->type == SFN_JN_VALUE)
        {
            if (expr->value) {
                return expr->value;
            }

        } else if (expr->type == SFN_JN_VARIABLE && expr->str.len) {
            v = sfn_jenv_lookup(ctx, env, expr->str.data, expr->str.len);

            if (v == NULL || v->type != SFN_JV_ARRAY
                || !(v->flags & SFN_JV_SEQ))
            {
                return v;
            }

            /* a sequence: the general walk flattens it */

        } else if (expr->type == SFN_JN_PATH && expr->items.n == 1
                   && input && input->type == SFN_JV_OBJECT
                   && !expr->keep_singleton && !expr->tuple)
        {
            step = expr->items.v[0];

            if (step->type == SFN_JN_NAME && step->stages.n == 0
                && step->predicate.n == 0 && !step->tuple
                && !step->has_focus && !step->has_index && !step->ancestor
                && !step->group && !step->keep_array && !step->cons_array
                && !step->keep_singleton)
            {
                v = sfn_jv_get(input, step->str.data, step->str.len);

                if (v == NULL || v->type != SFN_JV_ARRAY
                    || !(v->flags & SFN_JV_SEQ))
                {
                    return v;
                }
            }
        }
    }

    return sfn_jeval(ctx, expr, input, env);
}


/* evaluate() */

sfn_jv_t *
sfn_jeval(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    size_t         i;
    sfn_jv_t      *result, *v;
    sfn_jfn_t     *f;
    sfn_jstage_t  *st;

    ctx->depth++;
    sfn_jcheck(ctx);

    result = NULL;

    switch (expr->type) {
    case SFN_JN_PATH:
        result = sfn_jev_path(ctx, expr, input, env);
        break;

    case SFN_JN_BINARY:
        result = sfn_jev_binary(ctx, expr, input, env);
        break;

    case SFN_JN_UNARY:
        v = sfn_jeval(ctx, expr->expr, input, env);
        if (v == NULL) {
            result = NULL;
        } else if (sfn_jv_is_numeric(ctx, v)) {
            result = sfn_jv_number(ctx, -v->u.n);
        } else {
            ctx->token = "-";
            sfn_jthrow_v(ctx, "D1002", v);
        }
        break;

    case SFN_JN_ARRAY:
        result = sfn_jv_array(ctx, 0);
        for (i = 0; i < expr->items.n; i++) {
            sfn_jnode_t  *item = expr->items.v[i];

            v = sfn_jeval(ctx, item, input, env);
            if (v == NULL) {
                continue;
            }
            if (item->type == SFN_JN_ARRAY) {
                sfn_jv_push(ctx, result, v);
            } else {
                result = sfn_jv_append(ctx, result, v);
            }
        }
        if (expr->cons_array) {
            result->flags |= SFN_JV_CONS;
        }
        break;

    case SFN_JN_OBJECT:
        result = sfn_jev_group(ctx, &expr->pairs, expr->position, input, env);
        break;

    case SFN_JN_NAME:
        result = sfn_jlookup(ctx, input, expr->str.data, expr->str.len);
        break;

    case SFN_JN_STRING:
        result = expr->value ? expr->value
                             : sfn_jv_string(ctx, expr->str.data,
                                             expr->str.len);
        break;

    case SFN_JN_NUMBER:
        result = expr->value ? expr->value : sfn_jv_number(ctx, expr->num);
        break;

    case SFN_JN_VALUE:
        result = expr->value;
        break;

    case SFN_JN_WILDCARD:
        result = sfn_jev_wildcard(ctx, input);
        break;

    case SFN_JN_DESCENDANT:
        result = sfn_jev_descendants(ctx, input);
        break;

    case SFN_JN_PARENT:
        result = sfn_jenv_lookup(ctx, env, expr->slot->label.data,
                                 expr->slot->label.len);
        break;

    case SFN_JN_CONDITION:
        v = sfn_jeval(ctx, expr->cond, input, env);
        if (sfn_jv_boolean(ctx, v) == 1) {
            result = sfn_jeval(ctx, expr->then, input, env);
        } else if (expr->has_else) {
            result = sfn_jeval(ctx, expr->els, input, env);
        }
        break;

    case SFN_JN_BLOCK:
        env = sfn_jenv_new(ctx, env);
        for (i = 0; i < expr->items.n; i++) {
            result = sfn_jeval(ctx, expr->items.v[i], input, env);
        }
        break;

    case SFN_JN_BIND:
        result = sfn_jeval(ctx, expr->rhs, input, env);
        sfn_jenv_bind(ctx, env, expr->lhs->str.data, expr->lhs->str.len,
                      result);
        break;

    case SFN_JN_REGEX:
        result = sfn_jnew_fn(ctx, SFN_JF_REGEX, &f);
        f->re = expr->re;
        f->arity = 2;
        f->node = expr;
        break;

    case SFN_JN_FUNCTION:
        result = sfn_jev_function(ctx, expr, input, env, NULL);
        break;

    case SFN_JN_VARIABLE:
        if (expr->str.len == 0) {
            result = input;
            if (input && input->type == SFN_JV_ARRAY
                && (input->flags & SFN_JV_OUTER))
            {
                result = sfn_jlen(input) ? sfn_jat(input, 0) : NULL;
            }
        } else {
            result = sfn_jenv_lookup(ctx, env, expr->str.data, expr->str.len);
        }
        break;

    case SFN_JN_LAMBDA:
        result = sfn_jnew_fn(ctx, SFN_JF_LAMBDA, &f);
        f->node = expr;
        f->input = input;
        f->env = env;
        f->sig = expr->signature;
        f->thunk = expr->thunk;
        f->arity = (int) expr->items.n;
        break;

    case SFN_JN_PARTIAL:
        result = sfn_jev_partial(ctx, expr, input, env);
        break;

    case SFN_JN_APPLY:
        result = sfn_jev_apply(ctx, expr, input, env);
        break;

    case SFN_JN_TRANSFORM:
        result = sfn_jnew_fn(ctx, SFN_JF_TRANSFORM, &f);
        f->node = expr;
        f->env = env;
        f->arity = 1;
        break;

    case SFN_JN_SORT:
        result = sfn_jev_sort(ctx, expr, input, env);
        break;
    }

    for (i = 0; i < expr->predicate.n; i++) {
        st = expr->predicate.v[i];
        result = sfn_jev_filter(ctx, st->expr, result, env);
    }

    if (expr->type != SFN_JN_PATH && expr->group != NULL) {
        result = sfn_jev_group(ctx, expr->group, expr->group_pos, result, env);
    }

    ctx->depth--;

    if (result && result->type == SFN_JV_ARRAY
        && (result->flags & SFN_JV_SEQ) && !(result->flags & SFN_JV_TUPLE))
    {
        if (expr->keep_array) {
            result->flags |= SFN_JV_KEEP;
        }
        if (sfn_jlen(result) == 0) {
            result = NULL;
        } else if (sfn_jlen(result) == 1 && !(result->flags & SFN_JV_KEEP)) {
            result = sfn_jat(result, 0);
        }
    }

    return result;
}


/* paths */

static sfn_jv_t *
sfn_jev_stages(sfn_jctx_t *ctx, sfn_jlist_t *stages, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    size_t         s, e;
    sfn_jv_t      *result;
    sfn_jstage_t  *st;

    result = input;

    for (s = 0; s < stages->n; s++) {
        st = stages->v[s];

        if (st->type == SFN_JS_FILTER) {
            result = sfn_jev_filter(ctx, st->expr, result, env);

        } else if (result && result->type == SFN_JV_ARRAY) {
            for (e = 0; e < sfn_jlen(result); e++) {
                sfn_jv_set(ctx, sfn_jat(result, e), st->name.data,
                           st->name.len, sfn_jv_number(ctx, (double) e));
            }
        }
    }

    return result;
}


static sfn_jv_t *
sfn_jev_step(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env, int last)
{
    size_t         i, j, s;
    sfn_jv_t      *result, *res, *seq;
    sfn_jstage_t  *st;

    if (expr->type == SFN_JN_SORT) {
        result = sfn_jev_sort(ctx, expr, input, env);
        if (expr->stages.n) {
            result = sfn_jev_stages(ctx, &expr->stages, result, env);
        }
        return result;
    }

    result = sfn_jseq(ctx);

    for (i = 0; i < sfn_jlen(input); i++) {
        res = sfn_jeval(ctx, expr, sfn_jat(input, i), env);
        for (s = 0; s < expr->stages.n; s++) {
            st = expr->stages.v[s];
            res = sfn_jev_filter(ctx, st->expr, res, env);
        }
        if (res != NULL) {
            sfn_jv_push(ctx, result, res);
        }
    }

    if (last && sfn_jlen(result) == 1 && sfn_jv_is_array(sfn_jat(result, 0))
        && !sfn_jv_is_seq(sfn_jat(result, 0)))
    {
        return sfn_jat(result, 0);
    }

    seq = sfn_jseq(ctx);

    for (i = 0; i < sfn_jlen(result); i++) {
        res = sfn_jat(result, i);
        if (res == NULL || res->type != SFN_JV_ARRAY
            || (res->flags & SFN_JV_CONS))
        {
            sfn_jv_push(ctx, seq, res);
        } else {
            for (j = 0; j < sfn_jlen(res); j++) {
                sfn_jv_push(ctx, seq, sfn_jat(res, j));
            }
        }
    }

    return seq;
}


static sfn_jv_t *
sfn_jev_tuple_step(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jv_t *tuples, sfn_jenv_t *env)
{
    size_t       i, b;
    sfn_jv_t    *result, *sorted, *tuple, *res, *item, *src, *at;
    sfn_jenv_t  *step_env;

    if (expr->type == SFN_JN_SORT) {
        if (tuples) {
            result = sfn_jev_sort(ctx, expr, tuples, env);

        } else {
            sorted = sfn_jev_sort(ctx, expr, input, env);
            result = sfn_jseq(ctx);
            result->flags |= SFN_JV_TUPLE;
            for (i = 0; sorted && i < sfn_jlen(sorted); i++) {
                tuple = sfn_jv_object(ctx);
                sfn_jv_set(ctx, tuple, "@", 1, sfn_jat(sorted, i));
                if (expr->has_index) {
                    sfn_jv_set(ctx, tuple, expr->index.data, expr->index.len,
                               sfn_jv_number(ctx, (double) i));
                }
                sfn_jv_push(ctx, result, tuple);
            }
        }

        if (expr->stages.n) {
            result = sfn_jev_stages(ctx, &expr->stages, result, env);
        }
        return result;
    }

    result = sfn_jseq(ctx);
    result->flags |= SFN_JV_TUPLE;

    if (tuples == NULL) {
        tuples = sfn_jseq(ctx);
        for (i = 0; i < sfn_jlen(input); i++) {
            tuple = sfn_jv_object(ctx);
            sfn_jv_set(ctx, tuple, "@", 1, sfn_jat(input, i));
            sfn_jv_push(ctx, tuples, tuple);
        }
    }

    for (i = 0; i < sfn_jlen(tuples); i++) {
        src = sfn_jat(tuples, i);
        step_env = sfn_jenv_tuple(ctx, env, src);
        at = sfn_jtuple_at(src);
        res = sfn_jeval(ctx, expr, at, step_env);

        if (res == NULL) {
            continue;
        }

        if (res->type != SFN_JV_ARRAY) {
            res = sfn_jv_seq1(ctx, res);
        }

        for (b = 0; b < sfn_jlen(res); b++) {
            tuple = sfn_jtuple_copy(ctx, src);
            item = sfn_jat(res, b);

            if (res->flags & SFN_JV_TUPLE) {
                size_t  k;

                for (k = 0; item && k < item->u.o->n; k++) {
                    sfn_jv_set(ctx, tuple, item->u.o->k[k].data,
                               item->u.o->k[k].len, item->u.o->v[k]);
                }

            } else {
                if (expr->has_focus) {
                    sfn_jv_set(ctx, tuple, expr->focus.data, expr->focus.len,
                               item);
                    sfn_jv_set(ctx, tuple, "@", 1, at);
                } else {
                    sfn_jv_set(ctx, tuple, "@", 1, item);
                }
                if (expr->has_index) {
                    sfn_jv_set(ctx, tuple, expr->index.data, expr->index.len,
                               sfn_jv_number(ctx, (double) b));
                }
                if (expr->ancestor) {
                    sfn_jv_set(ctx, tuple, expr->ancestor->label.data,
                               expr->ancestor->label.len, at);
                }
            }

            sfn_jv_push(ctx, result, tuple);
        }
    }

    if (expr->stages.n) {
        result = sfn_jev_stages(ctx, &expr->stages, result, env);
    }

    return result;
}


/*
 * A path of names, after a variable or not, through objects: a lookup a
 * step, without the sequences the general walk builds for each.  Returns
 * 0 when the path or the values need the general walk: an array before
 * the last step maps the steps after it.
 */
static int
sfn_jev_path_names(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env, sfn_jv_t **out)
{
    size_t        i;
    sfn_jv_t     *v;
    sfn_jnode_t  *step;

    if (expr->keep_singleton || expr->group != NULL || expr->tuple) {
        return 0;
    }

    v = input;

    for (i = 0; i < expr->items.n; i++) {
        step = expr->items.v[i];

        if (step->stages.n || step->predicate.n || step->tuple
            || step->has_focus || step->has_index || step->ancestor
            || step->group || step->keep_array || step->cons_array
            || step->keep_singleton)
        {
            return 0;
        }

        if (i == 0 && step->type == SFN_JN_VARIABLE && step->str.len) {
            v = sfn_jenv_lookup(ctx, env, step->str.data, step->str.len);

        } else if (step->type == SFN_JN_NAME) {
            if (v == NULL) {
                break;
            }

            if (v->type != SFN_JV_OBJECT) {
                return 0;
            }

            v = sfn_jv_get(v, step->str.data, step->str.len);

        } else {
            return 0;
        }

        if (v && v->type == SFN_JV_ARRAY
            && (i + 1 < expr->items.n || (v->flags & SFN_JV_SEQ)))
        {
            return 0;
        }
    }

    *out = v;

    return 1;
}


static sfn_jv_t *
sfn_jev_path(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    int           tuple_stream;
    size_t        i;
    sfn_jv_t     *in, *result, *tuples, *seq;
    sfn_jnode_t  *step;

    if (sfn_jev_path_names(ctx, expr, input, env, &result)) {
        return result;
    }

    step = expr->items.v[0];

    if (input && input->type == SFN_JV_ARRAY && step->type != SFN_JN_VARIABLE) {
        in = input;
    } else {
        in = sfn_jv_seq1(ctx, input);
    }

    result = NULL;
    tuples = NULL;
    tuple_stream = 0;

    for (i = 0; i < expr->items.n; i++) {
        step = expr->items.v[i];

        if (step->tuple) {
            tuple_stream = 1;
        }

        if (i == 0 && step->cons_array) {
            result = sfn_jeval(ctx, step, in, env);

        } else if (tuple_stream) {
            tuples = sfn_jev_tuple_step(ctx, step, in, tuples, env);

        } else {
            result = sfn_jev_step(ctx, step, in, env,
                                  i == expr->items.n - 1);
        }

        if (!tuple_stream
            && (result == NULL
                || (result->type == SFN_JV_ARRAY && sfn_jlen(result) == 0)))
        {
            break;
        }

        if (!step->has_focus) {
            in = result;
        }
    }

    if (tuple_stream) {
        if (expr->tuple) {
            result = tuples;
        } else {
            result = sfn_jseq(ctx);
            for (i = 0; tuples && i < sfn_jlen(tuples); i++) {
                sfn_jv_push(ctx, result, sfn_jtuple_at(sfn_jat(tuples, i)));
            }
        }
    }

    if (expr->keep_singleton && result != NULL) {
        if (result->type == SFN_JV_ARRAY && (result->flags & SFN_JV_CONS)
            && !(result->flags & SFN_JV_SEQ))
        {
            seq = sfn_jv_seq1(ctx, result);
            result = seq;
        }
        if (result->type == SFN_JV_ARRAY) {
            result->flags |= SFN_JV_KEEP;
        }
    }

    if (expr->group != NULL) {
        result = sfn_jev_group(ctx, expr->group, expr->group_pos,
                               tuple_stream ? tuples : result, env);
    }

    return result;
}


static int
sfn_jis_array_of_numbers(sfn_jctx_t *ctx, sfn_jv_t *v)
{
    size_t  i;

    if (v == NULL || v->type != SFN_JV_ARRAY) {
        return 0;
    }

    for (i = 0; i < sfn_jlen(v); i++) {
        if (!sfn_jv_is_numeric(ctx, sfn_jat(v, i))) {
            return 0;
        }
    }

    return 1;
}


static sfn_jv_t *
sfn_jev_filter(sfn_jctx_t *ctx, sfn_jnode_t *pred, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    size_t       i, k;
    double       idx;
    sfn_jv_t    *results, *item, *context, *res;
    sfn_jenv_t  *e;

    results = sfn_jseq(ctx);

    if (input && input->type == SFN_JV_ARRAY && (input->flags & SFN_JV_TUPLE)) {
        results->flags |= SFN_JV_TUPLE;
    }

    if (input == NULL || input->type != SFN_JV_ARRAY) {
        input = sfn_jv_seq1(ctx, input);
    }

    if (pred->type == SFN_JN_NUMBER) {
        idx = floor(pred->num);
        if (idx < 0) {
            idx += (double) sfn_jlen(input);
        }
        if (idx >= 0 && idx < (double) sfn_jlen(input)) {
            item = sfn_jat(input, (size_t) idx);
            if (item != NULL) {
                if (item->type == SFN_JV_ARRAY) {
                    results = item;
                } else {
                    sfn_jv_push(ctx, results, item);
                }
            }
        }
        return results;
    }

    for (i = 0; i < sfn_jlen(input); i++) {
        item = sfn_jat(input, i);
        context = item;
        e = env;

        if (input->flags & SFN_JV_TUPLE) {
            context = sfn_jtuple_at(item);
            e = sfn_jenv_tuple(ctx, env, item);
        }

        res = sfn_jeval(ctx, pred, context, e);

        if (sfn_jv_is_numeric(ctx, res)) {
            res = sfn_jv_seq1(ctx, res);
        }

        if (sfn_jis_array_of_numbers(ctx, res)) {
            for (k = 0; k < sfn_jlen(res); k++) {
                idx = floor(sfn_jat(res, k)->u.n);
                if (idx < 0) {
                    idx += (double) sfn_jlen(input);
                }
                if (idx == (double) i) {
                    sfn_jv_push(ctx, results, item);
                }
            }

        } else if (sfn_jv_boolean(ctx, res) == 1) {
            sfn_jv_push(ctx, results, item);
        }
    }

    return results;
}


/* operators */

static int
sfn_jstrcmp(sfn_jv_t *a, sfn_jv_t *b)
{
    size_t  n;
    int     c;

    n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
    c = memcmp(a->u.s.data, b->u.s.data, n);
    if (c != 0) {
        return c;
    }

    return a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len;
}


static int
sfn_jstrict_equal(sfn_jv_t *a, sfn_jv_t *b)
{
    if (a == b) {
        return a == NULL || a->type != SFN_JV_NUMBER || !isnan(a->u.n);
    }

    if (a == NULL || b == NULL || a->type != b->type) {
        return 0;
    }

    switch (a->type) {
    case SFN_JV_NULL:
        return 1;
    case SFN_JV_BOOL:
        return a->u.b == b->u.b;
    case SFN_JV_NUMBER:
        return a->u.n == b->u.n;
    case SFN_JV_STRING:
        return sfn_jstrcmp(a, b) == 0;
    default:
        return 0;
    }
}


static sfn_jv_t *
sfn_jev_binary(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    int        lb, c, lcmp, rcmp;
    size_t     i;
    double     l, r, size;
    sfn_jv_t  *lhs, *rhs, *result, *ls, *rs;

    lhs = sfn_jeval_leaf(ctx, expr->lhs, input, env);
    ctx->token = expr->name;

    /* the operators are "and" and "or" among those that start so */
    if (expr->str.data[0] == 'a' || expr->str.data[0] == 'o') {
        lb = sfn_jv_boolean(ctx, lhs) == 1;

        if (expr->str.data[0] == 'a') {
            if (!lb) {
                return &sfn_jv_false;
            }
        } else if (lb) {
            return &sfn_jv_true;
        }

        rhs = sfn_jeval(ctx, expr->rhs, input, env);
        return sfn_jv_bool(sfn_jv_boolean(ctx, rhs) == 1);
    }

    rhs = sfn_jeval_leaf(ctx, expr->rhs, input, env);
    ctx->token = expr->name;

    switch (expr->str.data[0]) {
    case '+': case '-': case '*': case '/': case '%':
        if (lhs != NULL && !sfn_jv_is_numeric(ctx, lhs)) {
            sfn_jthrow_v(ctx, "T2001", lhs);
        }
        if (rhs != NULL && !sfn_jv_is_numeric(ctx, rhs)) {
            sfn_jthrow_v(ctx, "T2002", rhs);
        }
        if (lhs == NULL || rhs == NULL) {
            return NULL;
        }
        l = lhs->u.n;
        r = rhs->u.n;
        switch (expr->str.data[0]) {
        case '+': return sfn_jv_number(ctx, l + r);
        case '-': return sfn_jv_number(ctx, l - r);
        case '*': return sfn_jv_number(ctx, l * r);
        case '/': return sfn_jv_number(ctx, l / r);
        }

        /* integers in C's range: its % is fmod's, but for the zero's sign */
        if (l >= -9e15 && l <= 9e15 && r >= -9e15 && r <= 9e15 && r != 0
            && l == (double) (int64_t) l && r == (double) (int64_t) r)
        {
            size = (double) ((int64_t) l % (int64_t) r);
            return sfn_jv_number(ctx, size == 0 && l < 0 ? -0.0 : size);
        }

        return sfn_jv_number(ctx, fmod(l, r));

    case '=':
        if (lhs == NULL || rhs == NULL) {
            return &sfn_jv_false;
        }
        return sfn_jv_bool(sfn_jv_deep_equal(lhs, rhs));

    case '!':
        if (lhs == NULL || rhs == NULL) {
            return &sfn_jv_false;
        }
        return sfn_jv_bool(!sfn_jv_deep_equal(lhs, rhs));

    case '<': case '>':
        lcmp = lhs == NULL || lhs->type == SFN_JV_STRING
               || lhs->type == SFN_JV_NUMBER;
        rcmp = rhs == NULL || rhs->type == SFN_JV_STRING
               || rhs->type == SFN_JV_NUMBER;

        if (!lcmp || !rcmp) {
            ctx->value = (lhs == NULL || !lcmp) ? lhs : rhs;
            if (lhs && (lhs->type == SFN_JV_STRING
                        || lhs->type == SFN_JV_NUMBER))
            {
                ctx->value = rhs;
            }
            sfn_jthrow(ctx, "T2010");
        }

        if (lhs == NULL || rhs == NULL) {
            return NULL;
        }

        if (lhs->type != rhs->type) {
            ctx->value2 = rhs;
            sfn_jthrow_v(ctx, "T2009", lhs);
        }

        if (lhs->type == SFN_JV_STRING) {
            c = sfn_jstrcmp(lhs, rhs);
            if (expr->str.data[0] == '<') {
                return sfn_jv_bool(expr->str.len == 1 ? c < 0 : c <= 0);
            }
            return sfn_jv_bool(expr->str.len == 1 ? c > 0 : c >= 0);
        }

        l = lhs->u.n;
        r = rhs->u.n;
        if (expr->str.data[0] == '<') {
            return sfn_jv_bool(expr->str.len == 1 ? l < r : l <= r);
        }
        return sfn_jv_bool(expr->str.len == 1 ? l > r : l >= r);

    case '&':
        ls = lhs ? sfn_jfn_string(ctx, lhs) : NULL;
        rs = rhs ? sfn_jfn_string(ctx, rhs) : NULL;
        result = sfn_jalloc(ctx, sizeof(sfn_jv_t));
        {
            size_t  ll = ls ? ls->u.s.len : 0, rl = rs ? rs->u.s.len : 0;
            char   *p = sfn_jalloc(ctx, ll + rl + 1);

            if (ll) {
                memcpy(p, ls->u.s.data, ll);
            }
            if (rl) {
                memcpy(p + ll, rs->u.s.data, rl);
            }
            p[ll + rl] = '\0';
            result->type = SFN_JV_STRING;
            result->flags = 0;
            result->u.s.data = p;
            result->u.s.len = ll + rl;
        }
        return result;

    case '.':
        /* the range operator ".." */
        if (lhs != NULL
            && (lhs->type != SFN_JV_NUMBER || lhs->u.n != floor(lhs->u.n)
                || isinf(lhs->u.n)))
        {
            sfn_jthrow_v(ctx, "T2003", lhs);
        }
        if (rhs != NULL
            && (rhs->type != SFN_JV_NUMBER || rhs->u.n != floor(rhs->u.n)
                || isinf(rhs->u.n)))
        {
            sfn_jthrow_v(ctx, "T2004", rhs);
        }
        if (lhs == NULL || rhs == NULL || lhs->u.n > rhs->u.n) {
            return NULL;
        }
        size = rhs->u.n - lhs->u.n + 1;
        if (size > 1e7) {
            sfn_jthrow_v(ctx, "D2014", sfn_jv_number(ctx, size));
        }
        result = sfn_jseq(ctx);
        result->u.a->v = sfn_jalloc(ctx, (size_t) size * sizeof(sfn_jv_t *));
        result->u.a->cap = (size_t) size;
        {
            sfn_jv_t  *nums = sfn_jalloc(ctx, (size_t) size * sizeof(sfn_jv_t));

            for (i = 0; i < (size_t) size; i++) {
                nums[i].type = SFN_JV_NUMBER;
                nums[i].flags = 0;
                nums[i].u.n = lhs->u.n + (double) i;
                result->u.a->v[i] = &nums[i];
            }
            result->u.a->n = (size_t) size;
        }
        return result;

    case 'i':
        /* in */
        if (lhs == NULL || rhs == NULL) {
            return &sfn_jv_false;
        }
        if (rhs->type != SFN_JV_ARRAY) {
            return sfn_jv_bool(sfn_jstrict_equal(lhs, rhs));
        }
        for (i = 0; i < sfn_jlen(rhs); i++) {
            if (sfn_jstrict_equal(sfn_jat(rhs, i), lhs)) {
                return &sfn_jv_true;
            }
        }
        return &sfn_jv_false;
    }

    return NULL;
}


static void
sfn_jflatten(sfn_jctx_t *ctx, sfn_jv_t *arg, sfn_jv_t *out)
{
    size_t  i;

    if (arg && arg->type == SFN_JV_ARRAY) {
        for (i = 0; i < sfn_jlen(arg); i++) {
            sfn_jflatten(ctx, sfn_jat(arg, i), out);
        }
    } else {
        sfn_jv_push(ctx, out, arg);
    }
}


static sfn_jv_t *
sfn_jev_wildcard(sfn_jctx_t *ctx, sfn_jv_t *input)
{
    size_t     i;
    sfn_jv_t  *results, *value, *flat;

    results = sfn_jseq(ctx);

    if (input && input->type == SFN_JV_ARRAY && (input->flags & SFN_JV_OUTER)
        && sfn_jlen(input) > 0)
    {
        input = sfn_jat(input, 0);
    }

    /* an array is a JavaScript object too: its values are its items */
    if (input && input->type == SFN_JV_ARRAY) {
        for (i = 0; i < sfn_jlen(input); i++) {
            value = sfn_jat(input, i);
            if (value && value->type == SFN_JV_ARRAY) {
                flat = sfn_jv_array(ctx, 0);
                sfn_jflatten(ctx, value, flat);
                results = sfn_jv_append(ctx, results, flat);
            } else {
                sfn_jv_push(ctx, results, value);
            }
        }

    } else if (input && input->type == SFN_JV_OBJECT) {
        for (i = 0; i < input->u.o->n; i++) {
            value = input->u.o->v[i];
            if (value && value->type == SFN_JV_ARRAY) {
                flat = sfn_jv_array(ctx, 0);
                sfn_jflatten(ctx, value, flat);
                results = sfn_jv_append(ctx, results, flat);
            } else {
                sfn_jv_push(ctx, results, value);
            }
        }
    }

    return results;
}


static void
sfn_jrecurse(sfn_jctx_t *ctx, sfn_jv_t *input, sfn_jv_t *results)
{
    size_t  i;

    if (input == NULL || input->type != SFN_JV_ARRAY) {
        sfn_jv_push(ctx, results, input);
    }

    if (input && input->type == SFN_JV_ARRAY) {
        for (i = 0; i < sfn_jlen(input); i++) {
            sfn_jrecurse(ctx, sfn_jat(input, i), results);
        }

    } else if (input && input->type == SFN_JV_OBJECT) {
        for (i = 0; i < input->u.o->n; i++) {
            sfn_jrecurse(ctx, input->u.o->v[i], results);
        }
    }
}


static sfn_jv_t *
sfn_jev_descendants(sfn_jctx_t *ctx, sfn_jv_t *input)
{
    sfn_jv_t  *results;

    if (input == NULL) {
        return NULL;
    }

    results = sfn_jseq(ctx);
    sfn_jrecurse(ctx, input, results);

    if (sfn_jlen(results) == 1) {
        return sfn_jat(results, 0);
    }

    return results;
}


/* grouping and object constructors */

static sfn_jv_t *
sfn_jreduce_tuples(sfn_jctx_t *ctx, sfn_jv_t *stream)
{
    size_t     i, k;
    sfn_jv_t  *result, *t;

    if (stream == NULL || stream->type != SFN_JV_ARRAY) {
        return sfn_jtuple_copy(ctx, stream);
    }

    result = sfn_jtuple_copy(ctx, sfn_jlen(stream) ? sfn_jat(stream, 0) : NULL);

    for (i = 1; i < sfn_jlen(stream); i++) {
        t = sfn_jat(stream, i);
        if (t == NULL || t->type != SFN_JV_OBJECT) {
            continue;
        }
        for (k = 0; k < t->u.o->n; k++) {
            sfn_jv_set(ctx, result, t->u.o->k[k].data, t->u.o->k[k].len,
                       sfn_jv_append(ctx,
                                     sfn_jv_get(result, t->u.o->k[k].data,
                                                t->u.o->k[k].len),
                                     t->u.o->v[k]));
        }
    }

    return result;
}


static sfn_jv_t *
sfn_jev_group(sfn_jctx_t *ctx, sfn_jlist_t *pairs, size_t position,
    sfn_jv_t *input, sfn_jenv_t *env)
{
    int           reduce;
    size_t        i, p, n;
    sfn_jv_t     *result, *groups, *item, *key, *slot, *context, *tuple;
    sfn_jv_t     *value, **data;
    int          *expr_index;
    sfn_jenv_t   *e;
    sfn_jpair_t  *pair;

    result = sfn_jv_object(ctx);
    reduce = input && input->type == SFN_JV_ARRAY
             && (input->flags & SFN_JV_TUPLE);

    if (input == NULL || input->type != SFN_JV_ARRAY) {
        input = sfn_jv_seq1(ctx, input);
    }

    if (sfn_jlen(input) == 0) {
        input = sfn_jv_seq1(ctx, NULL);
    }

    /* groups: key -> index into data / expr_index, in JavaScript order */
    groups = sfn_jv_object(ctx);
    n = 0;
    data = sfn_jalloc(ctx, (sfn_jlen(input) * pairs->n + 1) * sizeof(void *));
    expr_index = sfn_jalloc(ctx, (sfn_jlen(input) * pairs->n + 1)
                                 * sizeof(int));

    for (i = 0; i < sfn_jlen(input); i++) {
        item = sfn_jat(input, i);
        e = reduce ? sfn_jenv_tuple(ctx, env, item) : env;

        for (p = 0; p < pairs->n; p++) {
            pair = pairs->v[p];
            key = sfn_jeval(ctx, pair->key, reduce ? sfn_jtuple_at(item) : item,
                            e);

            if (key == NULL) {
                continue;
            }

            if (key->type != SFN_JV_STRING) {
                ctx->position = position;
                sfn_jthrow_v(ctx, "T1003", key);
            }

            slot = sfn_jv_get(groups, key->u.s.data, key->u.s.len);

            if (slot != NULL) {
                size_t  g = (size_t) slot->u.n;

                if (expr_index[g] != (int) p) {
                    sfn_jthrow_v(ctx, "D1009", key);
                }
                data[g] = sfn_jv_append(ctx, data[g], item);

            } else {
                data[n] = item;
                expr_index[n] = (int) p;
                sfn_jv_set(ctx, groups, key->u.s.data, key->u.s.len,
                           sfn_jv_number(ctx, (double) n));
                n++;
            }
        }
    }

    for (i = 0; i < groups->u.o->n; i++) {
        size_t  g = (size_t) groups->u.o->v[i]->u.n;

        context = data[g];
        e = env;

        if (reduce) {
            tuple = sfn_jreduce_tuples(ctx, data[g]);
            context = sfn_jtuple_at(tuple);
            sfn_jv_del(tuple, "@", 1);
            e = sfn_jenv_tuple(ctx, env, tuple);
        }

        pair = pairs->v[expr_index[g]];
        value = sfn_jeval(ctx, pair->value, context, e);

        if (value != NULL) {
            sfn_jv_set(ctx, result, groups->u.o->k[i].data,
                       groups->u.o->k[i].len, value);
        }
    }

    return result;
}


/* order-by */

typedef struct {
    sfn_jctx_t           *ctx;
    sfn_jnode_t          *expr;
    sfn_jenv_t           *env;
    int                   tuples;
    sfn_jv_t             *fn;         /* $sort's comparator */
} sfn_jsort_t;


static int
sfn_jsort_swap(sfn_jsort_t *s, sfn_jv_t *a, sfn_jv_t *b)
{
    int           comp;
    size_t        t;
    sfn_jv_t     *aa, *bb, *args[2], *r;
    sfn_jctx_t   *ctx;
    sfn_jterm_t  *term;
    sfn_jenv_t   *ea, *eb;

    ctx = s->ctx;

    sfn_jstep(ctx);

    if (s->fn) {
        args[0] = a;
        args[1] = b;
        r = sfn_japply(ctx, s->fn, args, 2, NULL, s->env);
        return sfn_jv_boolean(ctx, r) == 1;
    }

    if (s->expr == NULL) {
        if (a->type == SFN_JV_STRING) {
            return sfn_jstrcmp(a, b) > 0;
        }
        return a->u.n > b->u.n;
    }

    comp = 0;

    for (t = 0; comp == 0 && t < s->expr->terms.n; t++) {
        term = s->expr->terms.v[t];

        ea = s->env;
        eb = s->env;
        if (s->tuples) {
            ea = sfn_jenv_tuple(ctx, s->env, a);
            eb = sfn_jenv_tuple(ctx, s->env, b);
        }

        aa = sfn_jeval(ctx, term->expr, s->tuples ? sfn_jtuple_at(a) : a, ea);
        bb = sfn_jeval(ctx, term->expr, s->tuples ? sfn_jtuple_at(b) : b, eb);

        if (aa == NULL) {
            comp = bb == NULL ? 0 : 1;
            continue;
        }

        if (bb == NULL) {
            comp = -1;
            continue;
        }

        if ((aa->type != SFN_JV_STRING && aa->type != SFN_JV_NUMBER)
            || (bb->type != SFN_JV_STRING && bb->type != SFN_JV_NUMBER))
        {
            ctx->position = s->expr->position;
            sfn_jthrow_v(ctx, "T2008",
                         (aa->type != SFN_JV_STRING
                          && aa->type != SFN_JV_NUMBER) ? aa : bb);
        }

        if (aa->type != bb->type) {
            ctx->value2 = bb;
            sfn_jthrow_v(ctx, "T2007", aa);
        }

        if (aa->type == SFN_JV_STRING) {
            comp = sfn_jstrcmp(aa, bb);
            comp = comp < 0 ? -1 : comp > 0;
        } else {
            comp = aa->u.n == bb->u.n ? 0 : aa->u.n < bb->u.n ? -1 : 1;
        }

        if (comp == 0) {
            continue;
        }

        if (term->descending) {
            comp = -comp;
        }
    }

    return comp == 1;
}


static void
sfn_jmsort(sfn_jsort_t *s, sfn_jv_t **v, sfn_jv_t **tmp, size_t n)
{
    size_t  mid, i, j, k;

    if (n <= 1) {
        return;
    }

    mid = n / 2;
    sfn_jmsort(s, v, tmp, mid);
    sfn_jmsort(s, v + mid, tmp, n - mid);

    i = 0;
    j = mid;
    k = 0;

    while (i < mid && j < n) {
        if (sfn_jsort_swap(s, v[i], v[j])) {
            tmp[k++] = v[j++];
        } else {
            tmp[k++] = v[i++];
        }
    }

    while (i < mid) {
        tmp[k++] = v[i++];
    }

    while (j < n) {
        tmp[k++] = v[j++];
    }

    memcpy(v, tmp, n * sizeof(sfn_jv_t *));
}


/* fn.sort's merge sort; comparator: a $sort function, or NULL */

sfn_jv_t *
sfn_jsort(sfn_jctx_t *ctx, sfn_jv_t *arr, sfn_jv_t *comparator,
    sfn_jnode_t *expr, sfn_jenv_t *env)
{
    size_t        n;
    sfn_jv_t     *r, **tmp;
    sfn_jsort_t   s;

    if (arr == NULL) {
        return NULL;
    }

    if (arr->type != SFN_JV_ARRAY || sfn_jlen(arr) <= 1) {
        return arr;
    }

    s.ctx = ctx;
    s.expr = expr;
    s.env = env;
    s.tuples = (arr->flags & SFN_JV_TUPLE) != 0;
    s.fn = comparator;

    n = sfn_jlen(arr);
    r = sfn_jv_array(ctx, 0);
    r->u.a->v = sfn_jalloc(ctx, n * sizeof(sfn_jv_t *));
    memcpy(r->u.a->v, arr->u.a->v, n * sizeof(sfn_jv_t *));
    r->u.a->n = n;
    r->u.a->cap = n;
    tmp = sfn_jalloc(ctx, n * sizeof(sfn_jv_t *));

    sfn_jmsort(&s, r->u.a->v, tmp, n);

    return r;
}


static sfn_jv_t *
sfn_jev_sort(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    sfn_jv_t  *r;

    r = sfn_jsort(ctx, input, NULL, expr, env);

    /* the merge sort returns a plain array, keep a tuple stream one */
    if (r && r != input && input && (input->flags & SFN_JV_TUPLE)) {
        r->flags |= SFN_JV_TUPLE | SFN_JV_SEQ;
    }

    return r;
}


/* functions */

int
sfn_jfn_arity(const sfn_jv_t *f)
{
    return f->u.f->arity;
}


static sfn_jv_t *
sfn_jregex_call(sfn_jctx_t *ctx, sfn_jfn_t *f, sfn_jv_t *str, size_t from)
{
    int         ng, g;
    size_t      ov[2 * 64], start, end;
    sfn_jv_t   *m, *groups, *next;
    sfn_jfn_t  *nf;

    if (str == NULL || str->type != SFN_JV_STRING) {
        return NULL;
    }

    if (sfn_jregex_exec(ctx, f->re, str->u.s.data, str->u.s.len, from, ov,
                        &ng) <= 0)
    {
        return NULL;
    }

    start = ov[0];
    end = ov[1];

    m = sfn_jv_object(ctx);
    sfn_jv_set(ctx, m, "match", 5,
               sfn_jv_string(ctx, str->u.s.data + start, end - start));
    sfn_jv_set(ctx, m, "start", 5,
               sfn_jv_number(ctx, (double) sfn_utf8_count(str->u.s.data,
                                                          start)));
    sfn_jv_set(ctx, m, "end", 3,
               sfn_jv_number(ctx, (double) sfn_utf8_count(str->u.s.data,
                                                          end)));

    groups = sfn_jv_array(ctx, 0);
    for (g = 1; g < ng; g++) {
        if (ov[2 * g] == PCRE2_UNSET) {
            sfn_jv_push(ctx, groups, sfn_jv_string(ctx, "", 0));
        } else {
            sfn_jv_push(ctx, groups,
                        sfn_jv_string(ctx, str->u.s.data + ov[2 * g],
                                      ov[2 * g + 1] - ov[2 * g]));
        }
    }
    sfn_jv_set(ctx, m, "groups", 6, groups);

    next = sfn_jnew_fn(ctx, SFN_JF_NEXT, &nf);
    nf->re = f->re;
    nf->node = f->node;
    nf->subject = str;
    nf->last = end;
    sfn_jv_set(ctx, m, "next", 4, next);

    return m;
}


static sfn_jv_t *
sfn_jregex_next(sfn_jctx_t *ctx, sfn_jfn_t *f)
{
    sfn_jv_t   *m, *match;
    sfn_jfn_t   rf;

    if (f->last >= f->subject->u.s.len) {
        return NULL;
    }

    memset(&rf, 0, sizeof(sfn_jfn_t));
    rf.kind = SFN_JF_REGEX;
    rf.re = f->re;
    rf.node = f->node;

    m = sfn_jregex_call(ctx, &rf, f->subject, f->last);

    if (m != NULL) {
        match = sfn_jv_get(m, "match", 5);
        if (match->u.s.len == 0) {
            sfn_jthrow(ctx, "D1004");
        }
    }

    return m;
}


static sfn_jv_t *sfn_japply_inner(sfn_jctx_t *ctx, sfn_jv_t *proc,
    sfn_jv_t **args, int nargs, sfn_jv_t *input, sfn_jenv_t *env);


static sfn_jv_t *
sfn_jdeep_clone(sfn_jctx_t *ctx, sfn_jv_t *v)
{
    size_t     i;
    char       num[40];
    sfn_jv_t  *r;

    if (v == NULL) {
        return NULL;
    }

    switch (v->type) {
    case SFN_JV_NUMBER:
        if (isinf(v->u.n)) {
            sfn_jthrow_v(ctx, "D1001", v);
        }
        if (isnan(v->u.n)) {
            return &sfn_jv_null;
        }
        snprintf(num, sizeof(num), "%.14e", v->u.n);
        return sfn_jv_number(ctx, strtod(num, NULL));
    case SFN_JV_FUNCTION:
        return sfn_jv_string(ctx, "", 0);
    case SFN_JV_ARRAY:
        r = sfn_jv_array(ctx, 0);
        for (i = 0; i < sfn_jlen(v); i++) {
            sfn_jv_push(ctx, r, sfn_jat(v, i) ? sfn_jdeep_clone(ctx,
                                                                sfn_jat(v, i))
                                              : &sfn_jv_null);
        }
        return r;
    case SFN_JV_OBJECT:
        r = sfn_jv_object(ctx);
        for (i = 0; i < v->u.o->n; i++) {
            if (v->u.o->v[i] != NULL) {
                sfn_jv_set(ctx, r, v->u.o->k[i].data, v->u.o->k[i].len,
                           sfn_jdeep_clone(ctx, v->u.o->v[i]));
            }
        }
        return r;
    case SFN_JV_STRING:
        return sfn_jv_string(ctx, v->u.s.data, v->u.s.len);
    default:
        return v;
    }
}


/* $clone() */

sfn_jv_t *
sfn_jfn_clone(sfn_jctx_t *ctx, sfn_jv_t **a, int n, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    if (n < 1 || a[0] == NULL) {
        return NULL;
    }

    if (a[0]->type == SFN_JV_ARRAY && (a[0]->flags & SFN_JV_OUTER)
        && sfn_jlen(a[0]) > 0)
    {
        return sfn_jdeep_clone(ctx, sfn_jat(a[0], 0));
    }

    return sfn_jdeep_clone(ctx, a[0]);
}


/* whether v holds target; values hold no cycle, so the walk ends */

static int
sfn_jholds(sfn_jv_t *v, sfn_jv_t *target)
{
    size_t  i;

    if (v == target) {
        return 1;
    }

    if (v && v->type == SFN_JV_ARRAY) {
        for (i = 0; i < sfn_jlen(v); i++) {
            if (sfn_jholds(sfn_jat(v, i), target)) {
                return 1;
            }
        }

    } else if (v && v->type == SFN_JV_OBJECT) {
        for (i = 0; i < v->u.o->n; i++) {
            if (sfn_jholds(v->u.o->v[i], target)) {
                return 1;
            }
        }
    }

    return 0;
}


static sfn_jv_t *
sfn_jtransform(sfn_jctx_t *ctx, sfn_jfn_t *f, sfn_jv_t *obj)
{
    size_t        i, k;
    sfn_jv_t     *clone, *result, *matches, *match, *update, *deletions;
    sfn_jv_t     *val, *arg;
    sfn_jnode_t  *expr;

    if (obj == NULL) {
        return NULL;
    }

    expr = f->node;

    clone = sfn_jenv_lookup(ctx, f->env, "clone", 5);
    if (!sfn_jv_is_func(clone)) {
        ctx->position = expr->position;
        sfn_jthrow(ctx, "T2013");
    }

    arg = obj;
    result = sfn_japply(ctx, clone, &arg, 1, NULL, f->env);
    matches = sfn_jeval(ctx, expr->pattern, result, f->env);

    if (matches == NULL) {
        return result;
    }

    if (matches->type != SFN_JV_ARRAY) {
        matches = sfn_jv_seq1(ctx, matches);
    }

    for (i = 0; i < sfn_jlen(matches); i++) {
        match = sfn_jat(matches, i);

        update = sfn_jeval(ctx, expr->update, match, f->env);

        if (update != NULL) {
            if (update->type != SFN_JV_OBJECT) {
                ctx->position = expr->update->position;
                sfn_jthrow_v(ctx, "T2011", update);
            }
            if (match && match->type == SFN_JV_OBJECT) {
                /*
                 * an update holding the match would make the object
                 * contain itself: jsonata-js fails later, on output
                 */
                if (sfn_jholds(update, match)) {
                    ctx->message = "The update of a transform expression "
                                   "must not contain the object it updates";
                    sfn_jthrow(ctx, "U1001");
                }
                for (k = 0; k < update->u.o->n; k++) {
                    sfn_jv_set(ctx, match, update->u.o->k[k].data,
                               update->u.o->k[k].len, update->u.o->v[k]);
                }
            }
        }

        if (expr->del == NULL) {
            continue;
        }

        deletions = sfn_jeval(ctx, expr->del, match, f->env);
        if (deletions == NULL) {
            continue;
        }

        val = deletions;
        if (deletions->type != SFN_JV_ARRAY) {
            deletions = sfn_jv_seq1(ctx, deletions);
        }

        for (k = 0; k < sfn_jlen(deletions); k++) {
            if (sfn_jat(deletions, k) == NULL
                || sfn_jat(deletions, k)->type != SFN_JV_STRING)
            {
                ctx->position = expr->del->position;
                sfn_jthrow_v(ctx, "T2012", val);
            }
        }

        for (k = 0; k < sfn_jlen(deletions); k++) {
            if (match && match->type == SFN_JV_OBJECT) {
                sfn_jv_del(match, sfn_jat(deletions, k)->u.s.data,
                           sfn_jat(deletions, k)->u.s.len);
            }
        }
    }

    return result;
}


static sfn_jv_t *
sfn_japply_inner(sfn_jctx_t *ctx, sfn_jv_t *proc, sfn_jv_t **args, int nargs,
    sfn_jv_t *input, sfn_jenv_t *env)
{
    int          i, k, n;
    sfn_jv_t   **validated, **full, *arg;
    sfn_jfn_t   *f;
    sfn_jenv_t  *e;

    if (proc == NULL || proc->type != SFN_JV_FUNCTION) {
        sfn_jthrow(ctx, "T1006");
    }

    f = proc->u.f;
    validated = args;
    n = nargs;

    if (f->sig) {
        if (f->kind == SFN_JF_NATIVE) {
            ctx->token = f->builtin->name;
        }
        sfn_jsonata_validate(ctx, f->sig, args, nargs, input, &validated, &n);
    }

    switch (f->kind) {
    case SFN_JF_LAMBDA:
        e = sfn_jenv_new(ctx, f->env);
        for (i = 0; i < (int) f->node->items.n; i++) {
            sfn_jnode_t  *param = f->node->items.v[i];

            sfn_jenv_bind(ctx, e, param->str.data, param->str.len,
                          i < n ? validated[i] : NULL);
        }
        return sfn_jeval(ctx, f->node->body, f->input, e);

    case SFN_JF_NATIVE:
        full = validated;
        if (n < f->sig->n) {
            full = sfn_jalloc(ctx, (f->sig->n + 1) * sizeof(sfn_jv_t *));
            for (i = 0; i < f->sig->n; i++) {
                full[i] = i < n ? validated[i] : NULL;
            }
            n = f->sig->n;
        }
        ctx->token = f->builtin->name;
        return f->builtin->handler(ctx, full, n, input, env);

    case SFN_JF_PARTIAL:
        full = sfn_jalloc(ctx, (f->nargs + 1) * sizeof(sfn_jv_t *));
        for (i = 0, k = 0; i < f->nargs; i++) {
            if (f->hole[i]) {
                full[i] = k < n ? validated[k] : NULL;
                k++;
            } else {
                full[i] = f->args[i];
            }
        }
        if (f->target->u.f->kind == SFN_JF_LAMBDA) {
            /* jsonata-js binds the parameters without their signature */
            sfn_jfn_t  *t = f->target->u.f;

            e = sfn_jenv_new(ctx, t->env);
            for (i = 0; i < (int) t->node->items.n; i++) {
                sfn_jnode_t  *param = t->node->items.v[i];

                sfn_jenv_bind(ctx, e, param->str.data, param->str.len,
                              i < f->nargs ? full[i] : NULL);
            }
            return sfn_jeval(ctx, t->node->body, t->input, e);
        }
        return sfn_japply_inner(ctx, f->target, full, f->nargs, NULL, env);

    case SFN_JF_CHAIN:
        arg = sfn_japply(ctx, f->target, validated, n > 0 ? 1 : 0, NULL, env);
        return sfn_japply(ctx, f->g, &arg, 1, NULL, env);

    case SFN_JF_TRANSFORM:
        return sfn_jtransform(ctx, f, n > 0 ? validated[0] : NULL);

    case SFN_JF_REGEX:
        return sfn_jregex_call(ctx, f, n > 0 ? validated[0] : NULL,
                               (n > 1 && validated[1]
                                && validated[1]->type == SFN_JV_NUMBER
                                && validated[1]->u.n >= 0
                                && validated[1]->u.n < 1e15)
                               ? (size_t) validated[1]->u.n : 0);

    case SFN_JF_NEXT:
        return sfn_jregex_next(ctx, f);
    }

    sfn_jthrow(ctx, "T1006");
}


/*
 * apply(): a lambda whose body ends in a call returns a thunk; the loop
 * makes the call here, so tail recursion runs in constant C stack.
 */

sfn_jv_t *
sfn_japply(sfn_jctx_t *ctx, sfn_jv_t *proc, sfn_jv_t **args, int nargs,
    sfn_jv_t *input, sfn_jenv_t *env)
{
    size_t        i;
    sfn_jv_t     *result, *next, **eargs;
    sfn_jfn_t    *t;
    sfn_jnode_t  *call;
    sfn_jenv_t   *e;

    result = sfn_japply_inner(ctx, proc, args, nargs, input, env);

    while (result && result->type == SFN_JV_FUNCTION
           && result->u.f->kind == SFN_JF_LAMBDA && result->u.f->thunk)
    {
        t = result->u.f;
        call = t->node->body;
        e = t->env;

        next = sfn_jeval(ctx, call->procedure, t->input, e);

        eargs = sfn_jalloc(ctx, (call->items.n + 1) * sizeof(sfn_jv_t *));
        for (i = 0; i < call->items.n; i++) {
            eargs[i] = sfn_jeval(ctx, call->items.v[i], t->input, e);
        }

        result = sfn_japply_inner(ctx, next, eargs, (int) call->items.n,
                                  input, env);
    }

    return result;
}


/* a function value called from the library with its arguments */

sfn_jv_t *
sfn_jcall(sfn_jctx_t *ctx, sfn_jv_t *f, sfn_jv_t **args, int n,
    sfn_jenv_t *env)
{
    return sfn_japply(ctx, f, args, n, NULL, env);
}


/* hofFuncArgs: as many of (value, index, array) as the function takes */

sfn_jv_t *
sfn_jhof_call(sfn_jctx_t *ctx, sfn_jv_t *f, sfn_jv_t *a1, sfn_jv_t *a2,
    sfn_jv_t *a3, sfn_jenv_t *env)
{
    int        n, arity;
    sfn_jv_t  *args[3];

    arity = sfn_jfn_arity(f);
    args[0] = a1;
    n = 1;

    if (arity >= 2) {
        args[n++] = a2;
    }

    if (arity >= 3) {
        args[n++] = a3;
    }

    return sfn_jcall(ctx, f, args, n, env);
}


static sfn_jv_t *
sfn_jev_function(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env, sfn_jv_t **applyto)
{
    int           n;
    size_t        i;
    sfn_jv_t     *proc, **args, *probe;
    sfn_jnode_t  *pn;

    pn = expr->procedure;
    proc = sfn_jeval_leaf(ctx, pn, input, env);

    if (proc == NULL && pn->type == SFN_JN_PATH) {
        sfn_jnode_t  *s0 = pn->items.v[0];

        probe = sfn_jenv_lookup(ctx, env, s0->str.data, s0->str.len);
        if (probe != NULL) {
            ctx->token = sfn_pstrndup(ctx->pool, s0->str.data, s0->str.len);
            ctx->position = expr->position;
            sfn_jthrow(ctx, "T1005");
        }
    }

    args = sfn_jalloc(ctx, (expr->items.n + 2) * sizeof(sfn_jv_t *));
    n = 0;

    if (applyto) {
        args[n++] = *applyto;
    }

    for (i = 0; i < expr->items.n; i++) {
        args[n++] = sfn_jeval_leaf(ctx, expr->items.v[i], input, env);
    }

    ctx->token = expr->name;
    ctx->position = expr->position;

    return sfn_japply(ctx, proc, args, n, input, env);
}


static sfn_jv_t *
sfn_jev_partial(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    size_t        i;
    sfn_jv_t     *proc, *result;
    sfn_jfn_t    *f;
    sfn_jnode_t  *arg, *pn;

    result = sfn_jnew_fn(ctx, SFN_JF_PARTIAL, &f);
    f->nargs = (int) expr->items.n;
    f->args = sfn_jalloc(ctx, (expr->items.n + 1) * sizeof(sfn_jv_t *));
    f->hole = sfn_jalloc(ctx, expr->items.n + 1);

    for (i = 0; i < expr->items.n; i++) {
        arg = expr->items.v[i];
        if (arg->type == SFN_JN_PLACEHOLDER) {
            f->hole[i] = 1;
            f->args[i] = NULL;
            f->arity++;
        } else {
            f->hole[i] = 0;
            f->args[i] = sfn_jeval(ctx, arg, input, env);
        }
    }

    pn = expr->procedure;
    proc = sfn_jeval(ctx, pn, input, env);

    if (proc == NULL && pn->type == SFN_JN_PATH) {
        sfn_jnode_t  *s0 = pn->items.v[0];

        if (sfn_jenv_lookup(ctx, env, s0->str.data, s0->str.len) != NULL) {
            ctx->token = sfn_pstrndup(ctx->pool, s0->str.data, s0->str.len);
            sfn_jthrow(ctx, "T1007");
        }
    }

    if (proc == NULL || proc->type != SFN_JV_FUNCTION) {
        sfn_jthrow(ctx, "T1008");
    }

    f->target = proc;

    return result;
}


static sfn_jv_t *
sfn_jev_apply(sfn_jctx_t *ctx, sfn_jnode_t *expr, sfn_jv_t *input,
    sfn_jenv_t *env)
{
    sfn_jv_t   *lhs, *func, *chain;
    sfn_jfn_t  *f;

    lhs = sfn_jeval(ctx, expr->lhs, input, env);

    if (expr->rhs->type == SFN_JN_FUNCTION) {
        return sfn_jev_function(ctx, expr->rhs, input, env, &lhs);
    }

    func = sfn_jeval(ctx, expr->rhs, input, env);

    if (!sfn_jv_is_func(func)) {
        ctx->position = expr->position;
        sfn_jthrow_v(ctx, "T2006", func);
    }

    if (sfn_jv_is_func(lhs)) {
        chain = sfn_jnew_fn(ctx, SFN_JF_CHAIN, &f);
        f->target = lhs;
        f->g = func;
        f->arity = 1;
        return chain;
    }

    return sfn_japply(ctx, func, &lhs, 1, NULL, env);
}

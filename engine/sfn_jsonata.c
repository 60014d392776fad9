
/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata: compile an expression once, evaluate it many times.  The
 * program owns the tree and the compiled regexes; an evaluation runs in
 * its own arena, dropped whole at the end whether it succeeded or not.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sfn_jsonata_int.h"


#define SFN_JSONATA_DEPTH   1000
#define SFN_JSONATA_MEMORY  ((size_t) 1 << 30)


struct sfn_jsonata_s {
    sfn_pool_t            pool;
    sfn_jnode_t          *ast;
    sfn_jlist_t           regexes;
};


struct sfn_jsonata_session_s {
    sfn_pool_t            pool;
    size_t                memory;
    sfn_jenv_t           *root;     /* the builtins and host variables */
};


sfn_jsonata_session_t *
sfn_jsonata_session_new(void)
{
    return calloc(1, sizeof(sfn_jsonata_session_t));
}


void
sfn_jsonata_session_free(sfn_jsonata_session_t *s)
{
    if (s) {
        sfn_pool_destroy(&s->pool);
        free(s);
    }
}


int sfn_jsonata_builtins_init(void);
int sfn_jsonata_aws_init(void);


static void
sfn_jsonata_set_error(sfn_jsonata_error_t *err, const char *code,
    const char *message, size_t position)
{
    memset(err, 0, sizeof(sfn_jsonata_error_t));
    snprintf(err->code, sizeof(err->code), "%s", code);
    err->message = sfn_strdup(message ? message : code);
    err->position = position;
}


sfn_jsonata_t *
sfn_jsonata_compile(const char *text, size_t len, sfn_jsonata_error_t *err)
{
    sfn_buf_t       b;
    sfn_jctx_t      ctx;
    sfn_jperr_t     perr;
    sfn_jsonata_t  *prog;
    jmp_buf         jmp;

    if (sfn_jsonata_builtins_init() != 0 || sfn_jsonata_aws_init() != 0) {
        sfn_jsonata_set_error(err, "U1000", "Out of memory", 0);
        return NULL;
    }

    prog = calloc(1, sizeof(sfn_jsonata_t));
    if (prog == NULL) {
        sfn_jsonata_set_error(err, "U1000", "Out of memory", 0);
        return NULL;
    }

    memset(&perr, 0, sizeof(sfn_jperr_t));
    prog->ast = sfn_jsonata_parse(&prog->pool, text, len, &prog->regexes,
                                  &perr);
    if (prog->ast != NULL) {
        return prog;
    }

    /* the message from the same templates as evaluation errors */
    memset(&ctx, 0, sizeof(sfn_jctx_t));
    memset(&b, 0, sizeof(sfn_buf_t));
    ctx.pool = &prog->pool;
    ctx.jmp = &jmp;
    ctx.code = perr.code;
    ctx.token = perr.token[0] ? perr.token : NULL;
    ctx.message = "The expression is nested too deeply";   /* U1001 */

    if (setjmp(jmp) == 0) {
        if (perr.value[0]) {
            ctx.value = sfn_jv_strz(&ctx, perr.value);
        }
        sfn_jerror_message(&ctx, &b);
    }

    sfn_jsonata_set_error(err, perr.code, b.failed ? NULL : b.data,
                          perr.position);
    sfn_buf_free(&b);
    sfn_jsonata_free(prog);

    return NULL;
}


void
sfn_jsonata_free(sfn_jsonata_t *prog)
{
    size_t  i;

    if (prog == NULL) {
        return;
    }

    for (i = 0; i < prog->regexes.n; i++) {
        pcre2_code_free(prog->regexes.v[i]);
    }

    sfn_pool_destroy(&prog->pool);
    free(prog);
}


void
sfn_jsonata_error_clear(sfn_jsonata_error_t *err)
{
    free(err->message);
    memset(err, 0, sizeof(sfn_jsonata_error_t));
}


/* PCRE2 allocates from the evaluation's arena and never frees */

static void *
sfn_jpcre_alloc(PCRE2_SIZE size, void *data)
{
    return sfn_palloc(data, size);
}


static void
sfn_jpcre_free(void *p, void *data)
{
    (void) p;
    (void) data;
}


/* PCRE2's contexts, made when an evaluation first needs them */
pcre2_general_context *
sfn_jpcre(sfn_jctx_t *ctx)
{
    if (ctx->gctx != NULL) {
        return ctx->gctx;
    }

    ctx->gctx = pcre2_general_context_create(sfn_jpcre_alloc, sfn_jpcre_free,
                                             ctx->pool);
    if (ctx->gctx == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    ctx->mctx = pcre2_match_context_create(ctx->gctx);
    if (ctx->mctx == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    pcre2_set_match_limit(ctx->mctx, 1000000);
    pcre2_set_depth_limit(ctx->mctx, 10000);

    return ctx->gctx;
}


static int64_t
sfn_jsonata_clock(int monotonic)
{
    struct timespec  ts;

    clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int
sfn_jsonata_eval(const sfn_jsonata_t *prog, const cJSON *input,
    const cJSON *bindings, const sfn_jsonata_limits_t *limits, cJSON **out,
    sfn_jsonata_error_t *err)
{
    return sfn_jsonata_eval_host(prog, input, bindings, limits, NULL, out,
                                 err);
}


int
sfn_jsonata_eval_host(const sfn_jsonata_t *prog, const cJSON *input,
    const cJSON *bindings, const sfn_jsonata_limits_t *limits,
    sfn_jsonata_host_t *host, cJSON **out, sfn_jsonata_error_t *err)
{
    int                   rc;
    sfn_buf_t             b;
    sfn_jv_t             *in, *result;
    sfn_jctx_t            ctx;
    sfn_jenv_t           *env;
    sfn_pool_t            pool;
    const cJSON          *c;
    sfn_jsonata_session_t  *session;
    jmp_buf               jmp;

    *out = NULL;
    memset(err, 0, sizeof(sfn_jsonata_error_t));
    memset(&pool, 0, sizeof(sfn_pool_t));
    memset(&ctx, 0, sizeof(sfn_jctx_t));

    session = host ? host->session : NULL;

    ctx.pool = session ? &session->pool : &pool;
    ctx.memory = session ? session->memory : 0;
    ctx.jmp = &jmp;
    ctx.max_depth = limits && limits->depth > 0 ? limits->depth
                                                : SFN_JSONATA_DEPTH;
    if (ctx.max_depth > SFN_JSONATA_DEPTH) {
        ctx.max_depth = SFN_JSONATA_DEPTH;
    }
    ctx.deadline = limits && limits->timelimit > 0
                   ? sfn_jsonata_clock(1) + limits->timelimit : 0;
    ctx.ticks = SFN_JTICKS;
    ctx.max_steps = limits && limits->steps > 0 ? limits->steps : 0;
    ctx.memory0 = ctx.memory;
    ctx.now = limits && limits->now ? limits->now : sfn_jsonata_clock(0);
    ctx.max_memory = limits && limits->memory ? limits->memory
                                              : SFN_JSONATA_MEMORY;
    ctx.seed = (uint64_t) ctx.now * 2654435761u + 0x9e3779b97f4a7c15ULL;
    ctx.host = host;

    if (host) {
        host->function = 0;
        host->lent = 0;
    }

    if (setjmp(jmp) != 0) {
        memset(&b, 0, sizeof(sfn_buf_t));
        sfn_jerror_message(&ctx, &b);
        sfn_jsonata_set_error(err, ctx.code, b.failed ? NULL : b.data,
                              ctx.position);
        sfn_buf_free(&b);
        rc = -1;
        goto done;
    }

    if (session && session->root == NULL) {
        session->root = sfn_jenv_new(&ctx, NULL);
    }

    ctx.root = session ? session->root : sfn_jenv_new(&ctx, NULL);
    env = sfn_jenv_new(&ctx, ctx.root);

    if (bindings != NULL) {
        for (c = bindings->child; c; c = c->next) {
            sfn_jenv_bind(&ctx, env, c->string, strlen(c->string),
                          sfn_jv_from_json(&ctx, c));
        }
    }

    in = sfn_jv_from_json(&ctx, input);
    sfn_jenv_bind(&ctx, env, "$", 1, in);

    if (in && in->type == SFN_JV_ARRAY) {
        in = sfn_jv_seq1(&ctx, in);
        in->flags |= SFN_JV_OUTER;
    }

    result = sfn_jeval(&ctx, prog->ast, in, env);

    if (result != NULL && host && sfn_jv_is_func(result)) {
        host->function = 1;
    }

    if (result != NULL) {
        *out = host && host->pool ? sfn_jv_to_json_pool(result, host->pool,
                                                        &host->lent)
                                  : sfn_jv_to_json(result);
        if (*out == NULL) {
            sfn_jthrow(&ctx, "U1000");
        }
    }

    rc = 0;

done:

    if (session) {
        session->memory = ctx.memory;

    } else {
        sfn_pool_destroy(&pool);
    }

    return rc;
}

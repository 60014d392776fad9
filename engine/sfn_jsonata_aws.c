
/*
 * Copyright (C) ngx_sfn authors
 *
 * The functions Step Functions adds to JSONata, the counterparts of its
 * intrinsic functions: $partition, $range, $hash, $random with an
 * optional seed, $uuid and $parse.  They exist only in an evaluation
 * whose host asks for them (sfn_jsonata_host_t.aws); $eval, which Step
 * Functions refuses, is never defined.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_jsonata_int.h"


#define SFN_JAWS_MAX_RANGE   1000
#define SFN_JAWS_MAX_HASH    10000


#define SFN_JFN(name)                                                         \
    static sfn_jv_t *name(sfn_jctx_t *ctx, sfn_jv_t **a, int n,               \
        sfn_jv_t *input, sfn_jenv_t *env)


static void sfn_jaws_fail(sfn_jctx_t *ctx, const char *message)
    __attribute__((noreturn));


static void
sfn_jaws_fail(sfn_jctx_t *ctx, const char *message)
{
    ctx->message = message;
    sfn_jthrow(ctx, "D3137");
}


static int
sfn_jaws_int(const sfn_jv_t *v, double *out)
{
    if (v == NULL || v->type != SFN_JV_NUMBER || !isfinite(v->u.n)
        || v->u.n != floor(v->u.n) || fabs(v->u.n) > 9007199254740991.0)
    {
        return 0;
    }

    *out = v->u.n;

    return 1;
}


/* $partition(array, size): the array in chunks of size items */
SFN_JFN(sfn_jaws_partition)
{
    size_t     i, k, len;
    double     size;
    sfn_jv_t  *r, *chunk;

    if (a[0] == NULL) {
        return NULL;
    }

    if (!sfn_jaws_int(a[1], &size) || size < 1) {
        sfn_jaws_fail(ctx, "The chunk size of $partition must be a "
                      "positive integer");
    }

    len = a[0]->u.a->n;
    r = sfn_jv_array(ctx, 0);
    chunk = NULL;

    for (i = 0, k = 0; i < len; i++) {
        if (chunk == NULL || (double) k == size) {
            chunk = sfn_jv_array(ctx, 0);
            sfn_jv_push(ctx, r, chunk);
            k = 0;
        }

        sfn_jv_push(ctx, chunk, a[0]->u.a->v[i]);
        k++;
    }

    return r;
}


/*
 * $range(start, end, step): start, start + step, ... up to end included;
 * a sequence, so that one number is a number
 */
SFN_JFN(sfn_jaws_range)
{
    double     start, end, step, x, count;
    sfn_jv_t  *r;

    if (a[0] == NULL || a[1] == NULL) {
        return NULL;
    }

    step = 1;

    if (!sfn_jaws_int(a[0], &start) || !sfn_jaws_int(a[1], &end)
        || (n > 2 && a[2] != NULL && !sfn_jaws_int(a[2], &step)))
    {
        sfn_jaws_fail(ctx, "The arguments of $range must be integers");
    }

    if (step == 0) {
        sfn_jaws_fail(ctx, "The step of $range cannot be 0");
    }

    count = floor((end - start) / step) + 1;

    if (count > SFN_JAWS_MAX_RANGE) {
        sfn_jaws_fail(ctx, "The range of $range has more than 1000 items");
    }

    r = sfn_jv_array(ctx, SFN_JV_SEQ);

    for (x = start; count >= 1; x += step, count--) {
        sfn_jv_push(ctx, r, sfn_jv_number(ctx, x));
    }

    return r;
}


/* $hash(data, algorithm): MD5, SHA-1, SHA-256, SHA-384 or SHA-512 in hex */
SFN_JFN(sfn_jaws_hash)
{
    char  alg[16], hex[129];

    if (a[0] == NULL) {
        return NULL;
    }

    if (sfn_utf8_count(a[0]->u.s.data, a[0]->u.s.len) > SFN_JAWS_MAX_HASH) {
        sfn_jaws_fail(ctx, "The input of $hash is longer than 10000 "
                      "characters");
    }

    if (a[1] == NULL || a[1]->u.s.len >= sizeof(alg)) {
        goto bad;
    }

    memcpy(alg, a[1]->u.s.data, a[1]->u.s.len);
    alg[a[1]->u.s.len] = '\0';

    if (sfn_hash_hex(alg, (const unsigned char *) a[0]->u.s.data,
                     a[0]->u.s.len, hex) != 0)
    {
        goto bad;
    }

    return sfn_jv_strz(ctx, hex);

bad:

    sfn_jaws_fail(ctx, "The algorithm of $hash must be one of MD5, SHA-1, "
                  "SHA-256, SHA-384, SHA-512");
}


static uint64_t
sfn_jaws_mix(uint64_t x)
{
    /* splitmix64's finalizer */
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;

    return x ^ (x >> 31);
}


/* $random([seed]): in [0, 1); the same seed gives the same number */
SFN_JFN(sfn_jaws_random)
{
    double    seed;
    uint64_t  x;

    if (n > 0 && a[0] != NULL) {
        if (!sfn_jaws_int(a[0], &seed)) {
            sfn_jaws_fail(ctx, "The seed of $random must be an integer");
        }

        x = sfn_jaws_mix((uint64_t) (int64_t) seed);

    } else if (ctx->host && ctx->host->random) {
        ctx->host->random(ctx->host->data, &x, sizeof(x));

    } else {
        x = sfn_jaws_mix(ctx->seed++);
    }

    return sfn_jv_number(ctx, (double) (x >> 11) / 9007199254740992.0);
}


/* $uuid(): a version 4 UUID */
SFN_JFN(sfn_jaws_uuid)
{
    char           buf[40];
    uint64_t       x;
    unsigned char  r[16];

    if (ctx->host && ctx->host->random) {
        ctx->host->random(ctx->host->data, r, sizeof(r));

    } else {
        x = sfn_jaws_mix(ctx->seed++);
        memcpy(r, &x, 8);
        x = sfn_jaws_mix(ctx->seed++);
        memcpy(r + 8, &x, 8);
    }

    sfn_uuid_format(r, buf);

    return sfn_jv_strz(ctx, buf);
}


/* $parse(text): the JSON value the text holds */
SFN_JFN(sfn_jaws_parse)
{
    cJSON     *j;
    sfn_jv_t  *v;

    if (a[0] == NULL) {
        return NULL;
    }

    j = sfn_json_parse(a[0]->u.s.data, a[0]->u.s.len);
    if (j == NULL) {
        ctx->value = a[0];
        sfn_jaws_fail(ctx, "The argument of $parse is not valid JSON");
    }

    /* room checked first: a throw from inside would leak j */
    v = NULL;
    if (ctx->memory + sfn_json_size(j) * 64 < ctx->max_memory) {
        v = sfn_jv_from_json(ctx, j);
    }

    cJSON_Delete(j);

    if (v == NULL) {
        sfn_jthrow(ctx, "U1000");
    }

    return v;
}


/* sorted by name */
static sfn_jbuiltin_t  sfn_jaws_builtins[] = {
    { "hash", "<s-s:s>", sfn_jaws_hash, 2, NULL },
    { "parse", "<s-:x>", sfn_jaws_parse, 1, NULL },
    { "partition", "<an:a>", sfn_jaws_partition, 2, NULL },
    { "random", "<n?:n>", sfn_jaws_random, 1, NULL },
    { "range", "<nnn?:a>", sfn_jaws_range, 3, NULL },
    { "uuid", "<:s>", sfn_jaws_uuid, 0, NULL }
};


static sfn_pool_t  sfn_jaws_pool;


int
sfn_jsonata_aws_init(void)
{
    char     code[8];
    size_t   i, off;

    if (sfn_jaws_builtins[0].sig != NULL) {
        return 0;
    }

    for (i = 0; i < sfn_nelems(sfn_jaws_builtins); i++) {
        sfn_jaws_builtins[i].sig = sfn_jsonata_signature(&sfn_jaws_pool,
                                       sfn_jaws_builtins[i].signature,
                                       strlen(sfn_jaws_builtins[i].signature),
                                       code, &off);
        if (sfn_jaws_builtins[i].sig == NULL) {
            return -1;
        }
    }

    return 0;
}


sfn_jbuiltin_t *
sfn_jsonata_aws_builtin(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < sfn_nelems(sfn_jaws_builtins); i++) {
        if (strlen(sfn_jaws_builtins[i].name) == len
            && memcmp(sfn_jaws_builtins[i].name, name, len) == 0)
        {
            return &sfn_jaws_builtins[i];
        }
    }

    return NULL;
}

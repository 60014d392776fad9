
/*
 * Copyright (C) ngx_sfn authors
 *
 * Intrinsic functions (States.*), "X.$" expressions and payload templates.
 * Everything is compiled once, when the definition loads.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"


#define SFN_FN_MAX_ARGS     64
#define SFN_FN_MAX_STRING   10000
#define SFN_FN_MAX_RANGE    1000


typedef enum {
    SFN_ARG_LITERAL = 0,
    SFN_ARG_PATH,
    SFN_ARG_CALL
} sfn_arg_type_e;


typedef struct {
    sfn_arg_type_e        type;
    cJSON                *literal;     /* pool memory */
    const char           *raw;         /* a string literal as written */
    sfn_path_t           *path;
    sfn_fn_t             *call;
} sfn_arg_t;


typedef struct {
    cJSON                *v;
    int                   owned;
    const char           *raw;
} sfn_val_t;


typedef cJSON *(*sfn_fn_handler_pt)(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);


typedef struct {
    const char           *name;
    int                   min_args;
    int                   max_args;
    sfn_fn_handler_pt     handler;
} sfn_fn_def_t;


struct sfn_fn_s {
    const sfn_fn_def_t   *def;
    const char           *name;
    sfn_arg_t            *args;
    size_t                nargs;
};


static cJSON *sfn_fn_format(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_string_to_json(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_json_to_string(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_partition(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_contains(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_range(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_get_item(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_length(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_array_unique(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_base64_encode(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_base64_decode(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_hash(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_json_merge(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_math_random(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_math_add(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_string_split(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);
static cJSON *sfn_fn_uuid(const sfn_fn_t *fn, sfn_env_t *env,
    sfn_val_t *vals, sfn_err_t *err);


static const sfn_fn_def_t  sfn_fns[] = {
    { "States.Format",         1, SFN_FN_MAX_ARGS, sfn_fn_format },
    { "States.StringToJson",   1, 1,               sfn_fn_string_to_json },
    { "States.JsonToString",   1, 1,               sfn_fn_json_to_string },
    { "States.Array",          0, SFN_FN_MAX_ARGS, sfn_fn_array },
    { "States.ArrayPartition", 2, 2,               sfn_fn_array_partition },
    { "States.ArrayContains",  2, 2,               sfn_fn_array_contains },
    { "States.ArrayRange",     3, 3,               sfn_fn_array_range },
    { "States.ArrayGetItem",   2, 2,               sfn_fn_array_get_item },
    { "States.ArrayLength",    1, 1,               sfn_fn_array_length },
    { "States.ArrayUnique",    1, 1,               sfn_fn_array_unique },
    { "States.Base64Encode",   1, 1,               sfn_fn_base64_encode },
    { "States.Base64Decode",   1, 1,               sfn_fn_base64_decode },
    { "States.Hash",           2, 2,               sfn_fn_hash },
    { "States.JsonMerge",      3, 3,               sfn_fn_json_merge },
    { "States.MathRandom",     2, 3,               sfn_fn_math_random },
    { "States.MathAdd",        2, 2,               sfn_fn_math_add },
    { "States.StringSplit",    2, 2,               sfn_fn_string_split },
    { "States.UUID",           0, 0,               sfn_fn_uuid },
};


typedef struct {
    sfn_pool_t           *pool;
    const char           *p;
    const char           *last;
    char                 *err;
    size_t                errlen;
    int                   failed;
    int                   depth;
} sfn_fparse_t;


static sfn_fn_t *sfn_fn_parse(sfn_fparse_t *fp);


static void
sfn_fp_fail(sfn_fparse_t *fp, const char *fmt, const char *arg)
{
    if (!fp->failed) {
        snprintf(fp->err, fp->errlen, fmt, arg);
    }

    fp->failed = 1;
}


static void
sfn_fp_ws(sfn_fparse_t *fp)
{
    while (fp->p < fp->last
           && (*fp->p == ' ' || *fp->p == '\t' || *fp->p == '\n'
               || *fp->p == '\r'))
    {
        fp->p++;
    }
}


static cJSON *
sfn_pool_json(sfn_pool_t *pool, int type, double d, const char *str)
{
    cJSON  *v;

    v = sfn_pcalloc(pool, sizeof(cJSON));
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
sfn_fp_string(sfn_fparse_t *fp, sfn_arg_t *arg)
{
    char        *out, *d;
    const char  *s;

    fp->p++;                              /* ' */
    s = fp->p;

    out = sfn_palloc(fp->pool, fp->last - s + 1);
    if (out == NULL) {
        sfn_fp_fail(fp, "%s", "out of memory");
        return -1;
    }

    d = out;

    /* only \' \{ \} and \\ are escapes: AWS rejects any other backslash */

    while (fp->p < fp->last && *fp->p != '\'') {
        if (*fp->p == '\\') {
            if (fp->p + 1 == fp->last || fp->p[1] == '\0'
                || strchr("'{}\\", fp->p[1]) == NULL)
            {
                sfn_fp_fail(fp, "%s", "illegal escape in a string literal");
                return -1;
            }

            fp->p++;
        }

        *d++ = *fp->p++;
    }

    if (fp->p >= fp->last) {
        sfn_fp_fail(fp, "%s", "unterminated string literal");
        return -1;
    }

    *d = '\0';

    arg->raw = sfn_pstrndup(fp->pool, s, fp->p - s);
    fp->p++;

    arg->type = SFN_ARG_LITERAL;
    arg->literal = sfn_pool_json(fp->pool, cJSON_String, 0, out);

    if (arg->raw == NULL || arg->literal == NULL) {
        sfn_fp_fail(fp, "%s", "out of memory");
        return -1;
    }

    return 0;
}


/* a path argument ends at a top-level ',' or ')' or blank */
static int
sfn_fp_path(sfn_fparse_t *fp, sfn_arg_t *arg)
{
    int          depth;
    char         q, err[256];
    const char  *s;

    s = fp->p;
    depth = 0;
    q = 0;

    while (fp->p < fp->last) {
        if (q) {
            if (*fp->p == '\\' && fp->p + 1 < fp->last) {
                fp->p++;
            } else if (*fp->p == q) {
                q = 0;
            }
            fp->p++;
            continue;
        }

        if (*fp->p == '\'' || *fp->p == '"') {
            q = *fp->p;

        } else if (*fp->p == '[' || *fp->p == '(') {
            depth++;

        } else if (*fp->p == ']' || (*fp->p == ')' && depth > 0)) {
            depth--;

        } else if (depth == 0
                   && (*fp->p == ',' || *fp->p == ')' || *fp->p == ' '))
        {
            break;
        }

        fp->p++;
    }

    arg->type = SFN_ARG_PATH;
    arg->path = sfn_path_compile(fp->pool, s, fp->p - s, err, sizeof(err));

    if (arg->path == NULL) {
        sfn_fp_fail(fp, "invalid path argument: %s", err);
        return -1;
    }

    return 0;
}


static int
sfn_fp_arg(sfn_fparse_t *fp, sfn_arg_t *arg)
{
    char        *end, num[64];
    double       d;
    size_t       n;
    const char  *s;

    sfn_fp_ws(fp);

    if (fp->p >= fp->last) {
        sfn_fp_fail(fp, "%s", "argument expected");
        return -1;
    }

    if (*fp->p == '\'') {
        return sfn_fp_string(fp, arg);
    }

    if (*fp->p == '$') {
        return sfn_fp_path(fp, arg);
    }

    s = fp->p;

    if (fp->last - s >= 7 && memcmp(s, "States.", 7) == 0) {
        arg->type = SFN_ARG_CALL;
        arg->call = sfn_fn_parse(fp);
        return arg->call ? 0 : -1;
    }

    arg->type = SFN_ARG_LITERAL;

    if (fp->last - s >= 4 && memcmp(s, "true", 4) == 0) {
        fp->p += 4;
        arg->literal = sfn_pool_json(fp->pool, cJSON_True, 0, NULL);
        return arg->literal ? 0 : -1;
    }

    if (fp->last - s >= 5 && memcmp(s, "false", 5) == 0) {
        fp->p += 5;
        arg->literal = sfn_pool_json(fp->pool, cJSON_False, 0, NULL);
        return arg->literal ? 0 : -1;
    }

    if (fp->last - s >= 4 && memcmp(s, "null", 4) == 0) {
        fp->p += 4;
        arg->literal = sfn_pool_json(fp->pool, cJSON_NULL, 0, NULL);
        return arg->literal ? 0 : -1;
    }

    while (fp->p < fp->last && strchr("0123456789.-+eE", *fp->p)) {
        fp->p++;
    }

    n = fp->p - s;
    if (n == 0 || n >= sizeof(num)) {
        sfn_fp_fail(fp, "%s", "invalid argument");
        return -1;
    }

    memcpy(num, s, n);
    num[n] = '\0';

    d = strtod(num, &end);
    if (*end != '\0' || isinf(d) || isnan(d)) {
        sfn_fp_fail(fp, "invalid number argument '%s'", num);
        return -1;
    }

    arg->literal = sfn_pool_json(fp->pool, cJSON_Number, d, NULL);

    return arg->literal ? 0 : -1;
}


static sfn_fn_t *
sfn_fn_parse(sfn_fparse_t *fp)
{
    char        name[64];
    size_t      i, n;
    sfn_fn_t   *fn;
    sfn_arg_t   args[SFN_FN_MAX_ARGS];
    const char  *s;

    if (++fp->depth > 16) {
        sfn_fp_fail(fp, "%s", "intrinsic functions nested too deeply");
        return NULL;
    }

    sfn_fp_ws(fp);
    s = fp->p;

    while (fp->p < fp->last && *fp->p != '(' && *fp->p != ' ') {
        fp->p++;
    }

    n = fp->p - s;
    if (n >= sizeof(name)) {
        n = sizeof(name) - 1;
    }

    memcpy(name, s, n);
    name[n] = '\0';

    fn = sfn_pcalloc(fp->pool, sizeof(sfn_fn_t));
    if (fn == NULL) {
        sfn_fp_fail(fp, "%s", "out of memory");
        return NULL;
    }

    for (i = 0; i < sfn_nelems(sfn_fns); i++) {
        if (strcmp(sfn_fns[i].name, name) == 0) {
            break;
        }
    }

    if (i == sfn_nelems(sfn_fns)) {
        sfn_fp_fail(fp, "unknown intrinsic function '%s'", name);
        return NULL;
    }

    fn->def = &sfn_fns[i];
    fn->name = sfn_fns[i].name;

    sfn_fp_ws(fp);

    if (fp->p >= fp->last || *fp->p != '(') {
        sfn_fp_fail(fp, "'(' expected after %s", fn->name);
        return NULL;
    }

    fp->p++;
    sfn_fp_ws(fp);
    n = 0;

    if (fp->p < fp->last && *fp->p == ')') {
        fp->p++;
        goto done;
    }

    for ( ;; ) {
        if (n == SFN_FN_MAX_ARGS) {
            sfn_fp_fail(fp, "too many arguments to %s", fn->name);
            return NULL;
        }

        memset(&args[n], 0, sizeof(sfn_arg_t));

        if (sfn_fp_arg(fp, &args[n]) != 0) {
            return NULL;
        }

        n++;
        sfn_fp_ws(fp);

        if (fp->p < fp->last && *fp->p == ',') {
            fp->p++;
            continue;
        }

        if (fp->p < fp->last && *fp->p == ')') {
            fp->p++;
            break;
        }

        sfn_fp_fail(fp, "',' or ')' expected in %s", fn->name);
        return NULL;
    }

done:

    if ((int) n < fn->def->min_args || (int) n > fn->def->max_args) {
        sfn_fp_fail(fp, "wrong number of arguments to %s", fn->name);
        return NULL;
    }

    if (n) {
        fn->args = sfn_palloc(fp->pool, n * sizeof(sfn_arg_t));
        if (fn->args == NULL) {
            sfn_fp_fail(fp, "%s", "out of memory");
            return NULL;
        }
        memcpy(fn->args, args, n * sizeof(sfn_arg_t));
    }

    fn->nargs = n;

    if (fn->def->handler == sfn_fn_format
        && (args[0].type != SFN_ARG_LITERAL
            || !cJSON_IsString(args[0].literal)))
    {
        /* the template may come from a path; checked when evaluated */
        if (args[0].type == SFN_ARG_LITERAL) {
            sfn_fp_fail(fp, "%s", "the first argument of States.Format "
                        "must be a string");
            return NULL;
        }
    }

    fp->depth--;

    return fn;
}


sfn_fn_t *
sfn_fn_compile(sfn_pool_t *pool, const char *text, size_t len,
    char *errbuf, size_t errlen)
{
    sfn_fn_t      *fn;
    sfn_fparse_t   fp;

    memset(&fp, 0, sizeof(sfn_fparse_t));
    fp.pool = pool;
    fp.p = text;
    fp.last = text + len;
    fp.err = errbuf;
    fp.errlen = errlen;

    fn = sfn_fn_parse(&fp);

    if (fn) {
        sfn_fp_ws(&fp);
        if (fp.p != fp.last) {
            sfn_fp_fail(&fp, "%s", "unexpected characters after the "
                        "intrinsic function");
            return NULL;
        }
    }

    return fp.failed ? NULL : fn;
}


/* evaluation */


static void
sfn_vals_free(sfn_val_t *vals, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (vals[i].owned) {
            cJSON_Delete(vals[i].v);
        }
    }
}


static int
sfn_fn_args(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    size_t        i;
    sfn_buf_t     b;
    sfn_arg_t    *a;

    for (i = 0; i < fn->nargs; i++) {
        a = &fn->args[i];
        vals[i].raw = NULL;

        switch (a->type) {

        case SFN_ARG_LITERAL:
            vals[i].v = a->literal;
            vals[i].owned = 0;
            vals[i].raw = a->raw;
            break;

        case SFN_ARG_PATH:
            if (sfn_path_eval(a->path, env, &vals[i].v, &vals[i].owned)
                != 0)
            {
                memset(&b, 0, sizeof(sfn_buf_t));
                if (!sfn_path_context(a->path) && env->input) {
                    sfn_buf_json(&b, env->input);
                }
                sfn_err_set(err, "States.Runtime",
                            "The JSONPath '%s' specified for the field "
                            "'%s' could not be found in the input '%s'",
                            sfn_path_text(a->path), fn->name,
                            b.data ? b.data : "");
                sfn_buf_free(&b);
                sfn_vals_free(vals, i);
                return -1;
            }
            break;

        case SFN_ARG_CALL:
            vals[i].v = sfn_fn_eval(a->call, env, err);
            if (vals[i].v == NULL) {
                sfn_vals_free(vals, i);
                return -1;
            }
            vals[i].owned = 1;
            break;
        }
    }

    return 0;
}


static cJSON *
sfn_fn_fail(sfn_err_t *err, const sfn_fn_t *fn, const char *fmt,
    const char *arg)
{
    char  msg[512];

    snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
    sfn_err_set(err, "States.IntrinsicFailure",
                "Invalid arguments in %s: %s", fn->name, msg);

    return NULL;
}


/* Java's Math.round */
static double
sfn_java_round(double d)
{
    return floor(d + 0.5);
}


/*
 * An argument where AWS requires an integer: a number, which AWS rounds to
 * the nearest integer when it is not one (ArrayRange, ArrayPartition,
 * ArrayGetItem, MathRandom, MathAdd alike).
 */

static int
sfn_fn_int_arg(const cJSON *v, int64_t *out)
{
    double  d;

    if (!cJSON_IsNumber(v)) {
        return 0;
    }

    d = sfn_java_round(v->valuedouble);

    if (d < -9007199254740992.0 || d > 9007199254740992.0) {
        return 0;
    }

    *out = (int64_t) d;

    return 1;
}


static uint64_t
sfn_jrand_next(uint64_t *seed, int bits)
{
    *seed = (*seed * 0x5DEECE66DULL + 0xBULL) & ((1ULL << 48) - 1);

    return *seed >> (48 - bits);
}


/* java.util.Random(seed).nextInt(bound), so seeded calls repeat as in AWS */
static int64_t
sfn_jrand_int(int64_t seed, int64_t bound)
{
    int32_t   bits, val;
    uint64_t  s;

    s = ((uint64_t) seed ^ 0x5DEECE66DULL) & ((1ULL << 48) - 1);

    if ((bound & -bound) == bound) {
        return (int64_t) ((bound * (int64_t) sfn_jrand_next(&s, 31)) >> 31);
    }

    do {
        bits = (int32_t) sfn_jrand_next(&s, 31);
        val = bits % (int32_t) bound;
    } while ((int64_t) bits - val + (bound - 1) > 2147483647LL);

    return val;
}


static cJSON *
sfn_fn_format(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    size_t       k, nph;
    sfn_buf_t    b;
    cJSON       *r;
    const char  *t;

    if (!cJSON_IsString(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the template must be a string", NULL);
    }

    /* a literal template keeps its escapes; a path's value has none */
    t = vals[0].raw ? vals[0].raw : vals[0].v->valuestring;

    nph = 0;
    for (k = 0; t[k]; k++) {
        if (vals[0].raw && t[k] == '\\' && t[k + 1]) {
            k++;
            continue;
        }
        if (t[k] == '{' && t[k + 1] == '}') {
            nph++;
            k++;
        }
    }

    if (nph != fn->nargs - 1) {
        sfn_err_set(err, "States.IntrinsicFailure",
                    "Invalid arguments in States.Format: the number of "
                    "arguments (%zu) does not match the number of "
                    "placeholders (%zu)", fn->nargs - 1, nph);
        return NULL;
    }

    memset(&b, 0, sizeof(sfn_buf_t));
    nph = 1;

    for (k = 0; t[k]; k++) {
        if (vals[0].raw && t[k] == '\\' && t[k + 1]) {
            k++;
            sfn_buf_addc(&b, t[k]);
            continue;
        }

        if (t[k] == '{' && t[k + 1] == '}') {
            sfn_json_tostring(&b, vals[nph++].v);
            k++;
            continue;
        }

        sfn_buf_addc(&b, t[k]);
    }

    if (b.failed) {
        sfn_buf_free(&b);
        return NULL;
    }

    r = cJSON_CreateString(b.data ? b.data : "");
    sfn_buf_free(&b);

    return r;
}


static cJSON *
sfn_fn_string_to_json(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char   *s;
    cJSON  *r;

    if (!cJSON_IsString(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the argument must be a string",
                           NULL);
    }

    s = vals[0].v->valuestring;
    r = sfn_json_parse(s, strlen(s));
    if (r == NULL) {
        return sfn_fn_fail(err, fn, "the string is not valid JSON: %s",
                           s);
    }
    return r;
}


static cJSON *
sfn_fn_json_to_string(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char   *s;
    cJSON  *r;

    s = sfn_json_print(vals[0].v);
    if (s == NULL) {
        return NULL;
    }
    r = cJSON_CreateString(s);
    free(s);
    return r;
}


static cJSON *
sfn_fn_array(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON   *r, *c;
    size_t   i;

    r = cJSON_CreateArray();
    for (i = 0; r && i < fn->nargs; i++) {
        c = cJSON_Duplicate(vals[i].v, 1);
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }
        cJSON_AddItemToArray(r, c);
    }
    return r;
}


static cJSON *
sfn_fn_array_partition(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON        *r, *c, *part;
    int64_t       x, k;
    const cJSON  *e;

    if (!cJSON_IsArray(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the first argument must be an "
                           "array", NULL);
    }

    if (!sfn_fn_int_arg(vals[1].v, &x) || x <= 0) {
        return sfn_fn_fail(err, fn, "the chunk size must be a positive "
                           "integer", NULL);
    }

    r = cJSON_CreateArray();
    part = NULL;
    k = 0;

    cJSON_ArrayForEach(e, vals[0].v) {
        if (r == NULL) {
            return NULL;
        }

        if (part == NULL || k == x) {
            part = cJSON_CreateArray();
            if (part == NULL) {
                cJSON_Delete(r);
                return NULL;
            }
            cJSON_AddItemToArray(r, part);
            k = 0;
        }

        c = cJSON_Duplicate(e, 1);
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }

        cJSON_AddItemToArray(part, c);
        k++;
    }
    return r;
}


static cJSON *
sfn_fn_array_contains(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    const cJSON  *e;

    if (!cJSON_IsArray(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the first argument must be an "
                           "array", NULL);
    }

    cJSON_ArrayForEach(e, vals[0].v) {
        if (sfn_json_equal(e, vals[1].v)) {
            return cJSON_CreateTrue();
        }
    }
    return cJSON_CreateFalse();
}


static cJSON *
sfn_fn_array_range(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON    *r, *c;
    size_t    i, n;
    int64_t   x, y, z;

    if (!sfn_fn_int_arg(vals[0].v, &x) || !sfn_fn_int_arg(vals[1].v, &y)
        || !sfn_fn_int_arg(vals[2].v, &z))
    {
        return sfn_fn_fail(err, fn, "start, end and step must be "
                           "numbers", NULL);
    }

    if (z == 0) {
        return sfn_fn_fail(err, fn, "the step must not be 0", NULL);
    }

    n = 0;
    if ((z > 0 && x <= y) || (z < 0 && x >= y)) {
        n = (size_t) ((y - x) / z) + 1;
    }

    if (n > SFN_FN_MAX_RANGE) {
        return sfn_fn_fail(err, fn, "the range has more than 1000 "
                           "items", NULL);
    }

    r = cJSON_CreateArray();
    for (i = 0; r && i < n; i++) {
        c = cJSON_CreateNumber((double) (x + (int64_t) i * z));
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }
        cJSON_AddItemToArray(r, c);
    }
    return r;
}


static cJSON *
sfn_fn_array_get_item(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    int64_t       x;
    const cJSON  *e;

    if (!cJSON_IsArray(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the first argument must be an "
                           "array", NULL);
    }

    if (!sfn_fn_int_arg(vals[1].v, &x) || x < 0) {
        return sfn_fn_fail(err, fn, "the index must be a non-negative "
                           "integer", NULL);
    }

    for (e = vals[0].v->child; e && x > 0; e = e->next, x--) {
        /* void */
    }

    if (e == NULL) {
        return sfn_fn_fail(err, fn, "the index is out of bounds", NULL);
    }
    return cJSON_Duplicate(e, 1);
}


static cJSON *
sfn_fn_array_length(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    if (!cJSON_IsArray(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the argument must be an array",
                           NULL);
    }
    return cJSON_CreateNumber(cJSON_GetArraySize(vals[0].v));
}


static cJSON *
sfn_fn_array_unique(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON        *r, *c, *d;
    const cJSON  *e;

    if (!cJSON_IsArray(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the argument must be an array",
                           NULL);
    }

    r = cJSON_CreateArray();
    cJSON_ArrayForEach(e, vals[0].v) {
        if (r == NULL) {
            return NULL;
        }

        cJSON_ArrayForEach(d, r) {
            if (sfn_json_equal(d, e)) {
                break;
            }
        }

        if (d) {
            continue;
        }

        c = cJSON_Duplicate(e, 1);
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }
        cJSON_AddItemToArray(r, c);
    }
    return r;
}


static cJSON *
sfn_fn_base64_encode(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char    *s;
    cJSON   *r;
    size_t   len;

    if (!cJSON_IsString(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the argument must be a string",
                           NULL);
    }

    len = strlen(vals[0].v->valuestring);
    if (len > SFN_FN_MAX_STRING) {
        return sfn_fn_fail(err, fn, "the input is longer than 10000 "
                           "characters", NULL);
    }

    s = malloc(len / 3 * 4 + 8);
    if (s == NULL) {
        return NULL;
    }

    sfn_base64_encode((unsigned char *) vals[0].v->valuestring, len, s);
    r = cJSON_CreateString(s);
    free(s);
    return r;
}


static cJSON *
sfn_fn_base64_decode(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON          *r;
    size_t          n, len;
    unsigned char  *bytes;

    if (!cJSON_IsString(vals[0].v)) {
        return sfn_fn_fail(err, fn, "the argument must be a string",
                           NULL);
    }

    len = strlen(vals[0].v->valuestring);
    if (len > SFN_FN_MAX_STRING) {
        return sfn_fn_fail(err, fn, "the input is longer than 10000 "
                           "characters", NULL);
    }

    bytes = malloc(len / 4 * 3 + 1);
    if (bytes == NULL) {
        return NULL;
    }

    if (sfn_base64_decode(vals[0].v->valuestring, len, bytes, &n) != 0
        || memchr(bytes, '\0', n) != NULL)
    {
        free(bytes);
        return sfn_fn_fail(err, fn, "the input is not valid base64",
                           NULL);
    }

    bytes[n] = '\0';
    r = cJSON_CreateString((char *) bytes);
    free(bytes);
    return r;
}


static cJSON *
sfn_fn_hash(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char     hex[129];
    size_t   len;

    if (!cJSON_IsString(vals[0].v) || !cJSON_IsString(vals[1].v)) {
        return sfn_fn_fail(err, fn, "the data and the algorithm must be "
                           "strings", NULL);
    }

    len = strlen(vals[0].v->valuestring);
    if (len > SFN_FN_MAX_STRING) {
        return sfn_fn_fail(err, fn, "the input is longer than 10000 "
                           "characters", NULL);
    }

    if (sfn_hash_hex(vals[1].v->valuestring,
                     (unsigned char *) vals[0].v->valuestring, len, hex)
        != 0)
    {
        return sfn_fn_fail(err, fn, "the hash algorithm %s is not one of "
                           "MD5, SHA-1, SHA-256, SHA-384, SHA-512",
                           vals[1].v->valuestring);
    }
    return cJSON_CreateString(hex);
}


static cJSON *
sfn_fn_json_merge(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    cJSON        *r, *c;
    const cJSON  *e;

    if (!cJSON_IsObject(vals[0].v) || !cJSON_IsObject(vals[1].v)) {
        return sfn_fn_fail(err, fn, "the first two arguments must be "
                           "objects", NULL);
    }

    if (!cJSON_IsBool(vals[2].v)) {
        return sfn_fn_fail(err, fn, "the third argument must be a "
                           "boolean", NULL);
    }

    if (cJSON_IsTrue(vals[2].v)) {
        return sfn_fn_fail(err, fn, "deep merging is not supported; "
                           "set the third argument to false", NULL);
    }

    r = cJSON_Duplicate(vals[0].v, 1);
    cJSON_ArrayForEach(e, vals[1].v) {
        if (r == NULL) {
            return NULL;
        }

        c = cJSON_Duplicate(e, 1);
        if (c == NULL) {
            cJSON_Delete(r);
            return NULL;
        }

        if (cJSON_GetObjectItemCaseSensitive(r, e->string)) {
            cJSON_ReplaceItemInObjectCaseSensitive(r, e->string, c);
        } else {
            cJSON_AddItemToObject(r, e->string, c);
        }
    }
    return r;
}


static cJSON *
sfn_fn_math_random(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    int64_t         x, y, z, k;
    unsigned char   rnd[16];

    z = 0;

    if (!sfn_fn_int_arg(vals[0].v, &x) || !sfn_fn_int_arg(vals[1].v, &y)
        || (fn->nargs == 3 && !sfn_fn_int_arg(vals[2].v, &z)))
    {
        return sfn_fn_fail(err, fn, "start, end and seed must be "
                           "numbers", NULL);
    }

    if (y <= x || y - x > 2147483647LL) {
        return sfn_fn_fail(err, fn, "the end must be greater than the "
                           "start", NULL);
    }

    if (fn->nargs == 3) {
        k = sfn_jrand_int(z, y - x);

    } else {
        memset(rnd, 0, sizeof(rnd));
        if (env->random) {
            env->random(env->rdata, rnd, 8);
        }
        memcpy(&k, rnd, sizeof(k));
        k = (int64_t) ((uint64_t) k % (uint64_t) (y - x));
    }
    return cJSON_CreateNumber((double) (x + k));
}


static cJSON *
sfn_fn_math_add(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    int64_t  x, y;

    if (!sfn_fn_int_arg(vals[0].v, &x) || !sfn_fn_int_arg(vals[1].v, &y)) {
        return sfn_fn_fail(err, fn, "both arguments must be numbers",
                           NULL);
    }

    if (x < INT32_MIN || x > INT32_MAX || y < INT32_MIN || y > INT32_MAX) {
        return sfn_fn_fail(err, fn, "the values must be integers between "
                           "-2147483648 and 2147483647", NULL);
    }

    return cJSON_CreateNumber((double) (x + y));
}


static cJSON *
sfn_fn_string_split(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char        *s;
    cJSON       *r, *c;
    const char  *p, *q, *delims;

    if (!cJSON_IsString(vals[0].v) || !cJSON_IsString(vals[1].v)) {
        return sfn_fn_fail(err, fn, "both arguments must be strings",
                           NULL);
    }

    r = cJSON_CreateArray();
    p = vals[0].v->valuestring;
    delims = vals[1].v->valuestring;

    while (r && *p) {
        q = p;
        while (*q && (*delims == '\0' || strchr(delims, *q) == NULL)) {
            q++;
        }

        if (q > p) {
            s = sfn_strndup(p, q - p);
            c = s ? cJSON_CreateString(s) : NULL;
            free(s);
            if (c == NULL) {
                cJSON_Delete(r);
                return NULL;
            }
            cJSON_AddItemToArray(r, c);
        }

        p = *q ? q + 1 : q;
    }
    return r;
}


static cJSON *
sfn_fn_uuid(const sfn_fn_t *fn, sfn_env_t *env, sfn_val_t *vals,
    sfn_err_t *err)
{
    char            uuid[40];
    unsigned char   rnd[16];

    memset(rnd, 0, sizeof(rnd));
    if (env->random) {
        env->random(env->rdata, rnd, sizeof(rnd));
    }
    sfn_uuid_format(rnd, uuid);
    return cJSON_CreateString(uuid);
}


cJSON *
sfn_fn_eval(const sfn_fn_t *fn, sfn_env_t *env, sfn_err_t *err)
{
    cJSON      *r;
    sfn_val_t   vals[SFN_FN_MAX_ARGS];

    if (sfn_fn_args(fn, env, vals, err) != 0) {
        return NULL;
    }

    r = fn->def->handler(fn, env, vals, err);

    sfn_vals_free(vals, fn->nargs);

    if (r == NULL && err->error == NULL) {
        sfn_err_set(err, "States.Runtime", "out of memory in %s", fn->name);
    }

    return r;
}


int
sfn_expr_compile(sfn_pool_t *pool, sfn_expr_t *x, const char *text,
    char *errbuf, size_t errlen)
{
    size_t  len;

    memset(x, 0, sizeof(sfn_expr_t));
    x->text = text;
    len = strlen(text);

    if (len >= 7 && memcmp(text, "States.", 7) == 0) {
        x->fn = sfn_fn_compile(pool, text, len, errbuf, errlen);
        return x->fn ? 0 : -1;
    }

    if (len && text[0] == '$') {
        x->path = sfn_path_compile(pool, text, len, errbuf, errlen);
        return x->path ? 0 : -1;
    }

    snprintf(errbuf, errlen, "the value must be a JSONPath or an intrinsic "
             "function");

    return -1;
}


int
sfn_expr_eval(const sfn_expr_t *x, sfn_env_t *env, const char *field,
    cJSON **out, int *owned, sfn_err_t *err)
{
    sfn_buf_t  b;

    if (x->fn) {
        *out = sfn_fn_eval(x->fn, env, err);
        *owned = 1;
        return *out ? 0 : -1;
    }

    if (sfn_path_eval(x->path, env, out, owned) == 0) {
        return 0;
    }

    memset(&b, 0, sizeof(sfn_buf_t));
    if (env->input) {
        sfn_buf_json(&b, env->input);
    }

    sfn_err_set(err, "States.Runtime",
                "The JSONPath '%s' specified for the field '%s' could not "
                "be found in the input '%s'",
                x->text, field, b.data ? b.data : "");
    sfn_buf_free(&b);

    return -1;
}


/* templates */


typedef enum {
    SFN_T_LITERAL = 0,
    SFN_T_OBJECT,
    SFN_T_ARRAY,
    SFN_T_EXPR
} sfn_tmpl_type_e;


typedef struct {
    const char           *key;        /* without ".$" */
    const char           *field;      /* as written */
    sfn_tmpl_t           *value;
} sfn_tmpl_field_t;


struct sfn_tmpl_s {
    sfn_tmpl_type_e       type;
    const cJSON          *literal;
    sfn_tmpl_field_t     *fields;
    size_t                n;
    sfn_expr_t            expr;
};


static sfn_tmpl_t *
sfn_tmpl_node(sfn_pool_t *pool, const cJSON *v, const char *field,
    char *errbuf, size_t errlen, int depth)
{
    size_t        n, i, klen;
    int           dynamic;
    char          err[256];
    sfn_tmpl_t   *t;
    const cJSON  *c;

    if (depth > 64) {
        snprintf(errbuf, errlen, "the payload template is nested too "
                 "deeply");
        return NULL;
    }

    t = sfn_pcalloc(pool, sizeof(sfn_tmpl_t));
    if (t == NULL) {
        return NULL;
    }

    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
        t->type = SFN_T_LITERAL;
        t->literal = v;
        return t;
    }

    n = 0;
    cJSON_ArrayForEach(c, v) {
        n++;
    }

    t->type = cJSON_IsObject(v) ? SFN_T_OBJECT : SFN_T_ARRAY;
    t->fields = sfn_pcalloc(pool, (n ? n : 1) * sizeof(sfn_tmpl_field_t));
    if (t->fields == NULL) {
        return NULL;
    }

    t->n = n;
    dynamic = 0;
    i = 0;

    cJSON_ArrayForEach(c, v) {
        if (t->type == SFN_T_OBJECT) {
            klen = strlen(c->string);
            t->fields[i].field = c->string;

            if (klen >= 2 && strcmp(c->string + klen - 2, ".$") == 0) {
                if (!cJSON_IsString(c)) {
                    snprintf(errbuf, errlen, "the value of the field '%s' "
                             "must be a string", c->string);
                    return NULL;
                }

                t->fields[i].key = sfn_pstrndup(pool, c->string, klen - 2);
                t->fields[i].value = sfn_pcalloc(pool, sizeof(sfn_tmpl_t));
                if (t->fields[i].key == NULL || t->fields[i].value == NULL) {
                    return NULL;
                }

                t->fields[i].value->type = SFN_T_EXPR;

                if (sfn_expr_compile(pool, &t->fields[i].value->expr,
                                     c->valuestring, err, sizeof(err))
                    != 0)
                {
                    /* AWS's words: err says what is wrong, AWS does not */
                    snprintf(errbuf, errlen, "The value for the field '%s' "
                             "must be a valid JSONPath or a valid intrinsic "
                             "function call", c->string);
                    return NULL;
                }

                dynamic = 1;
                i++;
                continue;
            }

            t->fields[i].key = c->string;
        }

        t->fields[i].value = sfn_tmpl_node(pool, c, c->string ? c->string
                                                               : field,
                                           errbuf, errlen, depth + 1);
        if (t->fields[i].value == NULL) {
            return NULL;
        }

        if (t->fields[i].value->type != SFN_T_LITERAL) {
            dynamic = 1;
        }

        i++;
    }

    if (!dynamic) {
        /* a constant subtree is copied in one piece when evaluated */
        t->type = SFN_T_LITERAL;
        t->literal = v;
    }

    return t;
}


sfn_tmpl_t *
sfn_tmpl_compile(sfn_pool_t *pool, const cJSON *v, char *errbuf,
    size_t errlen)
{
    snprintf(errbuf, errlen, "out of memory");

    return sfn_tmpl_node(pool, v, "", errbuf, errlen, 0);
}


static cJSON *
sfn_tmpl_node_eval(const sfn_tmpl_t *t, sfn_env_t *env, const char *field,
    sfn_err_t *err)
{
    int      owned;
    cJSON   *r, *c;
    size_t   i;

    switch (t->type) {

    case SFN_T_LITERAL:
        r = cJSON_Duplicate(t->literal, 1);
        if (r == NULL) {
            sfn_err_set(err, "States.Runtime", "out of memory");
        }
        return r;

    case SFN_T_EXPR:
        if (sfn_expr_eval(&t->expr, env, field, &r, &owned, err) != 0) {
            return NULL;
        }

        if (!owned) {
            r = cJSON_Duplicate(r, 1);
            if (r == NULL) {
                sfn_err_set(err, "States.Runtime", "out of memory");
            }
        }
        return r;

    case SFN_T_OBJECT:
    case SFN_T_ARRAY:
        r = t->type == SFN_T_OBJECT ? cJSON_CreateObject()
                                    : cJSON_CreateArray();
        if (r == NULL) {
            sfn_err_set(err, "States.Runtime", "out of memory");
            return NULL;
        }

        for (i = 0; i < t->n; i++) {
            c = sfn_tmpl_node_eval(t->fields[i].value, env,
                                   t->fields[i].field ? t->fields[i].field
                                                      : field,
                                   err);
            if (c == NULL) {
                cJSON_Delete(r);
                return NULL;
            }

            if (t->type == SFN_T_OBJECT) {
                /* keys live in the machine, which outlives executions */
                cJSON_AddItemToObjectCS(r, t->fields[i].key, c);

            } else {
                cJSON_AddItemToArray(r, c);
            }
        }

        return r;
    }

    return NULL;
}


cJSON *
sfn_tmpl_eval(const sfn_tmpl_t *t, sfn_env_t *env, sfn_err_t *err)
{
    return sfn_tmpl_node_eval(t, env, "", err);
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata in states (QueryLanguage "JSONata"): field values whose strings
 * may be "{% expression %}", compiled once with the machine, evaluated
 * with $states (input, result, errorOutput, context) and the variables in
 * scope; AWS's States.QueryEvaluationError causes; a state's Assign and
 * Output.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "sfn_core.h"
#include "sfn_exec.h"
#include "sfn_jsonata.h"


/*
 * An evaluation runs on the host's event loop: its budget of work keeps it
 * to milliseconds (150,000 steps: 6 ms for a 270 KB string joined from
 * 30,000 items, about 15 ms of a loaded core for the costliest steps, a
 * tail call each; 9.6 MB allocated count as much).  The clock is only a
 * backstop for work the budget does not see.
 */
#define SFN_QUERY_STEPS    150000
#define SFN_QUERY_TIME     1000
#define SFN_QUERY_MEMORY   ((size_t) 64 << 20)
#define SFN_QUERY_DEPTH    64


typedef enum {
    SFN_Q_LITERAL = 0,
    SFN_Q_OBJECT,
    SFN_Q_ARRAY,
    SFN_Q_EXPR
} sfn_qtmpl_type_e;


struct sfn_qtmpl_s {
    sfn_qtmpl_type_e      type;
    const cJSON          *literal;
    const char           *field;      /* "Output/key", for errors */
    const char           *text;       /* the expression, trimmed */
    sfn_jsonata_t        *prog;
    unsigned              uses_context:1;
    const char          **keys;
    sfn_qtmpl_t         **items;
    size_t                n;
};


int
sfn_query_text(const char *s, const char **expr, size_t *len)
{
    size_t       n;
    const char  *p, *last;

    n = strlen(s);

    if (n < 4 || s[0] != '{' || s[1] != '%' || s[n - 2] != '%'
        || s[n - 1] != '}')
    {
        return 0;
    }

    p = s + 2;
    last = s + n - 2;

    while (p < last && strchr(" \t\r\n", *p)) {
        p++;
    }

    while (last > p && strchr(" \t\r\n", last[-1])) {
        last--;
    }

    *expr = p;
    *len = last - p;

    return 1;
}


static int
sfn_qtmpl_keep(sfn_machine_t *m, sfn_jsonata_t *prog)
{
    size_t   cap;
    void   **p;

    if (m->nprogs == m->progs_cap) {
        cap = m->progs_cap ? m->progs_cap * 2 : 16;
        p = realloc(m->progs, cap * sizeof(void *));
        if (p == NULL) {
            return -1;
        }
        m->progs = p;
        m->progs_cap = cap;
    }

    m->progs[m->nprogs++] = prog;

    return 0;
}


static sfn_qtmpl_t *
sfn_qtmpl_node(sfn_machine_t *m, const cJSON *v, const char *field,
    char *errbuf, size_t errlen, int depth)
{
    int                   dynamic;
    char                 *f;
    size_t                n, i, len, flen;
    sfn_qtmpl_t          *t;
    const char           *expr;
    const cJSON          *c;
    sfn_jsonata_error_t   jerr;

    if (depth > SFN_QUERY_DEPTH) {
        snprintf(errbuf, errlen, "The value for the field '%s' is nested "
                 "too deeply", field);
        return NULL;
    }

    t = sfn_pcalloc(&m->pool, sizeof(sfn_qtmpl_t));
    if (t == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    t->type = SFN_Q_LITERAL;
    t->literal = v;
    t->field = field;

    if (cJSON_IsString(v) && sfn_query_text(v->valuestring, &expr, &len)) {
        t->type = SFN_Q_EXPR;
        t->text = sfn_pstrndup(&m->pool, expr, len);
        if (t->text == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return NULL;
        }

        t->prog = sfn_jsonata_compile(expr, len, &jerr);
        if (t->prog == NULL) {
            /* a long expression is cut, so that the reason shows */
            snprintf(errbuf, errlen, "The JSONata expression '%.*s%s' "
                     "specified for the field '%s' is not valid: %s: %s",
                     len > 200 ? 200 : (int) len, t->text,
                     len > 200 ? "..." : "", field, jerr.code,
                     jerr.message ? jerr.message : "");
            sfn_jsonata_error_clear(&jerr);
            return NULL;
        }

        if (sfn_qtmpl_keep(m, t->prog) != 0) {
            sfn_jsonata_free(t->prog);
            snprintf(errbuf, errlen, "out of memory");
            return NULL;
        }

        t->uses_context = strstr(t->text, "context") != NULL;

        return t;
    }

    if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
        return t;
    }

    n = 0;
    cJSON_ArrayForEach(c, v) {
        n++;
    }

    t->items = sfn_pcalloc(&m->pool, (n ? n : 1) * sizeof(sfn_qtmpl_t *));
    t->keys = sfn_pcalloc(&m->pool, (n ? n : 1) * sizeof(char *));
    if (t->items == NULL || t->keys == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    t->n = n;
    dynamic = 0;
    i = 0;
    flen = strlen(field);

    cJSON_ArrayForEach(c, v) {
        f = sfn_palloc(&m->pool, flen + (c->string ? strlen(c->string) : 24)
                                 + 4);
        if (f == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return NULL;
        }

        if (c->string) {
            sprintf(f, "%s/%s", field, c->string);
        } else {
            sprintf(f, "%s[%zu]", field, i);
        }

        t->keys[i] = c->string;
        t->items[i] = sfn_qtmpl_node(m, c, f, errbuf, errlen, depth + 1);
        if (t->items[i] == NULL) {
            return NULL;
        }

        if (t->items[i]->type != SFN_Q_LITERAL) {
            dynamic = 1;
        }

        i++;
    }

    if (dynamic) {
        t->type = cJSON_IsObject(v) ? SFN_Q_OBJECT : SFN_Q_ARRAY;
    }

    return t;
}


sfn_qtmpl_t *
sfn_qtmpl_compile(sfn_machine_t *m, const cJSON *v, const char *field,
    char *errbuf, size_t errlen)
{
    char  *f;

    f = sfn_pstrdup(&m->pool, field);
    if (f == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }

    return sfn_qtmpl_node(m, v, f, errbuf, errlen, 0);
}


int
sfn_qtmpl_is_expr(const sfn_qtmpl_t *t)
{
    return t->type == SFN_Q_EXPR;
}


const cJSON *
sfn_qtmpl_literal(const sfn_qtmpl_t *t)
{
    return t->type == SFN_Q_LITERAL ? t->literal : NULL;
}


/* evaluation */


typedef struct {
    sfn_run_t            *run;
    const cJSON          *input;
    const cJSON          *result;
    const cJSON          *error_output;
    const sfn_qtmpl_t    *t;
    cJSON                *states;
    sfn_env_t             env;
    sfn_jsonata_session_t  *session;
    const cJSON          *lend;       /* the tree the output may refer to */
    unsigned              lent;       /* SFN_JSONATA_LENT_*: it does */
    unsigned              env_ready:1;
} sfn_qhost_t;


static const cJSON *
sfn_query_variable(void *data, const char *name, size_t len)
{
    sfn_qhost_t  *qh;

    qh = data;

    if (len != 6 || memcmp(name, "states", 6) != 0) {
        return sfn_vars_get(qh->run, name, len);
    }

    if (qh->states == NULL) {
        qh->states = cJSON_CreateObject();
        if (qh->states == NULL) {
            return NULL;
        }

        if (qh->input) {
            cJSON_AddItemReferenceToObject(qh->states, "input",
                                           (cJSON *) qh->input);
        }
        if (qh->result) {
            cJSON_AddItemReferenceToObject(qh->states, "result",
                                           (cJSON *) qh->result);
        }
        if (qh->error_output) {
            cJSON_AddItemReferenceToObject(qh->states, "errorOutput",
                                           (cJSON *) qh->error_output);
        }
    }

    /* the context object costs: built for the expressions that name it */
    if (qh->t->uses_context && !qh->env_ready) {
        sfn_env_init(&qh->env, qh->run, qh->input);
        qh->env.build_ctx(&qh->env);
        qh->env_ready = 1;

        if (qh->env.ctx) {
            cJSON_AddItemReferenceToObject(qh->states, "context",
                                           qh->env.ctx);
        }
    }

    return qh->states;
}


static void
sfn_query_random(void *data, void *buf, size_t len)
{
    sfn_qhost_t  *qh;

    qh = data;

    sfn_random(qh->run->e, buf, len);
}


static void
sfn_query_fail(sfn_run_t *run, const sfn_qtmpl_t *t, const char *what)
{
    sfn_runtime(run, "States.QueryEvaluationError",
                "The JSONata expression '%s' specified for the field '%s' "
                "%s", t->text, t->field, what);
}


void
sfn_query_type_error(sfn_run_t *run, const sfn_qtmpl_t *t,
    const char *expected, const cJSON *v)
{
    sfn_buf_t    b;
    const char  *type;

    memset(&b, 0, sizeof(sfn_buf_t));
    sfn_buf_json(&b, v);

    switch (v->type & 0xff) {
    case cJSON_True:
    case cJSON_False:
        type = "boolean";
        break;
    case cJSON_Number:
        type = "number";
        break;
    case cJSON_String:
        type = "string";
        break;
    case cJSON_Array:
        type = "array";
        break;
    case cJSON_Object:
        type = "object";
        break;
    default:
        type = "null";
    }

    sfn_runtime(run, "States.QueryEvaluationError",
                "The JSONata expression '%s' specified for the field '%s' "
                "returned an unexpected result type. Expected '%s', but was "
                "'%s' for value: %s", t->text, t->field, expected, type,
                b.data ? b.data : "");

    sfn_buf_free(&b);
}


/*
 * The value of t: owned, or built in pool when pool is set (then nothing
 * to free on failure, the pool is dropped whole).
 */
static cJSON *
sfn_query_node(sfn_qhost_t *qh, const sfn_qtmpl_t *t, sfn_pool_t *pool)
{
    char                  *what;
    size_t                 i;
    cJSON                 *r, *c;
    sfn_run_t             *run;
    sfn_jsonata_host_t     host;
    sfn_jsonata_error_t    jerr;
    sfn_jsonata_limits_t   limits;

    run = qh->run;

    switch (t->type) {

    case SFN_Q_LITERAL:
        r = pool ? sfn_json_pdup(pool, t->literal)
                 : cJSON_Duplicate(t->literal, 1);
        if (r == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
        }
        return r;

    case SFN_Q_EXPR:
        memset(&limits, 0, sizeof(sfn_jsonata_limits_t));
        limits.timelimit = SFN_QUERY_TIME;
        limits.steps = SFN_QUERY_STEPS;
        limits.memory = SFN_QUERY_MEMORY;
        limits.now = sfn_exec_now(run->e);

        memset(&host, 0, sizeof(sfn_jsonata_host_t));
        host.variable = sfn_query_variable;
        host.random = sfn_query_random;
        host.data = qh;
        host.aws = 1;

        /* the fields of one template share the values they read */
        if (qh->session == NULL) {
            qh->session = sfn_jsonata_session_new();
            if (qh->session == NULL) {
                sfn_err_set(&run->err, "States.Runtime", "out of memory");
                return NULL;
            }
        }

        host.session = qh->session;
        host.pool = pool;
        host.lend = pool ? qh->lend : NULL;

        qh->t = t;
        r = NULL;

        if (sfn_jsonata_eval_host(t->prog, NULL, NULL, &limits, &host, &r,
                                  &jerr) != 0)
        {
            what = malloc(strlen(jerr.message ? jerr.message : "") + 64);
            if (what) {
                sprintf(what, "threw an error during evaluation. %s: %s",
                        jerr.code, jerr.message ? jerr.message : "");
            }
            sfn_query_fail(run, t, what ? what : "threw an error during "
                                                 "evaluation.");
            free(what);
            sfn_jsonata_error_clear(&jerr);
            return NULL;
        }

        if (host.function) {
            if (pool == NULL) {
                cJSON_Delete(r);
            }
            sfn_query_fail(run, t, "returned an unsupported result type.");
            return NULL;
        }

        if (r == NULL) {
            sfn_query_fail(run, t, "returned nothing (undefined).");
        }

        qh->lent |= host.lent;

        return r;

    case SFN_Q_OBJECT:
    case SFN_Q_ARRAY:
        if (pool) {
            r = sfn_json_pnode(pool, t->type == SFN_Q_OBJECT ? cJSON_Object
                                                             : cJSON_Array);
        } else {
            r = t->type == SFN_Q_OBJECT ? cJSON_CreateObject()
                                        : cJSON_CreateArray();
        }

        if (r == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return NULL;
        }

        for (i = 0; i < t->n; i++) {
            c = sfn_query_node(qh, t->items[i], pool);
            if (c == NULL) {
                if (pool == NULL) {
                    cJSON_Delete(r);
                }
                return NULL;
            }

            if (pool) {
                if (sfn_json_padd(pool, r, t->type == SFN_Q_OBJECT
                                           ? t->keys[i] : NULL,
                                  t->type == SFN_Q_OBJECT
                                  ? strlen(t->keys[i]) : 0, c) != 0)
                {
                    sfn_err_set(&run->err, "States.Runtime",
                                "out of memory");
                    return NULL;
                }

            } else if (t->type == SFN_Q_OBJECT) {
                /* keys live in the machine, which outlives executions */
                cJSON_AddItemToObjectCS(r, t->keys[i], c);

            } else {
                cJSON_AddItemToArray(r, c);
            }
        }

        return r;
    }

    return NULL;
}


/*
 * With pool, the value may refer to the arrays and objects of lend (a tree
 * that outlives it): *lent tells whether it does (SFN_JSONATA_LENT_*).
 */
static cJSON *
sfn_query_run(sfn_run_t *run, const sfn_qtmpl_t *t, const cJSON *input,
    const cJSON *result, const cJSON *error_output, sfn_pool_t *pool,
    const cJSON *lend, unsigned *lent)
{
    cJSON        *r;
    sfn_qhost_t   qh;

    memset(&qh, 0, sizeof(sfn_qhost_t));
    qh.run = run;
    qh.input = input;
    qh.result = result;
    qh.error_output = error_output;
    qh.t = t;
    qh.lend = lend;

    r = sfn_query_node(&qh, t, pool);

    if (lent) {
        *lent = qh.lent;
    }

    sfn_jsonata_session_free(qh.session);
    cJSON_Delete(qh.states);

    if (qh.env_ready) {
        sfn_env_done(&qh.env);
    }

    return r;
}


/*
 * Evaluates t with $states.input, .result and .errorOutput (each NULL
 * when absent).  Returns a new tree, or NULL with run->err set.
 */
cJSON *
sfn_query_eval(sfn_run_t *run, const sfn_qtmpl_t *t, const cJSON *input,
    const cJSON *result, const cJSON *error_output)
{
    return sfn_query_run(run, t, input, result, error_output, NULL, NULL,
                         NULL);
}


/*
 * The same as a payload whose tree lives in its own arena: one free for
 * all its nodes.  The arrays and objects it takes whole from the run's
 * input are referred to, not copied: the input is boxed, so that it
 * cannot change, and the payload holds it (or what it refers to in turn)
 * when it does.  NULL with run->err set.
 */
static sfn_payload_t *
sfn_query_payload(sfn_run_t *run, const sfn_qtmpl_t *t, const cJSON *input,
    const cJSON *result, const cJSON *error_output)
{
    cJSON          *r;
    unsigned        lent;
    sfn_payload_t  *p, *from;

    p = sfn_payload_new();
    if (p == NULL) {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        return NULL;
    }

    from = input && input == run->input
           ? sfn_payload_share(run->input, &run->shared) : NULL;

    r = sfn_query_run(run, t, input, result, error_output,
                      sfn_payload_pool(p), from ? input : NULL, &lent);
    if (r == NULL) {
        sfn_payload_release(p);
        return NULL;
    }

    if (lent
        && sfn_payload_lend(p, from, lent & SFN_JSONATA_LENT_OWN,
                            lent & SFN_JSONATA_LENT_HELD) != 0)
    {
        sfn_err_set(&run->err, "States.Runtime", "out of memory");
        sfn_payload_release(p);
        return NULL;
    }

    sfn_payload_set(p, r);

    return p;
}


/*
 * Assign, then Output, of a state with its result (owned, or NULL for a
 * state without one): both see the variables as they were on entry.  The
 * output, result or input by default, replaces run->input.
 */
int
sfn_query_output(sfn_run_t *run, cJSON *result, const cJSON *error_output,
    const sfn_qtmpl_t *assign, const sfn_qtmpl_t *output)
{
    cJSON          *out;
    sfn_payload_t  *p;

    if (assign
        && sfn_vars_assign_query(run, assign, run->input, result,
                                 error_output) != 0)
    {
        cJSON_Delete(result);
        return -1;
    }

    if (output) {
        p = sfn_query_payload(run, output, run->input, result, error_output);
        cJSON_Delete(result);

        if (p == NULL) {
            return -1;
        }

        /* what it refers to was sized before: the bound first */
        if (sfn_payload_bound(p) > SFN_MAX_PAYLOAD
            && sfn_io_check_size(run, sfn_payload_json(p)) != 0)
        {
            sfn_payload_release(p);
            return -1;
        }

        sfn_run_replace_payload(run, p);

        return 0;
    }

    if (result) {
        out = result;

    } else if (error_output) {
        out = cJSON_Duplicate(error_output, 1);
        if (out == NULL) {
            sfn_err_set(&run->err, "States.Runtime", "out of memory");
            return -1;
        }

    } else {
        return 0;
    }

    if (sfn_io_check_size(run, out) != 0) {
        cJSON_Delete(out);
        return -1;
    }

    sfn_run_replace_input(run, out);

    return 0;
}


/*
 * MaxConcurrency, ToleratedFailureCount, ToleratedFailurePercentage,
 * TimeoutSeconds, HeartbeatSeconds, Seconds: a number, or an expression
 * giving one; an integer unless dout is given.
 */
int
sfn_query_int(sfn_run_t *run, const sfn_qtmpl_t *t, const char *field,
    int64_t min, int64_t max, int64_t *out, double *dout)
{
    cJSON   *v;
    double   d;

    v = sfn_query_eval(run, t, run->input, NULL, NULL);
    if (v == NULL) {
        return -1;
    }

    if (!cJSON_IsNumber(v)) {
        sfn_query_type_error(run, t, "number", v);
        cJSON_Delete(v);
        return -1;
    }

    d = v->valuedouble;
    cJSON_Delete(v);

    if (dout == NULL && d != floor(d)) {
        sfn_runtime(run, "States.QueryEvaluationError",
                    "The %s field cannot be parsed as an integer: %.17g",
                    field, d);
        return -1;
    }

    if (d < (double) min || d > (double) max) {
        sfn_runtime(run, "States.QueryEvaluationError",
                    "The %s field must be between %lld and %lld but was: "
                    "%.17g", field, (long long) min, (long long) max, d);
        return -1;
    }

    if (dout) {
        *dout = d;
    } else {
        *out = (int64_t) d;
    }

    return 0;
}


/*
 * Copyright (C) ngx_sfn authors
 *
 * JSONata (the language of jsonata-js 2.0.6) for the engine: an expression
 * is compiled once into a program, then evaluated any number of times
 * against a cJSON input with variable bindings.  Errors carry JSONata's
 * codes (S0201, T2001, D3141, ...) and messages.
 */

#ifndef _SFN_JSONATA_H_INCLUDED_
#define _SFN_JSONATA_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>


typedef struct sfn_jsonata_s  sfn_jsonata_t;


typedef struct {
    char                  code[8];        /* "T2001"; "" when no error */
    char                 *message;        /* malloc'd */
    size_t                position;       /* in the expression, 0 if none */
} sfn_jsonata_error_t;


typedef struct {
    int                   depth;          /* evaluation depth, 0: default */
    int64_t               timelimit;      /* ms, 0: none */
    int64_t               steps;          /* work: evaluation steps and
                                             comparisons, plus a step per
                                             64 bytes allocated; 0: none */
    int64_t               now;            /* ms since epoch for $now(), 0: clock */
    size_t                memory;         /* bytes, 0: default (1 GiB) */
} sfn_jsonata_limits_t;


/*
 * Compiles text into a program.  Returns NULL with *err set on a syntax
 * error or on allocation failure (code "U1000").
 */
sfn_jsonata_t *sfn_jsonata_compile(const char *text, size_t len,
    sfn_jsonata_error_t *err);

/*
 * Evaluates the program against input (NULL: undefined input) with
 * bindings (a cJSON object of name to value, or NULL).  Returns 0 and sets
 * *out to a new cJSON tree, or NULL when the result is undefined; returns
 * -1 with *err set.  Functions in the result are printed as "" like
 * jsonata-js's JSON.stringify replacement.
 */
int sfn_jsonata_eval(const sfn_jsonata_t *prog, const cJSON *input,
    const cJSON *bindings, const sfn_jsonata_limits_t *limits, cJSON **out,
    sfn_jsonata_error_t *err);

/*
 * What Step Functions adds around an evaluation.  variable() gives the
 * value of a $name that neither the expression nor the bindings bind
 * (borrowed until the evaluation ends, or the session), or NULL; it is
 * asked once per name and evaluation (or session).  With aws set, the functions Step Functions adds
 * ($partition, $range, $hash, $random with a seed, $uuid, $parse) are
 * defined; random() fills their random bytes.  function is set on return
 * when the result was a function, which JSON cannot hold.
 */
/*
 * Evaluations that share one arena: what variable() gave is converted
 * once for all of them, and the results live until the session is freed
 * (the fields of one payload template, evaluated against the same
 * values).
 */
typedef struct sfn_jsonata_session_s  sfn_jsonata_session_t;

sfn_jsonata_session_t *sfn_jsonata_session_new(void);
void sfn_jsonata_session_free(sfn_jsonata_session_t *s);


typedef struct {
    const cJSON        *(*variable)(void *data, const char *name,
                                    size_t len);
    void                (*random)(void *data, void *buf, size_t len);
    void                 *data;
    sfn_jsonata_session_t  *session;    /* NULL: an arena of its own */
    struct sfn_pool_s    *pool;         /* set: *out is built in this
                                           arena (sfn_json_pnode()), never
                                           to be given to cJSON_Delete() */
    const cJSON          *lend;         /* with pool: a tree that outlives
                                           *out, whose arrays and objects
                                           read through variable() *out
                                           may refer to (cJSON_IsReference
                                           nodes) instead of copying */
    unsigned              lent;         /* set on return: SFN_JSONATA_LENT_*
                                           bits, what *out refers to */
    unsigned              aws:1;
    unsigned              function:1;
} sfn_jsonata_host_t;


/* lend's own nodes; nodes that lend's reference nodes refer to */
#define SFN_JSONATA_LENT_OWN   1
#define SFN_JSONATA_LENT_HELD  2

int sfn_jsonata_eval_host(const sfn_jsonata_t *prog, const cJSON *input,
    const cJSON *bindings, const sfn_jsonata_limits_t *limits,
    sfn_jsonata_host_t *host, cJSON **out, sfn_jsonata_error_t *err);

void sfn_jsonata_free(sfn_jsonata_t *prog);
void sfn_jsonata_error_clear(sfn_jsonata_error_t *err);


#endif /* _SFN_JSONATA_H_INCLUDED_ */


/*
 * Copyright (C) ngx_sfn authors
 *
 * Engine internals shared by the engine's source files only: the arena,
 * strings and buffers, JSON helpers, compiled paths, templates, intrinsic
 * functions, choice rules and the compiled state machine.
 */

#ifndef _SFN_CORE_H_INCLUDED_
#define _SFN_CORE_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <cjson/cJSON.h>

#include "sfn_engine.h"


#define sfn_nelems(a)   (sizeof(a) / sizeof((a)[0]))


typedef struct {
    size_t                len;
    const char           *data;
} sfn_str_t;


typedef struct sfn_pool_chunk_s  sfn_pool_chunk_t;

typedef struct sfn_pool_s {
    sfn_pool_chunk_t     *chunk;
} sfn_pool_t;


void *sfn_palloc(sfn_pool_t *pool, size_t size);
void *sfn_pcalloc(sfn_pool_t *pool, size_t size);
char *sfn_pstrndup(sfn_pool_t *pool, const char *s, size_t len);
char *sfn_pstrdup(sfn_pool_t *pool, const char *s);
void sfn_pool_destroy(sfn_pool_t *pool);


/* a growable malloc'd buffer; "failed" sticks after an allocation error */
typedef struct {
    char                 *data;
    size_t                len;
    size_t                cap;
    int                   failed;
} sfn_buf_t;


void sfn_buf_add(sfn_buf_t *b, const char *s, size_t len);
void sfn_buf_adds(sfn_buf_t *b, const char *s);
void sfn_buf_addc(sfn_buf_t *b, char c);
void sfn_buf_printf(sfn_buf_t *b, const char *fmt, ...);
void sfn_buf_json_string(sfn_buf_t *b, const char *s, size_t len);
void sfn_buf_number(sfn_buf_t *b, double d);
void sfn_buf_json(sfn_buf_t *b, const cJSON *v);
void sfn_buf_value(sfn_buf_t *b, const cJSON *v);
void sfn_buf_reserve(sfn_buf_t *b, size_t n);
char *sfn_buf_detach(sfn_buf_t *b);   /* NUL-terminated, caller frees */
void sfn_buf_free(sfn_buf_t *b);


/* a runtime failure: both strings malloc'd (or NULL) */
typedef struct {
    char                 *error;
    char                 *cause;
} sfn_err_t;


void sfn_err_set(sfn_err_t *err, const char *error, const char *fmt, ...);
void sfn_err_move(sfn_err_t *dst, sfn_err_t *src);
void sfn_err_clear(sfn_err_t *err);


char *sfn_strdup(const char *s);
char *sfn_strndup(const char *s, size_t len);
char *sfn_json_print_sized(const cJSON *v, size_t size);
size_t sfn_json_size(const cJSON *v);
size_t sfn_json_size_max(const cJSON *v, size_t ref);
int sfn_json_equal(const cJSON *a, const cJSON *b);
void sfn_json_tostring(sfn_buf_t *b, const cJSON *v);
int sfn_json_is_int(const cJSON *v, int64_t *out);
int sfn_json_text_int(const cJSON *v, int64_t *out);
int sfn_json_text_double(const cJSON *v, double *out);
const char *sfn_json_type_name(const cJSON *v);
const char *sfn_json_str(const cJSON *o, const char *name);

size_t sfn_decimal_format(double d, char *buf);
size_t sfn_json_parse_nodes(const char *text, size_t len, size_t *strings);
cJSON *sfn_json_parse_block(const char *text, size_t len, cJSON *nodes,
    size_t nnodes, char *bytes, size_t nbytes);
cJSON *sfn_json_pnode(sfn_pool_t *pool, int type);
cJSON *sfn_json_pnumber(sfn_pool_t *pool, double d);
cJSON *sfn_json_pstring(sfn_pool_t *pool, const char *s, size_t len);
int sfn_json_padd(sfn_pool_t *pool, cJSON *parent, const char *key,
    size_t len, cJSON *c);
cJSON *sfn_json_pdup(sfn_pool_t *pool, const cJSON *v);

/* payloads shared with history events: sfn_payload.c */
sfn_payload_t *sfn_payload_parse(const char *text, size_t len);
sfn_payload_t *sfn_payload_share(cJSON *v, sfn_payload_t **p);
void sfn_payload_drop(cJSON *v, sfn_payload_t **p);
cJSON *sfn_payload_take(cJSON *v, sfn_payload_t **p);
sfn_payload_t *sfn_payload_new(void);
sfn_pool_t *sfn_payload_pool(sfn_payload_t *p);
void sfn_payload_set(sfn_payload_t *p, cJSON *json);
int sfn_payload_lend(sfn_payload_t *p, sfn_payload_t *from, int own,
    int held);
size_t sfn_payload_bound(sfn_payload_t *p);

/* RFC 3339 timestamps; ns since the epoch */
int sfn_time_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec);
void sfn_time_format(int64_t ms, char *buf);   /* buf >= 64 bytes */

size_t sfn_base64_encode(const unsigned char *src, size_t len, char *dst);
int sfn_base64_decode(const char *src, size_t len, unsigned char *dst,
    size_t *out);
void sfn_uuid_format(const unsigned char r[16], char *buf);  /* 37 bytes */
size_t sfn_utf8_count(const char *s, size_t len);   /* code points */

int sfn_hash_hex(const char *alg, const unsigned char *data, size_t len,
    char *hex);


/* JSONPath */

typedef struct sfn_path_s  sfn_path_t;

sfn_path_t *sfn_path_compile(sfn_pool_t *pool, const char *text, size_t len,
    char *errbuf, size_t errlen);
int sfn_path_definite(const sfn_path_t *p);
int sfn_path_context(const sfn_path_t *p);
int sfn_path_is_root(const sfn_path_t *p);
const char *sfn_path_var(const sfn_path_t *p);   /* "$name...": name */
const char *sfn_path_text(const sfn_path_t *p);
void sfn_path_normalized(const sfn_path_t *p, sfn_buf_t *b);


typedef struct sfn_env_s  sfn_env_t;

struct sfn_env_s {
    const cJSON          *input;
    cJSON                *ctx;
    void                (*build_ctx)(sfn_env_t *env);
    /* the value of the variable $name, or NULL */
    const cJSON        *(*var)(sfn_env_t *env, const char *name, size_t len);
    void                 *data;
    void                (*random)(void *data, void *buf, size_t len);
    void                 *rdata;
};


/*
 * Evaluates p.  Returns 0 and *out (borrowed from the document, or a new
 * tree when *owned) or -1 when nothing matches a definite path.
 */
int sfn_path_eval(const sfn_path_t *p, sfn_env_t *env, cJSON **out,
    int *owned);

/*
 * ResultPath: puts value (owned) into *root (owned) at p.  Returns -1 on a
 * match failure with everything still owned by the caller.
 */
int sfn_path_set(const sfn_path_t *p, cJSON **root, cJSON *value);


/* intrinsic functions */

typedef struct sfn_fn_s  sfn_fn_t;

sfn_fn_t *sfn_fn_compile(sfn_pool_t *pool, const char *text, size_t len,
    char *errbuf, size_t errlen);
cJSON *sfn_fn_eval(const sfn_fn_t *fn, sfn_env_t *env, sfn_err_t *err);


/* a "X.$" value: a path or an intrinsic function */

typedef struct {
    const char           *text;
    sfn_path_t           *path;
    sfn_fn_t             *fn;
} sfn_expr_t;

int sfn_expr_compile(sfn_pool_t *pool, sfn_expr_t *x, const char *text,
    char *errbuf, size_t errlen);
int sfn_expr_eval(const sfn_expr_t *x, sfn_env_t *env, const char *field,
    cJSON **out, int *owned, sfn_err_t *err);


/* payload templates: Parameters, ResultSelector, ItemSelector */

typedef struct sfn_tmpl_s  sfn_tmpl_t;

sfn_tmpl_t *sfn_tmpl_compile(sfn_pool_t *pool, const cJSON *v,
    char *errbuf, size_t errlen);
cJSON *sfn_tmpl_eval(const sfn_tmpl_t *t, sfn_env_t *env, sfn_err_t *err);


/* JSONata in states: values with "{% expression %}" strings */

typedef struct sfn_qtmpl_s  sfn_qtmpl_t;

/*
 * Compiles v, a state field's value, into m's pool; field names it in
 * errors ("Output", "Arguments/key").  Returns NULL and fills errbuf on
 * a JSONata syntax error.
 */
sfn_qtmpl_t *sfn_qtmpl_compile(sfn_machine_t *m, const cJSON *v,
    const char *field, char *errbuf, size_t errlen);
int sfn_qtmpl_is_expr(const sfn_qtmpl_t *t);
const cJSON *sfn_qtmpl_literal(const sfn_qtmpl_t *t);
/* 1 when s is "{% ... %}": *expr and *len are the expression inside */
int sfn_query_text(const char *s, const char **expr, size_t *len);


/* the compiled machine */

typedef enum {
    SFN_ST_PASS = 0,
    SFN_ST_TASK,
    SFN_ST_CHOICE,
    SFN_ST_WAIT,
    SFN_ST_SUCCEED,
    SFN_ST_FAIL,
    SFN_ST_PARALLEL,
    SFN_ST_MAP
} sfn_state_type_e;


typedef struct sfn_state_s  sfn_state_t;
typedef struct sfn_graph_s  sfn_graph_t;
typedef struct sfn_rule_s   sfn_rule_t;


typedef enum {
    SFN_OP_AND = 1,
    SFN_OP_OR,
    SFN_OP_NOT,
    SFN_OP_STRING_EQ,
    SFN_OP_STRING_LT,
    SFN_OP_STRING_GT,
    SFN_OP_STRING_LE,
    SFN_OP_STRING_GE,
    SFN_OP_STRING_MATCHES,
    SFN_OP_NUMERIC_EQ,
    SFN_OP_NUMERIC_LT,
    SFN_OP_NUMERIC_GT,
    SFN_OP_NUMERIC_LE,
    SFN_OP_NUMERIC_GE,
    SFN_OP_BOOLEAN_EQ,
    SFN_OP_TIMESTAMP_EQ,
    SFN_OP_TIMESTAMP_LT,
    SFN_OP_TIMESTAMP_GT,
    SFN_OP_TIMESTAMP_LE,
    SFN_OP_TIMESTAMP_GE,
    SFN_OP_IS_NULL,
    SFN_OP_IS_PRESENT,
    SFN_OP_IS_NUMERIC,
    SFN_OP_IS_STRING,
    SFN_OP_IS_BOOLEAN,
    SFN_OP_IS_TIMESTAMP
} sfn_op_e;


struct sfn_rule_s {
    sfn_op_e              op;
    unsigned              is_path:1;
    sfn_path_t           *var;
    sfn_path_t           *vpath;
    const cJSON          *value;
    double                num;
    const char           *str;
    int64_t               ts_sec;
    int32_t               ts_nsec;
    int                   boolean;
    sfn_rule_t          **sub;
    size_t                nsub;
    sfn_state_t          *next;
    const char           *next_name;

    sfn_qtmpl_t          *condition;    /* JSONata */
    sfn_qtmpl_t          *output;
    sfn_qtmpl_t          *qassign;
    sfn_tmpl_t           *assign;       /* JSONPath */
};


typedef struct {
    const char          **errors;
    size_t                nerrors;
    double                interval;
    unsigned              max_attempts;
    double                backoff;
    double                max_delay;      /* 0: none */
    unsigned              jitter_full:1;
} sfn_retrier_t;


typedef struct {
    const char          **errors;
    size_t                nerrors;
    sfn_state_t          *next;
    const char           *next_name;
    sfn_path_t           *result_path;
    unsigned              result_path_null:1;
    sfn_qtmpl_t          *output;       /* JSONata */
    sfn_qtmpl_t          *qassign;
    sfn_tmpl_t           *assign;       /* JSONPath */
} sfn_catcher_t;


struct sfn_graph_s {
    sfn_state_t          *start;
    sfn_state_t         **states;
    size_t                nstates;
};


struct sfn_state_s {
    const char           *name;
    sfn_state_type_e      type;
    const char           *type_name;    /* "Pass", ... */
    sfn_state_t          *next;
    const char           *next_name;
    unsigned              end:1;
    unsigned              jsonata:1;    /* QueryLanguage JSONata */

    sfn_tmpl_t           *assign;       /* JSONPath Assign */
    sfn_qtmpl_t          *qassign;      /* JSONata: Assign, Output, ... */
    sfn_qtmpl_t          *output;
    sfn_qtmpl_t          *arguments;
    sfn_qtmpl_t          *items;
    sfn_qtmpl_t          *q_timeout;
    sfn_qtmpl_t          *q_heartbeat;
    sfn_qtmpl_t          *q_wait;       /* Seconds or Timestamp */
    sfn_qtmpl_t          *q_error;
    sfn_qtmpl_t          *q_cause;
    sfn_qtmpl_t          *q_max_concurrency;
    sfn_qtmpl_t          *q_tolerated_count;
    sfn_qtmpl_t          *q_tolerated_pct;
    sfn_qtmpl_t          *q_item_selector;

    sfn_path_t           *input_path;   /* NULL: "$" */
    sfn_path_t           *output_path;
    sfn_path_t           *result_path;
    unsigned              input_path_null:1;
    unsigned              output_path_null:1;
    unsigned              result_path_null:1;
    unsigned              uses_context:1;

    sfn_tmpl_t           *parameters;
    sfn_tmpl_t           *result_selector;
    const cJSON          *result;       /* Pass */

    sfn_retrier_t        *retriers;
    size_t                nretriers;
    sfn_catcher_t        *catchers;
    size_t                ncatchers;

    /* Task */
    const char           *resource;
    const char           *resource_type;  /* its history names: "dynamodb" */
    const char           *resource_name;  /* and "putItem" */
    int64_t               timeout_ms;
    int64_t               heartbeat_ms;
    sfn_path_t           *timeout_path;
    sfn_path_t           *heartbeat_path;
    unsigned              wait_token:1;
    unsigned              sync:1;
    unsigned              activity:1;   /* an activity's ARN */

    /* Choice */
    sfn_rule_t          **choices;
    size_t                nchoices;
    sfn_state_t          *deflt;
    const char           *deflt_name;

    /* Wait */
    int                   wait_kind;    /* 1 Seconds 2 Timestamp 3 SP 4 TP */
    int64_t               wait_seconds;
    int64_t               wait_ts_ms;
    sfn_path_t           *wait_path;

    /* Fail */
    const char           *error;
    const char           *cause;
    sfn_expr_t           *error_path;
    sfn_expr_t           *cause_path;

    /* Parallel */
    sfn_graph_t         **branches;
    size_t                nbranches;

    /* Map */
    sfn_graph_t          *iterator;
    sfn_path_t           *items_path;
    sfn_tmpl_t           *item_selector;
    int64_t               max_concurrency;
    sfn_path_t           *max_concurrency_path;
    int64_t               tolerated_count;       /* -1: unset */
    double                tolerated_pct;         /* -1: unset */
    sfn_path_t           *tolerated_count_path;
    sfn_path_t           *tolerated_pct_path;
    unsigned              distributed:1;
    unsigned              batching:1;
    int64_t               batch_max_items;
    sfn_path_t           *batch_max_items_path;
    int64_t               batch_max_bytes;
    sfn_path_t           *batch_max_bytes_path;
    sfn_tmpl_t           *batch_input;
    sfn_qtmpl_t          *q_batch_input;         /* JSONata */
    sfn_qtmpl_t          *q_batch_max_items;
    sfn_qtmpl_t          *q_batch_max_bytes;

    /* distributed Map (sfn_maprun.c) */
    const char           *label;
    const char           *processor;    /* the child definition's text */
    unsigned              express:1;    /* ProcessorConfig.ExecutionType */
    const char           *reader_resource;  /* "sfn:file:read"... */
    sfn_tmpl_t           *reader_params;
    sfn_qtmpl_t          *q_reader_args;
    const cJSON          *reader_config;
    sfn_path_t           *reader_max_items_path;
    const char           *writer_resource;
    sfn_tmpl_t           *writer_params;
    sfn_qtmpl_t          *q_writer_args;
    const cJSON          *writer_config;
};


struct sfn_machine_s {
    sfn_pool_t            pool;
    cJSON                *root;
    sfn_graph_t          *main;
    int64_t               timeout_ms;
    const char          **resources;
    size_t                nresources;
    void                **progs;        /* JSONata programs, to free */
    size_t                nprogs;
    size_t                progs_cap;
    unsigned              jsonata:1;    /* the top-level QueryLanguage */
    unsigned              uses_sync:1;
    unsigned              uses_token:1;
    unsigned              uses_activity:1;
};


const sfn_state_t *sfn_graph_state(const sfn_graph_t *g, const char *name);

sfn_op_e sfn_rule_op(const char *name, int *is_path, int *kind);
int sfn_rule_eval(const sfn_rule_t *r, sfn_env_t *env, sfn_err_t *err);


#endif /* _SFN_CORE_H_INCLUDED_ */

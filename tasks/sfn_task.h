
/*
 * Copyright (C) ngx_sfn authors
 *
 * Built-in task implementations behind one interface.
 *
 * A task handler is a blocking function that runs on a thread (an nginx
 * thread pool in the module, the main thread in the sfn tool).  It must be
 * thread safe, touch only its call and what the environment gives it, and
 * return promptly once *env->cancel becomes non-zero.  No nginx headers here.
 */

#ifndef _SFN_TASK_H_INCLUDED_
#define _SFN_TASK_H_INCLUDED_


#include <stddef.h>
#include <cjson/cJSON.h>


#define SFN_TASK_OK      0
#define SFN_TASK_FAILED -1
#define SFN_TASK_AGAIN   1      /* not done: run again after call->again ms */


/*
 * An sfn_integration: the AWS resources whose ARN matches pattern ('*'
 * any run of characters, '?' one, as in IAM policies) go to url.
 */

typedef struct {
    const char           *pattern;
    const char           *url;
    long                  timeout;      /* ms, one request */
    long                  poll;         /* ms between polls of a .sync job */
} sfn_service_rule_t;


typedef struct {
    const sfn_service_rule_t  *rules;   /* in the configuration's order */
    size_t                     nrules;
    const char                *region;  /* for ARNs made from names */
    const char                *account;
} sfn_service_map_t;


typedef struct {
    void                 *data;

    /* the directory of a bucket, NULL if the bucket is unknown */
    const char         *(*bucket_path)(void *data, const char *bucket);

    /* non-zero: stop as soon as possible and fail with States.Timeout */
    volatile int         *cancel;

    /* optional progress report, percent 0..100 */
    void                (*progress)(void *data, double percent, double fps);

    /* libpq conninfo for database tasks, NULL when there is no database */
    const char           *db_conninfo;

    /* the execution the task runs for (ARN), may be NULL */
    const char           *execution;

    /* where AWS resources go (sfn_integration), may be NULL */
    const sfn_service_map_t  *services;
} sfn_task_env_t;


typedef struct {
    const char           *resource;     /* as written, suffixes included */
    const cJSON          *input;        /* effective input; borrowed */
    const char           *token;        /* task token or NULL */
    const sfn_task_env_t *env;

    cJSON                *output;       /* on SFN_TASK_OK; caller frees */
    char                  error[128];   /* on SFN_TASK_FAILED */
    char                  cause[2048];

    /*
     * SFN_TASK_AGAIN: a job started and polled (.sync); the task keeps
     * what it needs in state between runs, and is run again after again
     * ms with no thread held meanwhile.  The caller frees state with
     * sfn_task_call_free() if it gives up before the end.
     */
    cJSON                *state;
    long                  again;
} sfn_task_call_t;


typedef int (*sfn_task_handler_pt)(sfn_task_call_t *call);


typedef struct {
    const char           *name;         /* "sfn:media:probe" */
    sfn_task_handler_pt   handler;
} sfn_task_def_t;


/* once per process, before any task runs; 0 on success */
int sfn_task_global_init(void);

/*
 * Finds the task for a Resource: the name as is, or with a ".sync" or
 * ".waitForTaskToken" suffix stripped, or the AWS name mapped onto ours
 * ("arn:aws:states:::mediaconvert:createJob.sync", ...).  NULL if none.
 */
const sfn_task_def_t *sfn_task_find(const char *resource);

/* non-zero when the resource asks for a callback with a task token */
int sfn_task_wants_token(const char *resource);

/*
 * The service integrations (sfn_task_service.c).  A pattern is checked
 * once, at configuration: NULL when it names resources an integration can
 * serve, else why not.  sfn_service_known() is non-zero when a Resource
 * runs as a built-in task or through the map (a definition's check).
 */
const char *sfn_service_pattern_check(const char *pattern);
int sfn_service_known(const sfn_service_map_t *map, const char *resource);

/*
 * The rule for a target ARN ("arn:aws:lambda:R:A:function:F"), or for
 * the integration ARN itself when no rule names the target; NULL if none.
 */
const sfn_service_rule_t *sfn_service_match(const sfn_service_map_t *map,
    const char *target, const char *integration);

/* frees what a call keeps between runs (state) */
void sfn_task_call_free(sfn_task_call_t *call);

/*
 * Runs call->resource; on failure fills error ("States.TaskFailed" unless
 * the task names its own) and cause.  Never returns with both output and
 * an error set.  SFN_TASK_AGAIN only through env->services (.sync jobs).
 */
int sfn_task_run(sfn_task_call_t *call);

/*
 * The connections of database tasks, shared by the threads of a process:
 * at most max open (max <= 0 keeps 4), idle ones kept for the next task.
 * *gauge, when not NULL, follows the number open (it may live in shared
 * memory).  Calling it is optional; call it before tasks run.
 */
void sfn_task_db_pool_init(int max, volatile unsigned long *gauge);

/* closes the idle connections; those in use close when they are released */
void sfn_task_db_pool_close(void);

/* helpers for task implementations */
int sfn_task_fail(sfn_task_call_t *call, const char *error,
    const char *fmt, ...);
const char *sfn_task_string(const cJSON *obj, const char *name);

/*
 * An optional string member into *s: NULL when absent or null.  Fails the
 * call (SFN_TASK_FAILED) when the member has another type.
 */
int sfn_task_opt_string(sfn_task_call_t *call, const cJSON *obj,
    const char *name, const char **s);

#define SFN_KEY_MAX      1024
#define SFN_SEGMENT_MAX  255

/*
 * The one check of an object key, for uploads, the origin and every task:
 * non-zero when the len bytes at key (no NUL terminator needed) are a key
 * a client may name.  A key is 1..SFN_KEY_MAX bytes of valid UTF-8 made of
 * '/'-separated segments of 1..SFN_SEGMENT_MAX bytes; it is relative, has
 * no empty, "." or ".." segment, no NUL, control character (below 0x20 or
 * 0x7f) or backslash, and no segment starting with ".sfn-": those names
 * (.sfn-published/, .sfn-upload/, .sfn-tmp-*, .sfn-job-*) are ngx_sfn's own.
 */
int sfn_key_valid(const char *key, size_t len);

/* non-zero when the len bytes at s are UTF-8 with no control character */
int sfn_task_text_valid(const char *s, size_t len);

/*
 * s (len bytes) for a message into buf: bytes other than printable UTF-8
 * as \xNN, at most 256 bytes of s, "..." when cut.  Always terminated.
 */
void sfn_task_quote(char *buf, size_t size, const char *s, size_t len);

/*
 * Resolves bucket/key to a path inside the bucket into buf; fails the call
 * (and returns NULL) for an unknown bucket or a key sfn_key_valid() refuses.
 */
char *sfn_task_bucket_path(sfn_task_call_t *call, const char *bucket,
    const char *key, char *buf, size_t size);

/*
 * The directory of a bucket, for a task that writes names of its own
 * (.sfn-published/...); fails the call and returns NULL if it is unknown.
 */
const char *sfn_task_bucket_root(sfn_task_call_t *call, const char *bucket);


/* tables of the task families, each ending in { NULL, NULL } */
extern const sfn_task_def_t  sfn_task_media_defs[];
extern const sfn_task_def_t  sfn_task_file_defs[];
extern const sfn_task_def_t  sfn_task_db_defs[];
extern const sfn_task_def_t  sfn_task_http_defs[];
extern const sfn_task_def_t  sfn_task_origin_defs[];
extern const sfn_task_def_t  sfn_task_image_defs[];


#endif /* _SFN_TASK_H_INCLUDED_ */

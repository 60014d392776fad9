
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
} sfn_task_env_t;


typedef struct {
    const char           *resource;     /* as written, suffixes included */
    const cJSON          *input;        /* effective input; borrowed */
    const char           *token;        /* task token or NULL */
    const sfn_task_env_t *env;

    cJSON                *output;       /* on SFN_TASK_OK; caller frees */
    char                  error[128];   /* on SFN_TASK_FAILED */
    char                  cause[2048];
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
 * Runs call->resource; on failure fills error ("States.TaskFailed" unless
 * the task names its own) and cause.  Never returns with both output and
 * an error set.
 */
int sfn_task_run(sfn_task_call_t *call);

/* helpers for task implementations */
int sfn_task_fail(sfn_task_call_t *call, const char *error,
    const char *fmt, ...);
const char *sfn_task_string(const cJSON *obj, const char *name);

/*
 * Resolves bucket/key to a path inside the bucket into buf; fails the call
 * (and returns NULL) for an unknown bucket or a key that would escape it.
 */
char *sfn_task_bucket_path(sfn_task_call_t *call, const char *bucket,
    const char *key, char *buf, size_t size);


/* tables of the task families, each ending in { NULL, NULL } */
extern const sfn_task_def_t  sfn_task_media_defs[];
extern const sfn_task_def_t  sfn_task_file_defs[];
extern const sfn_task_def_t  sfn_task_db_defs[];
extern const sfn_task_def_t  sfn_task_http_defs[];
extern const sfn_task_def_t  sfn_task_origin_defs[];


#endif /* _SFN_TASK_H_INCLUDED_ */

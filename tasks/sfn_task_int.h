
/*
 * Copyright (C) ngx_sfn authors
 *
 * Helpers shared by the non-media built-in tasks (files, rows, HTTP,
 * origin).  Private to tasks/; no nginx headers.
 */

#ifndef _SFN_TASK_INT_H_INCLUDED_
#define _SFN_TASK_INT_H_INCLUDED_


#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "sfn_task.h"


#define SFN_TASK_PATH_MAX  4096


/* one HTTP exchange (sfn_task_http.c) */

#define SFN_HTTP_REPLY       0      /* a reply, of any status */
#define SFN_HTTP_TRANSPORT   1      /* no reply: DNS, connect, timeout, ... */
#define SFN_HTTP_CANCELLED   2

#define SFN_HTTP_MAX_REPLY   (6 * 1024 * 1024)

#define SFN_HTTP_LAMBDA      0x01   /* Lambda's error names */
#define SFN_HTTP_WRAP        0x02   /* lambda:invoke's result shape */
#define SFN_HTTP_RULE        0x04   /* the endpoint of an sfn_integration */


typedef struct {
    const sfn_task_call_t  *call;
    char                   *body;       /* malloc()ed, NUL-terminated */
    size_t                  len;
    size_t                  size;
    int                     overflow;
    long                    status;
    CURLcode                rc;
    char                    err[CURL_ERROR_SIZE];
    char                    location[2048];     /* the Location header */
} sfn_http_res_t;


/*
 * One request: POST when body is not NULL, GET otherwise, no redirect
 * followed, the reply bounded by SFN_HTTP_MAX_REPLY; res->body is the
 * caller's to free.  Returns SFN_HTTP_*.
 */
int sfn_task_http_request(const sfn_task_call_t *call, const char *url,
    const char *body, struct curl_slist *headers, long timeout_ms,
    sfn_http_res_t *res);

/* the headers every request carries: JSON, the execution, the token */
struct curl_slist *sfn_task_http_headers(const sfn_task_call_t *call,
    struct curl_slist *h);

/* the first bytes of a reply body, for a cause */
const char *sfn_task_http_excerpt(sfn_http_res_t *res);

/*
 * Invokes a function at url as Lambda does: the input's "Payload" (or
 * the input less our own parameters) is POSTed, with X-Sfn-Resource: arn
 * when arn is not NULL; the JSON reply is the result, wrapped as
 * lambda:invoke's with SFN_HTTP_WRAP.
 */
int sfn_task_http_lambda(sfn_task_call_t *call, const char *url,
    const char *arn, long timeout_ms, int flags);

/*
 * The service integrations: the Resources that are not a built-in task,
 * and those of a built-in task that a rule sends elsewhere (a DynamoDB
 * table other than the jobs table), for which mapped is non-zero.
 */
int sfn_task_service(sfn_task_call_t *call);
int sfn_task_service_mapped(const sfn_task_call_t *call);

/*
 * The sfn_integration rule for the resource that parameter selector names
 * in a call of the integration call->resource (FunctionName, TopicArn,
 * ...): its ARN is made into arn (from a name, with the map's region and
 * account).  NULL, with the call failed and a cause, when there is none.
 */
const sfn_service_rule_t *sfn_task_service_rule(sfn_task_call_t *call,
    const char *selector, const char *value, char *arn, size_t size);


/* non-zero once the call was asked to stop (StopExecution, timeouts) */
int sfn_task_cancelled(const sfn_task_call_t *call);

/* "2026-11-21T10:00:00.123Z" for t (seconds) and ms into buf (>= 32) */
char *sfn_task_iso8601(char *buf, size_t size, time_t t, long ms);

/* the current time as above */
char *sfn_task_now(char *buf, size_t size);

/* a random version 4 UUID into buf (>= 37 bytes) */
char *sfn_task_uuid(char *buf, size_t size);

/* creates the directories above path (not path itself); 0 or -1, errno */
int sfn_task_mkdirs(const char *path);

/* fsync()s the directory that holds path; 0 or -1, errno */
int sfn_task_fsync_dir(const char *path);

/*
 * Writes len bytes to path atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  Creates the
 * directories above path.  Fails the call with a cause on error.
 */
int sfn_task_write_atomic(sfn_task_call_t *call, const char *path,
    const char *data, size_t len);

/*
 * The row of the jobs table: sets status (unless NULL) and merges the
 * top-level members of attrs (unless NULL) into attributes, creating the
 * row when there is none.  On success *bucket and *key (when not NULL)
 * receive malloc()ed copies of the row's source bucket and key (or NULL).
 * Fails the call when there is no database.
 */
int sfn_task_db_job_set(sfn_task_call_t *call, const char *job_id,
    const char *status, const cJSON *attrs, char **bucket, char **key);

/*
 * The origin's markers in a bucket's root (sfn_task_origin.c): preview
 * writes .sfn-published/<jobId>.preview naming the execution whose
 * transcode shows the job before QC; withdraw removes it (and with
 * published, the publish manifest too).  0 or -1 with errno for withdraw.
 */
int sfn_task_origin_preview(sfn_task_call_t *call, const char *root,
    const char *job_id, const char *execution);
int sfn_task_origin_withdraw(const char *root, const char *job_id,
    int published);

#endif /* _SFN_TASK_INT_H_INCLUDED_ */

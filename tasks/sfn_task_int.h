
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

#include "sfn_task.h"


#define SFN_TASK_PATH_MAX  4096


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

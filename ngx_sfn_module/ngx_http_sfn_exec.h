
/*
 * Copyright (C) ngx_sfn authors
 *
 * What the executor's files share: a run (an execution stepped by this
 * worker), its timers and its tasks, and the worker's list of runs.
 * Internal to ngx_http_sfn_exec.c, _task.c, _lease.c and _mail.c.
 */


#ifndef _NGX_HTTP_SFN_EXEC_H_INCLUDED_
#define _NGX_HTTP_SFN_EXEC_H_INCLUDED_


#include "ngx_http_sfn_module.h"
#include <sfn_task.h>


typedef struct ngx_http_sfn_run_s  ngx_http_sfn_run_t;


/* where a redriven execution goes on from (sfn_exec_redrive()) */
typedef struct {
    ngx_str_t                    state;     /* NUL-terminated */
    ngx_str_t                    input;     /* that state's, JSON text */
    int64_t                      event_id;  /* the last one kept */
    ngx_int_t                    count;     /* redrives, this one too */
    ngx_str_t                    map_run;   /* redriven with it, or none */
    ngx_int_t                    map_run_count;
} ngx_http_sfn_redrive_t;


/* a string of an event's details kept once per execution (sql/005) */
typedef struct {
    ngx_rbtree_node_t            node;      /* key: the hash's first bytes */
    u_char                       hash[20];  /* SHA-1 */
} ngx_http_sfn_payload_t;


typedef struct {
    ngx_rbtree_node_t            node;      /* key: the engine's id */
    ngx_event_t                  ev;
    ngx_queue_t                  queue;
    ngx_http_sfn_run_t          *run;
} ngx_http_sfn_timer_t;


typedef struct {
    ngx_queue_t                  queue;
    uint64_t                     id;
    ngx_http_sfn_run_t          *run;
    ngx_thread_task_t           *task;
    ngx_event_t                  repost;
    sfn_task_call_t              call;
    sfn_task_env_t               env;
    ngx_str_t                    token;
    int64_t                      started;
    volatile int                 cancel;
    volatile double              percent;   /* written by the thread */
    volatile double              fps;
    double                       shown;
    int                          rc;
    unsigned                     abandoned:1;
    unsigned                     in_thread:1;
    unsigned                     waiting:1;     /* for a callback */
    unsigned                     deferred:1;    /* until the step commits */
    unsigned                     activity:1;    /* queued for its workers */
    unsigned                     taken:1;       /* by one of its workers */
} ngx_http_sfn_task_ctx_t;


/*
 * What reached a Standard run while its last step was being committed:
 * a timer or a task's completion (the event, fired again later) or mail
 * (a copy).  Applied one at a time once the step is recorded.
 */

typedef struct {
    ngx_queue_t                  queue;
    ngx_event_t                 *ev;        /* NULL: mail */
    ngx_http_sfn_msg_t           msg;
} ngx_http_sfn_held_t;


struct ngx_http_sfn_run_s {
    ngx_queue_t                  queue;
    sfn_exec_t                  *exec;
    ngx_pool_t                  *pool;
    ngx_log_t                   *log;
    ngx_http_sfn_main_conf_t    *smcf;
    ngx_http_sfn_machine_t      *sm;
    ngx_str_t                    name;
    ngx_str_t                    arn;
    ngx_str_t                    job;
    ngx_rbtree_t                 timer_tree;
    ngx_rbtree_node_t            timer_sentinel;
    ngx_rbtree_t                 payloads;  /* queued by this run */
    ngx_rbtree_node_t            payload_sentinel;
    ngx_queue_t                  timers;
    ngx_queue_t                  free_timers;
    ngx_queue_t                  tasks;
    ngx_queue_t                  held;      /* until the step commits */
    ngx_queue_t                  free_held;
    ngx_event_t                  resume;    /* applies what was held */
    ngx_event_t                  recommit;
    ngx_uint_t                   in_thread;
    ngx_uint_t                   commits;   /* awaiting their handler */
    u_char                      *events;    /* this step's, as JSON */
    size_t                       events_len;
    size_t                       events_size;
    ngx_uint_t                   events_n;      /* in events */
    const char                  *state;
    int64_t                      start_ms;
    ngx_http_sfn_finish_pt       on_finish;
    void                        *on_finish_data;
    unsigned                     finished:1;
    unsigned                     durable:1;
    unsigned                     lost:1;    /* another owner took it */
    unsigned                     ephemeral:1; /* no record: a sync start */
    unsigned                     inserted:1;  /* its row is queued */
    unsigned                     inserted_final:1;
    unsigned                     mail_waits:1;  /* in PostgreSQL, unread */
    ngx_str_t                    input;       /* until the row is written */
    ngx_str_t                    trace;
    ngx_str_t                    alias;       /* the alias that chose sm */
    ngx_str_t                    map_run;     /* a child's, until its row */
    ngx_str_t                    redrive_map_run; /* the next map run is */
    ngx_int_t                    redrive_map_count; /* that one, redriven */
    const sfn_mock_case_t       *mock;        /* its test case, or NULL */
    ngx_str_t                    bucket;
    ngx_str_t                    key;
};


extern ngx_queue_t                ngx_http_sfn_runs;
extern ngx_http_sfn_main_conf_t  *ngx_http_sfn_smcf;
extern u_char                     ngx_http_sfn_owner[];
extern ngx_uint_t                 ngx_http_sfn_durable; /* runs, leased */
extern ngx_http_sfn_run_t        *ngx_http_sfn_resuming;


/* ngx_http_sfn_exec.c: the run lifecycle */
ngx_http_sfn_run_t *ngx_http_sfn_run_create(ngx_http_sfn_main_conf_t *smcf,
    ngx_http_sfn_machine_t *sm, ngx_str_t *name, ngx_str_t *input,
    ngx_str_t *job, int64_t start_ms, const char *snapshot,
    ngx_http_sfn_redrive_t *redrive, const sfn_mock_case_t *mock,
    ngx_log_t *log);
ngx_http_sfn_run_t *ngx_http_sfn_run_find(ngx_str_t *arn);
void ngx_http_sfn_run_after(ngx_http_sfn_run_t *run);
void ngx_http_sfn_run_free(ngx_http_sfn_run_t *run);
ngx_int_t ngx_http_sfn_run_hold(ngx_http_sfn_run_t *run, ngx_event_t *ev,
    ngx_http_sfn_msg_t *msg);

/* a Standard run takes nothing new while its last step is not recorded */
#define ngx_http_sfn_run_paced(run)                                          \
    ((run)->durable && (run) != ngx_http_sfn_resuming                        \
     && ((run)->commits || !ngx_queue_empty(&(run)->held)))

/* ngx_http_sfn_task.c: tasks on the thread pool */
int ngx_http_sfn_host_run_task(void *data, sfn_exec_t *e,
    const sfn_task_req_t *t);
void ngx_http_sfn_host_cancel_task(void *data, sfn_exec_t *e, uint64_t id);
ngx_http_sfn_task_ctx_t *ngx_http_sfn_task_find(ngx_http_sfn_run_t *run,
    uint64_t id);
void ngx_http_sfn_task_forget(ngx_http_sfn_task_ctx_t *ctx);
void ngx_http_sfn_task_post_deferred(ngx_http_sfn_run_t *run);
void ngx_http_sfn_task_cancel_all(ngx_http_sfn_run_t *run);
void ngx_http_sfn_progress_clear(ngx_http_sfn_run_t *run);
void ngx_http_sfn_progress_publish(void);

/* ngx_http_sfn_aws_activity.c: an activity's task queued for its workers */
int ngx_http_sfn_activity_schedule(ngx_http_sfn_task_ctx_t *ctx);
void ngx_http_sfn_activity_forget(ngx_http_sfn_task_ctx_t *ctx);

/* ngx_http_sfn_lease.c: leases and recovery of Standard executions */
void ngx_http_sfn_lease_init(ngx_cycle_t *cycle);
void ngx_http_sfn_release_leases(ngx_cycle_t *cycle);
ngx_http_sfn_run_t *ngx_http_sfn_recover(ngx_http_sfn_main_conf_t *smcf,
    void *res, int row, ngx_http_sfn_machine_t *sm,
    ngx_http_sfn_finish_pt handler, void *data);

/* ngx_http_sfn_mail.c: stops and callbacks delivered to the owner */
void ngx_http_sfn_mail_init(ngx_cycle_t *cycle);
void ngx_http_sfn_mail_poll(void);
void ngx_http_sfn_msg_apply(ngx_http_sfn_run_t *run, ngx_http_sfn_msg_t *msg);


#endif /* _NGX_HTTP_SFN_EXEC_H_INCLUDED_ */
